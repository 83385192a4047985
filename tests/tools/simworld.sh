# simworld.sh - sourced by shell tests: a private xensim world and TAP output.
#
#   . tests/tools/simworld.sh
#   simworld_start            # sets SIMDIR, starts xensimd, trap cleans up
#   xs0 xenstore-read /x      # run a command as dom0's xenstore client
#   xs_as 3 xenstore-read x   # ... as domain 3
#   ok "name" cmd args...     # TAP: passes if cmd exits 0
#   is "name" "$got" "$want"  # TAP: passes if equal
#   wait_for 5 cmd args...  # retry cmd for up to 5 s
#   jget 'perl-expr'       # read JSON on stdin as $j
#   done_testing
#
# Cleanup runs on EXIT, INT and TERM, so a failing or timed-out test leaves
# no daemon or directory behind.

SC_BUILD=${SC_BUILD:-$(pwd)/build}
# The sanitizer of this build flavour (asan, tsan or empty), from its
# directory's name as the Makefile gives it (build-asan, build-tsan).
case $(basename "$SC_BUILD") in
*tsan*) SC_SAN=tsan ;;
*asan*) SC_SAN=asan ;;
*) SC_SAN= ;;
esac
XENSIMD="$SC_BUILD/bin/xensimd"
XENSIMCTL="$SC_BUILD/bin/xensimctl"
TAP_N=0
TAP_FAILED=0
SIMDIR=""
SIM_PID=""
SIM_CLEANUP_HOOKS=""

simworld_cleanup() {
    for hook in $SIM_CLEANUP_HOOKS; do "$hook" || true; done
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        SIM_PID=""
    fi
    [ -n "$SIMDIR" ] && rm -rf "$SIMDIR"
    SIMDIR=""
}
trap simworld_cleanup EXIT
trap 'exit 1' INT TERM

simworld_start() {
    SIMDIR=$(mktemp -d "${TMPDIR:-/tmp}/xensim.XXXXXX")
    # shellcheck disable=SC2086 # XENSIMD_ARGS: more options, split by words
    "$XENSIMD" --dir "$SIMDIR" --exit-with-parent ${XENSIMD_ARGS:-} 3>"$SIMDIR/ready" --ready-fd 3 &
    SIM_PID=$!
    for _ in $(seq 1 200); do
        grep -q ready "$SIMDIR/ready" 2>/dev/null && break
        sleep 0.05
    done
    grep -q ready "$SIMDIR/ready" || { echo "Bail out! xensimd did not start"; exit 1; }
    export XENSIM_DIR="$SIMDIR"
}

# Run a command as the xenstore client of domain $1.
xs_as() {
    local dom=$1; shift
    XENSTORED_PATH="$SIMDIR/xs-$dom.sock" "$@"
}
xs0() { xs_as 0 "$@"; }

ok() {
    local name=$1; shift
    TAP_N=$((TAP_N + 1))
    if "$@"; then
        echo "ok $TAP_N - $name"
    else
        echo "not ok $TAP_N - $name"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

# Passes if the command fails.
fails() {
    local name=$1; shift
    TAP_N=$((TAP_N + 1))
    if "$@" >/dev/null 2>&1; then
        echo "not ok $TAP_N - $name (succeeded, expected failure)"
        TAP_FAILED=$((TAP_FAILED + 1))
    else
        echo "ok $TAP_N - $name"
    fi
}

is() {
    local name=$1 got=$2 want=$3
    TAP_N=$((TAP_N + 1))
    if [ "$got" = "$want" ]; then
        echo "ok $TAP_N - $name"
    else
        echo "not ok $TAP_N - $name"
        printf '#   got:  %s\n#   want: %s\n' "$got" "$want"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

# wait_for SECONDS CMD...: retries CMD every 50 ms until it succeeds.
# A bound is there to catch a hang, not to time anything: under
# ThreadSanitizer (every thread 5-15x slower) it is three times as long.
WAIT_SCALE=1
[ "$SC_SAN" = tsan ] && WAIT_SCALE=3
wait_for() {
    local tries=$(($1 * 20 * WAIT_SCALE)); shift
    local _
    for _ in $(seq 1 "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# jget PERL-EXPR: evaluates EXPR over the JSON on stdin ($j), prints it.
jget() {
    JEXPR=$1 perl -MJSON::PP -0777 -ne \
        '$j = decode_json($_); $r = eval $ENV{JEXPR}; die $@ if $@; print $r // ""'
}

done_testing() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}
