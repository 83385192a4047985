#!/bin/bash
# place_e2e_test.sh - `sidecorectl place` and `place --check` on xensim's
# cpupools (8 physical CPUs, all in Pool-0 at start):
#  - a fresh driver domain (2 vCPUs) fails the check (Pool-0, unpinned);
#    --dry-run lists the steps and changes nothing; place by name creates
#    "sidecores" (null) with Pool-0's top two CPUs, moves the domain, pins
#    vCPU 0 to 6 and 1 to 7; the check passes (text and --json); placing
#    again changes nothing; xensimctl pool-list / vcpu-list and, with
#    sidecored running as that driver domain, `sidecorectl cores` show it;
#  - broken one way at a time with xensimctl, the check names each problem
#    and exits 1: a vCPU unpinned, two vCPUs on one CPU, another domain in
#    the pool, a CPU taken out (fewer CPUs than vCPUs), the domain back in
#    Pool-0, a pool of another scheduler; place mends the mendable ones;
#  - refusals with their messages: Pool-0's last CPU (--pcpus and
#    --cpus), a CPU another pool owns, a pool of another scheduler, too
#    few CPUs, an unknown domain, a caller that is not Dom0 (a xensim
#    domain other than 0; libxenctrl's side off Xen); usage errors exit 2.
#  - --json of place and of --check; xensim refusing what Xen refuses.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

# check ARGS: place --check, stdout in $OUT, stderr in $ERR, exit code in $RC
check() {
    OUT=$("$SIDECORECTL" place "$@" --check 2>"$SIMDIR/check.err")
    RC=$?
    ERR=$(cat "$SIMDIR/check.err")
}
# finds RC TEXT: the last check exited RC and said TEXT on a line of its own
finds() {
    [ "$RC" = "$1" ] && grep -qxF -- "$2" <<<"$OUT" && return 0
    echo "# exit $RC, wanted $1 and: $2"
    sed 's/^/#   /' <<<"$OUT"
    return 1
}
lines() { [ -z "$OUT" ] && echo 0 || wc -l <<<"$OUT"; }
refused() { # refused RC TEXT ARGS...: place ARGS exits RC and says TEXT on stderr
    local want=$1 text=$2; shift 2
    local err rc
    err=$("$SIDECORECTL" place "$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" = "$want" ] && grep -qF -- "$text" <<<"$err" && return 0
    echo "# exit $rc, wanted $want and: $text"
    sed 's/^/#   /' <<<"$err"
    return 1
}
pools() { "$XENSIMCTL" pool-list; }

simworld_start
D=$(guest_new dd) || { echo "Bail out! create"; exit 1; }
quiet "$XENSIMCTL" vcpus-set "$D" 2 || { echo "Bail out! vcpus-set"; exit 1; }

# ---- a fresh domain ----
check "$D"
ok "fresh: exit 1" test "$RC" = 1
ok "fresh: in Pool-0" finds 1 "domain $D is in Pool-0 (id 0), not in a cpupool of its own"
ok "fresh: vCPU 0 unpinned" finds 1 "vCPU 0 is not pinned to one pCPU"
ok "fresh: vCPU 1 unpinned" finds 1 "vCPU 1 is not pinned to one pCPU"
is "fresh: three problems" "$(lines)" 3

before=$(pools)
dry=$("$SIDECORECTL" place "$D" --dry-run)
ok "--dry-run: exit 0" test $? = 0
ok "--dry-run: creates the pool, takes pCPU 6 and 7, moves, pins" eval \
    'grep -qx "would create cpupool sidecores (scheduler null)" <<<"$dry" &&
     grep -qx "would remove pCPU 6 from Pool-0" <<<"$dry" &&
     grep -qx "would add pCPU 7 to sidecores" <<<"$dry" &&
     grep -qx "would move domain $D to sidecores" <<<"$dry" &&
     grep -qx "would pin vCPU 1 of domain $D to pCPU 7" <<<"$dry"'
is "--dry-run: nothing changed" "$(pools)" "$before"

out=$("$SIDECORECTL" place dd 2>&1)
ok "place by name: exit 0" test $? = 0
ok "place: says where it put them" grep -qx \
    "domain $D: cpupool sidecores (id 1, null), pCPUs 6-7; vCPU 0 on 6 (pinned), vCPU 1 on 7 (pinned)" \
    <<<"$out"
check "$D"
ok "placed: check exit 0, nothing on stdout" eval '[ "$RC" = 0 ] && [ -z "$OUT" ]'
ok "placed: check says good on stderr" grep -q ": good$" <<<"$ERR"
json=$("$SIDECORECTL" place "$D" --check --json)
is "placed: --json ok, pool, pins" \
    "$(jget '"$j->{ok} $j->{pool}{name} $j->{pool}{sched} $j->{pool}{cpus} $j->{vcpus}[0]{pinned} $j->{vcpus}[1]{pinned} " . scalar @{$j->{problems}}' <<<"$json")" \
    "1 sidecores null 6-7 6 7 0"
out=$("$SIDECORECTL" place "$D" 2>&1)
ok "placing again: nothing to do" grep -q "^already placed: domain $D" <<<"$out"
json=$("$SIDECORECTL" place "$D" --json)
is "placing again, --json: ok, no steps, the pool" \
    "$(jget '"$j->{ok} " . scalar @{$j->{steps}} . " $j->{pool}{name} $j->{vcpus}[1]{pinned}"' <<<"$json")" \
    "1 0 sidecores 7"
ok "pool-list: sidecores (null) with 6-7, Pool-0 keeps 0-5" eval \
    'pools | grep -qE "^1 +sidecores +null +1 +6-7$" && pools | grep -qE "^0 +Pool-0 +credit2 +1 +0-5$"'
ok "vcpu-list: vCPU 1 on pCPU 7 in 1:sidecores, pinned" eval \
    '"$XENSIMCTL" vcpu-list "$D" 2 | grep -qE "^1 +7 +1:sidecores +null +yes "'

# sidecored in the driver domain sees its sidecores there
XENSIM_DOMID=$D sc_start --mode poll --cores 2 --cpus 0,1 --poll-window fixed --poll-idle-us 200
ok "sidecored starts as domain $D" test $? = 0
ok "cores: sc1 on vCPU 1, pCPU 7, 1:sidecores null, pinned" \
    wait_for 5 eval 'ctl cores | grep -qE "^sc1 +1 +7 +1:sidecores +null +yes "'
sc_stop >/dev/null

# ---- broken one way at a time ----
quiet "$XENSIMCTL" vcpu-pin "$D" 1 all
check "$D"
ok "unpinned vCPU named, exit 1" finds 1 "vCPU 1 is not pinned to one pCPU"
is "... and only it" "$(lines)" 1
ok "place mends it" quiet "$SIDECORECTL" place "$D"
check "$D"
ok "mended: exit 0" test "$RC" = 0

quiet "$XENSIMCTL" vcpu-pin "$D" 1 6
check "$D"
ok "two vCPUs on one pCPU named" finds 1 "vCPUs 0 and 1 are both pinned to pCPU 6"
ok "place mends it" quiet "$SIDECORECTL" place "$D"
check "$D"
ok "mended: exit 0" test "$RC" = 0

O=$(guest_new other) || { echo "Bail out! create other"; exit 1; }
quiet "$XENSIMCTL" pool-migrate "$O" sidecores
check "$D"
ok "another domain in the pool named" finds 1 "domain $O (1 vCPU) is in cpupool sidecores too"
ok "place will not share the pool" refused 1 "cpupool sidecores already holds domain $O" "$D"
quiet "$XENSIMCTL" pool-migrate "$O" Pool-0

quiet "$XENSIMCTL" pool-cpu-remove sidecores 7
check "$D"
ok "too few pCPUs named" finds 1 "cpupool sidecores has 1 pCPU for the 2 vCPUs of domain $D"
ok "... and the vCPU that lost its CPU" finds 1 "vCPU 1 is not pinned to one pCPU"
ok "place takes a CPU again (the free one) and mends it" quiet "$SIDECORECTL" place "$D"
check "$D"
ok "mended: exit 0" test "$RC" = 0

quiet "$XENSIMCTL" pool-migrate "$D" Pool-0
check "$D"
ok "back in Pool-0 named" finds 1 "domain $D is in Pool-0 (id 0), not in a cpupool of its own"
ok "place moves it back" quiet "$SIDECORECTL" place "$D"
check "$D"
ok "mended: exit 0" test "$RC" = 0

check "$D" --sched credit2
ok "a pool of another scheduler than asked named" \
    finds 1 "cpupool sidecores (id 1) uses the null scheduler, not credit2"

# ---- refusals ----
E=$(guest_new e2) || { echo "Bail out! create e2"; exit 1; }
ok "Pool-0's last CPU (--pcpus)" refused 1 "that would take Pool-0's last CPU" \
    "$E" --pool p2 --pcpus 0-5
ok "Pool-0's last CPU (--cpus)" refused 1 "Pool-0 keeps its last CPU for Dom0" \
    "$E" --pool p2 --cpus 6
ok "a CPU another pool owns" refused 1 \
    "pCPU 7 belongs to cpupool sidecores (id 1): not taken from another pool" \
    "$E" --pool p2 --pcpus 7
ok "a pool of another scheduler" refused 1 \
    "cpupool sidecores exists with the null scheduler, not credit2" "$E" --sched credit2
ok "a CPU that does not exist" refused 1 "no pCPU 9: the host has 8" "$E" --pool p2 --pcpus 9
quiet "$XENSIMCTL" vcpus-set "$E" 3
ok "too few CPUs for the vCPUs" refused 1 "would have 1 pCPU for the 3 vCPUs" \
    "$E" --pool p2 --pcpus 5
ok "refusals changed nothing: no pool p2" eval '! pools | grep -q " p2 "'
ok "an unknown domain" refused 1 "no domain nosuch" nosuch
ok "an unknown domain (check: exit 2)" refused 2 "no domain 99" 99 --check
ok "not Dom0: refused" eval 'XENSIM_DOMID=$D refused 1 "only Dom0 may place domains" "$E"'
ok "not Dom0: check cannot look (exit 2)" \
    eval 'XENSIM_DOMID=$D refused 2 "only Dom0 may place domains" "$E" --check'
ok "Dom0 itself: refused" refused 1 "Dom0 stays in Pool-0" 0
ok "real Xen's placement off Xen: refused (not Dom0)" \
    eval '(unset XENSIM_DIR; refused 1 "only Dom0 may place domains" "$E")'
ok "usage: --cpus with --pcpus" refused 2 "give one" "$E" --cpus 1 --pcpus 5
ok "usage: --check with --pcpus" refused 2 "--check takes" "$E" --check --pcpus 5
ok "usage: no domain" refused 2 "usage:"
ok "a second domain placed beside the first (pool p2 with pCPUs 3-5)" \
    quiet "$SIDECORECTL" place "$E" --pool p2 --pcpus 3-5
check "$E"
ok "... and checks good" test "$RC" = 0

# xensim's own refusals, as Xen's
ok "xensim: a CPU in two pools refused" eval '! "$XENSIMCTL" pool-cpu-add p2 7 2>/dev/null'
ok "xensim: a pool with domains is not destroyed" eval '! "$XENSIMCTL" pool-destroy p2 2>/dev/null'
ok "xensim: a pin outside the domain's pool refused" \
    eval '! "$XENSIMCTL" vcpu-pin "$E" 0 0 2>/dev/null'
check "$D"
ok "... the first still good" test "$RC" = 0

# A Xen built without the null scheduler (Debian's 4.17): without --sched,
# place takes a credit2 pool of the domain's own, and --check judges it good
# (its CPUs are the domain's alone); --sched null still names the scheduler.
simworld_cleanup
XENSIMD_ARGS="--scheds credit,credit2" simworld_start
N=$(guest_new nonull) || { echo "Bail out! create"; exit 1; }
quiet "$XENSIMCTL" vcpus-set "$N" 2
err=$("$SIDECORECTL" place "$N" 2>&1 >/dev/null)
rc=$?
ok "no null scheduler: place succeeds (exit $rc)" test "$rc" = 0
ok "... saying why it fell back to credit2" \
    grep -qF "this Xen has no null scheduler, it seems: a credit2 pool of the domain's own instead" \
    <<<"$err"
ok "... into a credit2 pool 'sidecores'" eval 'pools | grep -Eq "sidecores +credit2"'
check "$N"
ok "... which checks good" test "$RC" = 0
check "$N" --sched null
ok "... and with --sched null, names the scheduler" \
    finds 1 "cpupool sidecores (id 1) uses the credit2 scheduler, not null"

done_testing
