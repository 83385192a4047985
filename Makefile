# sidecore — top-level build.
#
#   make            build everything into build/
#   make test       install missing packages, build, run every test under prove
#   make man        the manuals from docs/man/*.scd into build/man/ (scdoc)
#   make test-asan  the same tests built with AddressSanitizer + UBSan (build-asan/)
#   make test-tsan  the same tests built with ThreadSanitizer (build-tsan/)
#   make bench      micro-benchmarks (not tests): figures for docs/benchmarks.md,
#                   and PNG plots of them next to their JSON in $(BUILD)/
#   make rig-test   the real Xen rig under QEMU (tests/rig/; slow: minutes per boot)
#   make rig-smoke  its CI scenarios (blk-basic, net-basic); make rig-bench: vs xen-blkback
#   make CC=clang   the same with clang
#   make install    sidecored, sidecorectl, unit, hotplug scripts, config, docs
#                   (PREFIX=/usr/local, DESTDIR; docs/operations.md); make uninstall
#   make deb        the Debian package: $(BUILD)/deb/sidecore_<version>_amd64.deb
#   make deb-test   installs it in a Debian 12 chroot and removes it (root; slow)
#
# Sources are found by directory, so adding a file needs no edit here:
#   tools/xensim/daemon/*.c  -> xensimd        tools/xensim/lib/*.c -> libxensim.a
#   backend/*.c (not main.c) -> libbackend.a   tests/tools/*.c      -> libtesttools.a
#   blkback/*.c              -> libblkback.a     netback/*.c -> libnetback.a
#   tools/simfront/*.c except sim*.c -> libsimfront.a (simulated frontends)
#   tools/ctl/*.c            -> libctl.a (sidecorectl's parts)
#   tools/bench/lib/*.c      -> libbench.a (what the bench programs share)
#   programs: backend/main.c -> sidecored; tools/xensim/X.c, tools/simfront/simX.c, tools/bench/X.c
#             and tools/X.c (those with a main) -> build/bin/X, linked with all libraries
#   tests/{unit/*,unit,integration}/*_test.c -> one test binary each
#   tests/integration/*_test.sh              -> shell tests (TAP)

CC      ?= gcc
SAN     ?=
ifeq ($(SAN),asan)
BUILD   ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SAN),tsan)
BUILD   ?= build-tsan
# -Wno-tsan: fences order guest-shared rings, which TSan cannot model; the
# data-path tests keep simulated frontends in other processes for that reason.
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
else
BUILD   ?= build
SANFLAGS =
endif

# Where an installed sidecore keeps its data: `sidecorectl check-xenstore`
# looks for the schema in $(PREFIX)/share/sidecore/xenstore-schema first,
# then beside the build tree it came from (<tree>/xenstore-schema).
PREFIX  ?= /usr/local

PKGS     = xenstore xengnttab xenevtchn xencontrol xentoollog jansson liburing fuse3 libmicrohttpd
# -iquote: our headers never shadow system ones (backend/sched.h vs <sched.h>).
CPPFLAGS = -D_GNU_SOURCE -iquote backend -iquote blkback -iquote netback -iquote tools/xensim -iquote tools/xensim/lib -iquote tests/tools \
           -iquote tools/simfront -iquote tools/ctl -iquote tools $(shell pkg-config --cflags fuse3 2>/dev/null)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-missing-field-initializers -fno-strict-aliasing \
           $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lxenstore -lxengnttab -lxenevtchn -lxenctrl -lxentoollog -ljansson -luring -lfuse3 -lmicrohttpd) -lpthread -lrt
TESTLIBS = -lcmocka

XENSIMD_SRCS   := $(wildcard tools/xensim/daemon/*.c)
LIBXENSIM_SRCS := $(wildcard tools/xensim/lib/*.c)
BACKEND_SRCS   := $(filter-out backend/main.c,$(wildcard backend/*.c))
BLKBACK_SRCS   := $(wildcard blkback/*.c)
NETBACK_SRCS   := $(wildcard netback/*.c)
SIMFRONT_SRCS  := $(filter-out tools/simfront/sim%.c,$(wildcard tools/simfront/*.c))
CTL_SRCS       := $(wildcard tools/ctl/*.c)
BENCHLIB_SRCS  := $(wildcard tools/bench/lib/*.c)
TESTTOOLS_SRCS := $(wildcard tests/tools/*.c)
TEST_C_SRCS    := $(wildcard tests/unit/*_test.c tests/unit/*/*_test.c tests/integration/*_test.c)
TEST_SH        := $(wildcard tests/integration/*_test.sh)
ifneq ($(SAN),)
# The bench smoke test keeps `make bench` from rotting; it measures nothing
# under a sanitizer, so it runs in the plain flavour only.  Every other test
# runs under both sanitizers: under ThreadSanitizer the daemon under real
# traffic, its lifecycle, hostile frontends, crashes, scale and store
# faults, with sidecored's log checked for reports at the end; there the
# tests' hang bounds are three times as long (simworld.sh: SC_SAN,
# wait_for), the feature matrix's senders go at a quarter of their rate (a
# slowed receiver must not lose frames to the switch's 100 ms wait) and the
# weight-ratio check is judged by the other flavours.
TEST_SH := $(filter-out %blkbench_smoke_test.sh %netbench_smoke_test.sh \
                        %rebalbench_smoke_test.sh %noisybench_smoke_test.sh \
                        %rampbench_smoke_test.sh,$(TEST_SH))
endif
PROG_SRCS      := $(wildcard tools/xensim/*.c tools/simfront/sim*.c tools/bench/*.c tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBXENSIM  = $(BUILD)/lib/libxensim.a
LIBBACKEND = $(BUILD)/lib/libbackend.a
LIBBLKBACK = $(BUILD)/lib/libblkback.a
LIBNETBACK = $(BUILD)/lib/libnetback.a
LIBSIMFRONT = $(BUILD)/lib/libsimfront.a
LIBCTL     = $(BUILD)/lib/libctl.a
LIBBENCH   = $(BUILD)/lib/libbench.a
LIBTEST    = $(BUILD)/lib/libtesttools.a
# Link order: users before what they use.
LIBS       = $(LIBCTL) $(LIBSIMFRONT) $(LIBBLKBACK) $(LIBNETBACK) $(LIBBACKEND) $(LIBXENSIM)
XENSIMD    = $(BUILD)/bin/xensimd
SIDECORED  = $(BUILD)/bin/sidecored
XSIMBENCH  = $(BUILD)/bin/xensim-bench
TEST_BINS  = $(patsubst %.c,$(BUILD)/%,$(TEST_C_SRCS))

# ---- fuzzing (docs/fuzzing.md) ----
# tests/fuzz/fuzz_<name>.c is a libFuzzer harness; tests/fuzz/corpus/<name>/
# its seeds (and every reproducer worth keeping).  make test replays each
# corpus through <build>/tests/fuzz/replay_<name> (the harness linked with
# tests/fuzz/replay_main.c: a TAP test, any compiler, any SAN).  make fuzz
# builds the harnesses with clang -fsanitize=fuzzer,address,undefined into
# build-fuzz/ and fuzzes a scratch copy of each corpus for FUZZ_SECONDS;
# a crash fails it, its reproducer left in build-fuzz/fuzz-work/<name>/.
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAYS := $(patsubst %,$(BUILD)/tests/fuzz/replay_%,$(FUZZ_NAMES))
ifeq ($(SAN),tsan)
# its second thread races the reader on purpose (a guest rewriting its ring)
FUZZ_REPLAYS := $(filter-out %/replay_blkif_race,$(FUZZ_REPLAYS))
endif
TEST_BINS    += $(FUZZ_REPLAYS)
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_FLAGS   ?=
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# (objects kept: make would delete them as intermediates of a pattern rule)
.SECONDARY: $(patsubst %,$(BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_NAMES)) $(BUILD)/obj/tests/fuzz/replay_main.o
$(BUILD)/tests/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

.PHONY: fuzz fuzz-bins
fuzz-bins: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))

fuzz: deps
	$(MAKE) CC=clang BUILD=build-fuzz SANFLAGS='$(FUZZ_SAN) -fsanitize=fuzzer-no-link' fuzz-bins
	@set -e; for n in $(FUZZ_NAMES); do \
	    w=build-fuzz/fuzz-work/$$n; rm -rf $$w; mkdir -p $$w/corpus $$w/artifacts; \
	    cp tests/fuzz/corpus/$$n/* $$w/corpus/; \
	    echo "fuzz: $$n, $(FUZZ_SECONDS) s (log: $$w/log)"; \
	    if ! build-fuzz/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
	            -artifact_prefix=$$w/artifacts/ -print_final_stats=1 $(FUZZ_FLAGS) \
	            $$w/corpus >$$w/log 2>&1; then \
	        tail -n 40 $$w/log; echo "fuzz: $$n FAILED; reproducer: $$(ls $$w/artifacts/)"; exit 1; \
	    fi; \
	    grep -E '^#[0-9]+' $$w/log | tail -n 1; \
	    grep -E 'stat::number_of_executed_units' $$w/log; \
	done

# ---- manuals (docs/man/<name>.<section>.scd, scdoc) ----
# Built by `make man` and `make test` (not `make all`: scdoc is a test
# dependency only); MANPAGES names them for an install rule.
MAN_SRCS := $(wildcard docs/man/*.scd)
MANPAGES := $(patsubst docs/man/%.scd,$(BUILD)/man/%,$(MAN_SRCS))

.PHONY: man
man: $(MANPAGES)

$(BUILD)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

PROGRAMS = $(XENSIMD) $(if $(wildcard backend/main.c),$(SIDECORED)) \
           $(addprefix $(BUILD)/bin/,$(notdir $(basename $(PROG_SRCS))))

.PHONY: all deps test test-asan test-tsan check-clang soak bench demo rig-test rig-smoke rig-bench clean \
        progs install uninstall deb deb-test
all: $(PROGRAMS) $(TEST_BINS)

# Installs the Debian packages the build, tests and demo need (root only;
# prints what is missing otherwise).
deps:
	@tests/tools/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBXENSIM): $(call obj,$(LIBXENSIM_SRCS))
$(LIBBACKEND): $(call obj,$(BACKEND_SRCS))
$(LIBBLKBACK): $(call obj,$(BLKBACK_SRCS))
$(LIBNETBACK): $(call obj,$(NETBACK_SRCS))
$(LIBSIMFRONT): $(call obj,$(SIMFRONT_SRCS))
$(LIBCTL): $(call obj,$(CTL_SRCS))
$(LIBBENCH): $(call obj,$(BENCHLIB_SRCS))
$(LIBTEST): $(call obj,$(TESTTOOLS_SRCS))
$(BUILD)/obj/tools/ctl/sctl_xscheck.o: CPPFLAGS += -DSC_SCHEMA_DIR='"$(PREFIX)/share/sidecore/xenstore-schema"'

$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(XENSIMD): $(call obj,$(XENSIMD_SRCS)) $(LIBXENSIM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SIDECORED): $(call obj,backend/main.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/tools/xensim/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/tools/simfront/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/tools/bench/%.o $(LIBBENCH) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBTEST) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TESTLIBS)

# Every test runs under prove through a wrapper that bounds its time; tests
# find the daemons of this build flavour through SC_BUILD (and its sanitizer
# through that directory's name: simworld.sh's SC_SAN).
PROVE = SC_BUILD=$(abspath $(BUILD)) CMOCKA_MESSAGE_OUTPUT=TAP \
        prove --exec tests/tools/run-test.sh $(PROVEFLAGS)

test: deps
	$(MAKE) all man
	$(PROVE) $(TEST_BINS) $(TEST_SH)

test-asan: deps
	$(MAKE) SAN=asan test

test-tsan: deps
	$(MAKE) SAN=tsan test

# The long crash test: sidecored SIGKILLed 100 times per mode under verified
# I/O (make test runs 10); SOAK_KILLS=N for another count.
SOAK_KILLS ?= 100
soak: deps
	$(MAKE) all
	SC_CRASH_KILLS=$(SOAK_KILLS) TEST_TIMEOUT=1800 $(PROVE) tests/integration/blk_crash_e2e_test.sh

check-clang:
	$(MAKE) CC=clang BUILD=build-clang all

# Plots (tools/bench/plot.pl, gnuplot) next to the JSON they show:
# $(BUILD)/{blkbench,netbench,rampbench}-*.png; a plot that fails is
# reported, never fails the benchmarks (nor does a missing gnuplot).
PLOT = perl tools/bench/plot.pl
plot = $(PLOT) $(1) || echo "bench: no plot of $(1)"

bench: deps
	$(MAKE) all
	SC_BUILD=$(abspath $(BUILD)) $(XSIMBENCH)
	SC_BUILD=$(abspath $(BUILD)) tools/bench/blkbench.sh --json $(BUILD)/blkbench.json
	$(call plot,$(BUILD)/blkbench.json)
	SC_BUILD=$(abspath $(BUILD)) tools/bench/idlebench.sh --json $(BUILD)/idlebench.json
	SC_BUILD=$(abspath $(BUILD)) tools/bench/netbench.sh --json $(BUILD)/netbench.json
	$(call plot,$(BUILD)/netbench.json)
	SC_BUILD=$(abspath $(BUILD)) tools/bench/rebalbench.sh --rounds 3 --json $(BUILD)/rebalbench.json
	SC_BUILD=$(abspath $(BUILD)) tools/bench/weightbench.sh --rounds 3 --json $(BUILD)/weightbench.json
	SC_BUILD=$(abspath $(BUILD)) tools/bench/noisybench.sh --rounds 3 --json $(BUILD)/noisybench.json
	SC_BUILD=$(abspath $(BUILD)) tools/bench/rampbench.sh --rounds 3 --json $(BUILD)/rampbench.json
	$(call plot,$(BUILD)/rampbench.json)

demo: deps
	$(MAKE) all
	SC_BUILD=$(abspath $(BUILD)) tests/tools/demo.sh

# The real Xen 4.17 rig (root; builds its image into /var/cache/sidecore-rig
# on first use): Linux's own blkfront against sidecored.  tests/rig/README.md.
# prove runs tests/rig/run.sh once per scenario (one boot each).
# sidecore goes into the rig as its Debian package (make deb), as an admin
# installs it.
RIG_PROVE = SC_BUILD=$(abspath $(BUILD)) SC_DEB=$(DEB) prove -v --timer --exec $(CURDIR)/tests/rig/run.sh
rig-test: deps deb
	$(MAKE) all man
	$(RIG_PROVE) tests/rig/scenarios/*.sh

# The CI smoke: two boots (blk-basic, net-basic), a DomU per mode each: its disk
# with verified I/O; its vif bridged, ping, iperf3 and verified transfers.
rig-smoke: deps deb
	$(MAKE) all
	$(RIG_PROVE) tests/rig/scenarios/blk-basic.sh tests/rig/scenarios/net-basic.sh

# sidecored (poll, event) vs Linux xen-blkback, one boot (docs/benchmarks.md).
rig-bench: deps deb
	$(MAKE) all
	SC_BUILD=$(abspath $(BUILD)) SC_DEB=$(DEB) tests/rig/bench.sh

clean:
	rm -rf build build-asan build-tsan build-clang build-fuzz

# ---- installing and packaging (docs/operations.md, "Installing and upgrading") ----
# What an administrator runs: the daemon and its client.  xensimd, xensimctl
# and the simulated frontends stay in build/bin: they are the test world
# (no Xen needed), and nothing on a Xen host uses them.
# The version is the Debian changelog's, so the package and a source install
# agree.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' tools/debian/changelog)
DESTDIR          ?=
SBINDIR          ?= $(PREFIX)/sbin
DOCDIR           ?= $(PREFIX)/share/doc/sidecore
# where sidecorectl check-xenstore looks first (its SC_SCHEMA_DIR)
SCHEMADIR        = $(PREFIX)/share/sidecore/xenstore-schema
MANDIR           ?= $(PREFIX)/share/man
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
# xl looks for a relative script= name here whatever PREFIX is.
XEN_SCRIPTS_DIR  ?= /etc/xen/scripts
# systemd searches /usr/local/lib/systemd/system too; the package passes
# /lib/systemd/system.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
INSTALL_PROGS    = $(SIDECORED) $(BUILD)/bin/sidecorectl
INSTALL_DOCS     = README.md docs/xl.md docs/operations.md docs/design.md \
                   docs/reliability.md docs/platform.md docs/benchmarks.md
COMPLETION       = $(wildcard tools/completion/sidecorectl)
# Manuals come from `make man` ($(MANPAGES): $(BUILD)/man/NAME.SECTION).
# the simulator is not installed (operations.md), nor are its manuals
INSTALL_MAN      = $(filter-out %/xensimd.1 %/xensimctl.1,$(MANPAGES))

progs: $(INSTALL_PROGS)

# /etc/sidecore/sidecored.conf and /etc/default/sidecored are the admin's
# once there: installed only where missing.
# (second expansion: MANPAGES may be set further down the Makefile)
.SECONDEXPANSION:
install: $(INSTALL_PROGS) $$(INSTALL_MAN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(XEN_SCRIPTS_DIR) $(DESTDIR)$(SYSTEMD_UNIT_DIR) \
	    $(DESTDIR)/etc/sidecore $(DESTDIR)/etc/default $(DESTDIR)$(DOCDIR)
	install -m 0755 $(INSTALL_PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 0755 tools/hotplug/block-sidecore tools/hotplug/vif-sidecore $(DESTDIR)$(XEN_SCRIPTS_DIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	    tools/systemd/sidecored.service.in >$(BUILD)/sidecored.service
	install -m 0644 $(BUILD)/sidecored.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/sidecored.service
	[ -e $(DESTDIR)/etc/sidecore/sidecored.conf ] || \
	    install -m 0644 tools/config/sidecored.conf $(DESTDIR)/etc/sidecore/sidecored.conf
	[ -e $(DESTDIR)/etc/default/sidecored ] || \
	    install -m 0644 tools/systemd/sidecored.default $(DESTDIR)/etc/default/sidecored
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(SCHEMADIR)
	install -m 0644 xenstore-schema/*.json $(DESTDIR)$(SCHEMADIR)/
	$(if $(COMPLETION),install -d $(DESTDIR)$(BASH_COMPLETION_DIR) && \
	    install -m 0644 $(COMPLETION) $(DESTDIR)$(BASH_COMPLETION_DIR)/sidecorectl)
	@set -e; for m in $(INSTALL_MAN); do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.}; install -d $$d; \
	    echo "install -m 0644 $$m $$d/"; install -m 0644 $$m $$d/; \
	done

# The admin's config stays (as dpkg's remove does); a purge is rm -r /etc/sidecore
# /etc/default/sidecored.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(INSTALL_PROGS))) \
	    $(DESTDIR)$(XEN_SCRIPTS_DIR)/block-sidecore $(DESTDIR)$(XEN_SCRIPTS_DIR)/vif-sidecore \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/sidecored.service \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS))) \
	    $(DESTDIR)$(BASH_COMPLETION_DIR)/sidecorectl
	@set -e; for m in $(notdir $(INSTALL_MAN)); do \
	    echo "rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m"; rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; \
	done
	rm -f $(DESTDIR)$(SCHEMADIR)/*.json
	-rmdir $(DESTDIR)$(SCHEMADIR) $(DESTDIR)$(PREFIX)/share/sidecore $(DESTDIR)$(DOCDIR) 2>/dev/null

# The package is built from a copy of the tracked (and new, unignored) files
# with tools/debian/ as debian/: the top-level layout has no debian/.  The
# copy builds in its own build/, so this tree's flavours do not leak in.
# DEB_PKGS: what packaging and its test need on the host (install-deps.sh).
DEB_PKGS = debhelper dpkg-dev fakeroot debootstrap
DEB_DIR  = $(abspath $(BUILD))/deb
DEB      = $(DEB_DIR)/sidecore_$(VERSION)_amd64.deb
# Rebuilt when a tracked file changed since, so the rig's targets and
# deb-test share one build of the package.
DEB_INPUTS := $(wildcard $(shell git ls-files 2>/dev/null))
deb: $(DEB)
$(DEB): $(DEB_INPUTS)
	@tests/tools/install-deps.sh $(DEB_PKGS)
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	git ls-files -z --cached --others --exclude-standard | \
	    tar -cf - --null -T - --ignore-failed-read 2>/dev/null | tar -C $(DEB_DIR)/src -xf -
	cp -a tools/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
	    { tail -n 40 ../build.log; exit 1; }
	rm -rf $(DEB_DIR)/src
	@ls -l $(DEB)

# Not in make test: minutes (debootstrap once, then apt in a chroot).
deb-test: deb
	SC_DEB=$(DEB) TEST_TIMEOUT=1800 prove -v --timer --exec tests/tools/run-test.sh tests/package/deb_test.sh

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
