# blk_e2e_lib.sh - shared helpers of the block backend's end-to-end tests
# (tests/integration/blk_*e2e_test.sh): sidecored as dom0's backend on a
# private xensim world, guests and their disks made by xensimctl, load from
# simblkfront, state read back from xenstore and sidecorectl.
#
#   . "$(dirname "$0")/../tools/blk_e2e_lib.sh"   # sources simworld.sh too
#   simworld_start
#   sc_start --mode poll --cores 1      # sidecored, waits for "ready"
#   g=$(guest_new name)                 # a domain; prints its domid
#   d=$(disk_attach "$g" "$(disk_file 64M)")   # prints the devid
#   front "$g" "$d" --verify --ios 500 >"$SIMDIR/out.json"   # exit code kept
#   front_bg OUT "$g" "$d" --seconds 5  # in the background; front_wait PID
#
# Everything started here is stopped by blk_cleanup, registered in
# SIM_CLEANUP_HOOKS, so a failing or killed test leaves nothing behind.
# Every helper returns 0 on success and non-zero otherwise; the ones that
# print a value print only that value.

. "$(dirname "${BASH_SOURCE[0]}")/simworld.sh"

SIDECORED="$SC_BUILD/bin/sidecored"
SIDECORECTL="$SC_BUILD/bin/sidecorectl"
SIMBLKFRONT="$SC_BUILD/bin/simblkfront"
SC_PID=""
FRONT_PIDS=""

# pid_running PID: alive and not a zombie waiting to be reaped.
pid_running() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# stop_pids PID...: SIGTERM, up to 10 s to go, then SIGKILL, and reaped: a
# cleanup never hangs on a process that ignores or cannot act on SIGTERM.
stop_pids() {
    local p _ left
    [ $# -gt 0 ] || return 0
    kill "$@" 2>/dev/null
    for _ in $(seq 1 200); do
        left=""
        for p in "$@"; do pid_running "$p" && left="$left $p"; done
        [ -n "$left" ] || break
        sleep 0.05
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
    return 0
}

blk_cleanup() {
    # shellcheck disable=SC2086 # a list of pids
    stop_pids $FRONT_PIDS
    FRONT_PIDS=""
    sc_stop
    [ -n "$SIMDIR" ] && rm -f "/dev/shm/sidecore-e2e-${SIMDIR##*/}".*
    return 0
}
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS blk_cleanup"

# ---- small tools ----

rc() { "$@" >/dev/null 2>&1; echo $?; }
quiet() { "$@" >/dev/null 2>&1; }
ctl() { "$SIDECORECTL" "$@"; }
# store_clean: `sidecorectl check-xenstore` finds every vbd/vif key of the
# world's store as xenstore-schema/ describes it (findings as TAP comments).
store_clean() {
    local out
    out=$("$SIDECORECTL" check-xenstore 2>&1) && return 0
    sed 's/^/# /' <<<"$out"
    return 1
}

# ---- the daemon ----

# sc_start ARGS...: sidecored in the background, logging (appending) to
# $SIMDIR/sidecored.log; returns once it wrote "ready" (1 if not in 10 s).
# SC_LAUNCH, an array, is put in front (a launcher that execs it, such as
# `ip netns exec NS` or `unshare -n`, so that $! is still the daemon).
SC_LAUNCH=()
sc_start() {
    rm -f "$SIMDIR/sc-ready"
    "${SC_LAUNCH[@]}" "$SIDECORED" "$@" 3>"$SIMDIR/sc-ready" --ready-fd 3 \
        2>>"$SIMDIR/sidecored.log" &
    SC_PID=$!
    local _
    for _ in $(seq 1 200); do
        grep -q ready "$SIMDIR/sc-ready" 2>/dev/null && return 0
        kill -0 "$SC_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# sc_stop: SIGTERM, then SIGKILL after 10 s; returns the daemon's exit code.
sc_stop() {
    [ -n "$SC_PID" ] || return 0
    local pid=$SC_PID _ status
    SC_PID=""
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    status=$?
    return "$status"
}

sc_alive() { [ -n "$SC_PID" ] && kill -0 "$SC_PID" 2>/dev/null; }

# No sanitizer report in sidecored's log (ASan/UBSan/TSan builds): TSan
# goes on after a report, and a killed daemon's exit status says nothing,
# so only the log tells.
sc_log_clean() {
    if grep -qE "Sanitizer|runtime error:" "$SIMDIR/sidecored.log"; then
        grep -E -A12 "Sanitizer|runtime error:" "$SIMDIR/sidecored.log" | head -40 | sed 's/^/# /'
        return 1
    fi
}

# unshare_net_or_skip: for a sidecored in a network namespace of its own
# (a switch's host port is a TAP interface): NS_RUN=(unshare -n) as root,
# else (unshare -rn) where users may have one; SIMNETFRONT.  Ends the test
# with a TAP skip when neither works or /dev/net/tun is out of reach.
unshare_net_or_skip() {
    SIMNETFRONT="$SC_BUILD/bin/simnetfront"
    NS_RUN=(unshare -n)
    [ "$(id -u)" = 0 ] || NS_RUN=(unshare -rn)
    if ! "${NS_RUN[@]}" true 2>/dev/null || [ ! -r /dev/net/tun ] || [ ! -w /dev/net/tun ]; then
        echo "1..0 # SKIP needs a network namespace (${NS_RUN[*]}) and access to /dev/net/tun"
        exit 0
    fi
}

# ---- guests and disks ----

guest_new() { "$XENSIMCTL" create "$1"; }

# disk_file SIZE: a sparse file in the world's directory; prints its path.
disk_file() {
    local f
    f=$(mktemp "$SIMDIR/disk.XXXXXX") || return 1
    truncate -s "$1" "$f" && echo "$f"
}

# disk_file_mem SIZE: the same in /dev/shm when there is one (page-cache
# speed, no disk in the way); named after the world, so the cleanup finds
# them (this runs in a subshell: it cannot record them).
disk_file_mem() {
    local f
    [ -d /dev/shm ] && [ -w /dev/shm ] || { disk_file "$1"; return; }
    f=$(mktemp "/dev/shm/sidecore-e2e-${SIMDIR##*/}.XXXXXX") || return 1
    truncate -s "$1" "$f" && echo "$f"
}

# disk_attach GUEST TARGET [vbd-attach options]: served by dom0 as the next
# free xvdX of GUEST unless --vdev is given; prints the devid.
disk_attach() {
    local g=$1 target=$2; shift 2
    local vdev=""
    case " $* " in *" --vdev "*) ;; *)
        local n
        n=$("$XENSIMCTL" vbd-list "$g" 2>/dev/null | grep -c '^ *[0-9]')
        vdev="xvd$(printf "\\x$(printf %x $((97 + n)))")"
        set -- "$@" --vdev "$vdev" ;;
    esac
    "$XENSIMCTL" vbd-attach "$g" --backend-domid 0 --target "$target" "$@"
}

be_path() { echo "/local/domain/0/backend/vbd/$1/$2"; }
fe_path() { echo "/local/domain/$1/device/vbd/$2"; }

# be_key GUEST DEVID KEY: prints the backend key (empty, status 1 if absent).
be_key() { xs0 xenstore-read "$(be_path "$1" "$2")/$3" 2>/dev/null; }
be_state_is() { [ "$(be_key "$1" "$2" state)" = "$3" ]; }

# ---- sidecorectl views ----

# dev_field GUEST DEVID FIELD: a field of the device in `devices --json`.
dev_field() {
    ctl devices --json 2>/dev/null |
        jget '(grep { $_->{name} eq "vbd '"$1/$2"'" } @$j)[0]{'"$3"'}'
}
dev_state_is() { [ "$(dev_field "$1" "$2" state)" = "$3" ]; }
dev_listed() { [ -n "$(dev_field "$1" "$2" state)" ]; }
dev_gone() { sc_alive && ! dev_listed "$1" "$2"; }

# dev_count_in STATE: how many devices sidecorectl shows in STATE.
dev_count_in() {
    ctl devices --json 2>/dev/null | jget 'scalar grep { $_->{state} eq "'"$1"'" } @$j'
}

# ---- simulated frontends ----

# front GUEST DEVID ARGS...: one simblkfront run (JSON report on stdout).
front() {
    local g=$1 d=$2; shift 2
    "$SIMBLKFRONT" --dir "$XENSIM_DIR" --domid "$g" --vdev "$d" --backend-domid 0 --json "$@"
}

# front_bg OUT GUEST DEVID ARGS...: the same in the background, stdout to
# OUT, stderr to OUT.err; sets FRONT_PID (also kept for the cleanup).
# A simple command, not the function: $! is then simblkfront itself, which
# a kill must reach (a function would run in a subshell).
front_bg() {
    local out=$1 g=$2 d=$3; shift 3
    "$SIMBLKFRONT" --dir "$XENSIM_DIR" --domid "$g" --vdev "$d" --backend-domid 0 --json \
        "$@" >"$out" 2>"$out.err" &
    FRONT_PID=$!
    FRONT_PIDS="$FRONT_PIDS $FRONT_PID"
}

# front_wait PID: waits for a background run, returns its exit code.
front_wait() {
    local pid=$1 status p rest=""
    wait "$pid"
    status=$?
    for p in $FRONT_PIDS; do [ "$p" = "$pid" ] || rest="$rest $p"; done
    FRONT_PIDS=$rest
    return "$status"
}

# report_ok FILE: the JSON report says result ok, no errors, and some I/O.
report_ok() {
    [ "$(jget '$j->{result} eq "ok" && $j->{errors} == 0 && $j->{ios} > 0 ? 1 : 0' <"$1")" = 1 ]
}
# report_field FILE EXPR: e.g. report_field out.json '$j->{negotiated}{queues}'
report_field() { jget "$2" <"$1"; }

# ---- the backing file, read behind the backend's back ----

# disk_audit FILE [BS]: every 512-byte sector simblkfront --verify stamped
# must carry its own address and a good checksum, and all sectors of one
# BS-sized block (default 4096) the same generation (no torn or misplaced
# writes).  Prints the number of stamped sectors; fails on any bad one or
# when none is stamped.
disk_audit() {
    perl -e '
        use strict; use warnings;
        my ($file, $bs) = @ARGV;
        my $spb = $bs / 512;
        open(my $fh, "<:raw", $file) or die "$file: $!";
        my ($stamped, $bad, $checked) = (0, 0, 0);
        my $magic = "SIMBLKF1";
        # FNV-1a 64 over 504 bytes, in 32-bit halves (no 64-bit overflow).
        sub fnv {
            my ($hi, $lo) = (0xcbf29ce4, 0x84222325);
            for my $b (unpack("C*", $_[0])) {
                $lo ^= $b;
                my $l = $lo * 0x1b3;
                my $h = $hi * 0x1b3 + ($l >> 32) + (($lo << 8) & 0xffffffff);
                ($hi, $lo) = ($h & 0xffffffff, $l & 0xffffffff);
            }
            return ($hi, $lo);
        }
        my $block = 0;
        while (read($fh, my $buf, $bs) == $bs) {
            my %gens;
            for my $i (0 .. $spb - 1) {
                my $s = substr($buf, $i * 512, 512);
                next unless substr($s, 0, 8) eq $magic;
                my $sector = $block * $spb + $i;
                my ($addr, $gen) = unpack("Q< Q<", substr($s, 8, 16));
                $stamped++;
                $gens{$gen}++;
                if ($addr != $sector) {
                    warn "sector $sector carries address $addr\n" if $bad++ < 5;
                    next;
                }
                # The checksum costs ~1 ms a sector in perl: check a sample.
                next unless $checked < 4000 && ($sector % 7 == 0);
                $checked++;
                my ($hi, $lo) = fnv(substr($s, 0, 504));
                my ($chi, $clo) = (unpack("V V", substr($s, 508, 4) . substr($s, 504, 4)));
                if ($hi != $chi || $lo != $clo) {
                    warn "sector $sector: bad checksum\n" if $bad++ < 5;
                }
            }
            if (%gens && (keys(%gens) > 1 || (values %gens)[0] != $spb)) {
                warn "block $block: torn (generations " . join(",", sort keys %gens) . ")\n"
                    if $bad++ < 5;
            }
            $block++;
        }
        print "$stamped\n";
        exit($bad || !$stamped ? 1 : 0);
    ' "$1" "${2:-4096}"
}

