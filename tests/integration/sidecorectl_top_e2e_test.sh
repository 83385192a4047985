#!/bin/bash
# sidecorectl_top_e2e_test.sh - `sidecorectl top` as an admin sees it: three
# block guests at different loads (each request of two null disks costs the
# sidecore 100 us, at 2000 and 200 IOPS; a file at 100 IOPS), sidecored with
# two sidecores, and top in a detached tmux session of 80x24 driven by
# send-keys and read by capture-pane:
#   - the cores view first; g, u, Tab switch views (their names and
#     headings change); the busiest guest first under the load sort; > moves
#     the sort to REQ/s (guests by their rates), r reverses it; h shows the
#     help, any key closes it;
#   - never a line longer than the pane, nor wrapped (capture-pane -J joins
#     wrapped lines), also after the window shrinks to 60x15 (SIGWINCH);
#   - q exits 0, ^C kills it by SIGINT and SIGTERM by SIGTERM, each time
#     with the terminal as it was (stty, the main screen, the cursor);
#   - -b: plain text frames without escapes, -n of them, sorted, 80 wide;
#     usage errors, and no terminal without -b;
#   - the daemon stopped under it: a message, exit 1, the terminal put back;
#     and top refusing to start without a daemon.
# Skips (TAP) only when tmux is missing: tests/tools/install-deps.sh has it.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..0 # SKIP tmux is not installed (tests/tools/install-deps.sh lists it)"
    exit 0
fi

simworld_start
SOCK="$SIMDIR/sidecored.sock"
TMUX_SOCK="$SIMDIR/tmux.sock"
PANE_PIDS=""

# tmux on a server of our own (not the user's), without their config
tm() { tmux -S "$TMUX_SOCK" -f "$SIMDIR/tmux.conf" "$@"; }
printf 'set -g status off\nset -g history-limit 100\n' >"$SIMDIR/tmux.conf"

top_cleanup() {
    [ -S "$TMUX_SOCK" ] && tm kill-server 2>/dev/null
    # shellcheck disable=SC2086 # a list of pids
    stop_pids $PANE_PIDS
    PANE_PIDS=""
    return 0
}
# before blk_cleanup: top goes before the daemon it watches
SIM_CLEANUP_HOOKS="top_cleanup $SIM_CLEANUP_HOOKS"

# What runs in a pane: the terminal's settings before and after top, its
# exit status, then a sleep that keeps the pane to look at.  ^C must reach
# top, not end this shell: a trap (not an ignore, which top would inherit).
cat >"$SIMDIR/pane.sh" <<EOF
n=\$1; shift
trap : INT TERM
stty -g >"$SIMDIR/\$n.stty0"
"$SIDECORECTL" --socket "$SOCK" "\$@"
echo \$? >"$SIMDIR/\$n.status"
stty -g >"$SIMDIR/\$n.stty1"
exec sleep 300
EOF

# top_in NAME ARGS...: `sidecorectl top ARGS` in a new 80x24 session NAME
top_in() {
    local name=$1; shift
    rm -f "$SIMDIR/$name".*
    tm new-session -d -s "$name" -x 80 -y 24 "sh $SIMDIR/pane.sh $name top $*" || return 1
    PANE_PIDS="$PANE_PIDS $(tm display -p -t "$name" '#{pane_pid}')"
}
screen_of() { tm capture-pane -p -J -t "$1"; }
pane_has() { screen_of "$1" | grep -Eq "$2"; }
key() { tm send-keys -t "$@"; }
# the first word of each row under the heading that starts with $2
column1() { screen_of "$1" | awk -v h="$2" '$1 == h { on = 1; next } on && NF { print $1 }'; }
order_is() { [ "$(column1 "$1" DOMID | head -n "$(wc -w <<<"$2")" | xargs)" = "$2" ]; }
exited() { [ -s "$SIMDIR/$1.status" ]; }
status_of() { cat "$SIMDIR/$1.status" 2>/dev/null; }
# the terminal as top found it: termios, the main screen, a cursor
restored() {
    cmp -s "$SIMDIR/$1.stty0" "$SIMDIR/$1.stty1" &&
        [ "$(tm display -p -t "$1" '#{alternate_on} #{cursor_flag}')" = "0 1" ]
}
# no line of the pane (wrapped lines joined) longer than $2
fits() { screen_of "$1" | awk -v w="$2" 'length($0) > w { print "# too long: " $0; bad = 1 } END { exit bad }'; }
# the child of pane $1's shell: top itself
top_pid() { ps -o pid= --ppid "$(tm display -p -t "$1" '#{pane_pid}')" | head -n 1 | tr -d ' '; }

# ---- three guests at three loads ----
G1=$(guest_new busy) && G2=$(guest_new mid) && G3=$(guest_new calm) ||
    { echo "Bail out! guests"; exit 1; }
D1=$(disk_attach "$G1" null:1G,spin=100000) && D2=$(disk_attach "$G2" null:1G,spin=100000) &&
    D3=$(disk_attach "$G3" "$(disk_file_mem 64M)") || { echo "Bail out! disks"; exit 1; }
ok "sidecored starts with two sidecores" sc_start --cores 2 --mode poll --rebalance off
ok "guest $G1 limited to 2000 IOPS" quiet ctl set-tenant "$G1" lim_iops=2000
ok "guest $G2 limited to 200 IOPS" quiet ctl set-tenant "$G2" lim_iops=200
ok "guest $G3 limited to 100 IOPS" quiet ctl set-tenant "$G3" lim_iops=100
for g in 1 2 3; do
    eval "front_bg \"\$SIMDIR/f$g.json\" \"\$G$g\" \"\$D$g\" --workload rand --rw mix:50 --qd 8 \
        --seconds 120"
done
has_requests() { [ "$(ctl queues --json | jget "scalar grep { \$_->{requests} > 0 } @\$j")" -ge 3 ]; }
ok "the three guests' queues serve requests" wait_for 15 has_requests

# ---- batch mode ----
out=$(ctl top -b -n 2 -d 0.5 -v guests)
is "top -b -n 2 exits 0" "$?" 0
printf '%s\n' "$out" >"$SIMDIR/batch.txt"
is "... two frames" "$(grep -c '^sidecorectl top - ' "$SIMDIR/batch.txt")" 2
fails "... no escape sequence" grep -q $'\033' "$SIMDIR/batch.txt"
ok "... no line over 80 columns" awk 'length($0) > 80 { exit 1 }' "$SIMDIR/batch.txt"
ok "... the guests view" grep -q '^view guests ' "$SIMDIR/batch.txt"
first=$(awk '$1 == "DOMID" { getline; print $1; exit }' "$SIMDIR/batch.txt")
is "... the busiest guest ($G1) first by load" "$first" "$G1"
out=$(ctl top -b -n 1 -d 0.5 -v guests -s req | awk '$1 == "DOMID" { on = 1; next } on { print $1 }' | xargs)
is "... -s req: the guests by their rates" "$out" "$G1 $G2 $G3"
out=$(ctl top -b -n 1 -d 0.5 -v guests -s req -r | awk '$1 == "DOMID" { on = 1; next } on { print $1 }' | xargs)
is "... -r: the other way round" "$out" "$G3 $G2 $G1"
out=$(ctl top -b -n 1 -d 0.5 -v queues)
ok "... the queues view lists guest $G3's queue with a p99" \
    grep -Eq "^vbd $G3/$D3 q[0-9]+ +sc[01] .* [0-9.]+ +[0-9.]+ +[0-9]+\$" <<<"$out"
ctl top -b -n 1 -d 0.5 -w 40 >"$SIMDIR/batch40.txt"
ok "... -w 40: cut to 40 columns" awk 'length($0) > 40 { exit 1 } END { exit NR < 6 }' \
    "$SIMDIR/batch40.txt"
is "a bad view is a usage error" "$(rc ctl top -b -v disks)" 2
is "a bad delay is a usage error" "$(rc ctl top -b -d 0)" 2
is "an unknown sort column is a usage error" "$(rc ctl top -b -s nosuch)" 2
out=$(ctl top </dev/null 2>&1 >/dev/null)
is "without a terminal, top refuses (2)" "$?" 2
ok "... and says -b is the way" grep -q -- "-b prints plain text" <<<"$out"

# ---- full screen, 80x24 ----
ok "top starts in tmux" top_in t1 -d 0.5
is "the pane is 80x24" "$(tm display -p -t t1 '#{pane_width}x#{pane_height}')" 80x24
ok "the cores view comes first, with its sidecores" wait_for 10 pane_has t1 '^sc[01] '
ok "... named in the help line" pane_has t1 '^view cores .*h help  q quit'
ok "... the title names the daemon" pane_has t1 '^sidecorectl top - .* sidecored .* poll xensim'
ok "... on the alternate screen, no cursor" \
    test "$(tm display -p -t t1 '#{alternate_on} #{cursor_flag}')" = "1 0"
ok "... fits in 80 columns, unwrapped" fits t1 80
key t1 g
ok "g: the guests view" wait_for 5 pane_has t1 '^view guests .*sort LOAD%'
ok "... its heading" pane_has t1 '^DOMID CLASS WEIGHT +Q LOAD% +REQ/s'
ok "... the busiest guest ($G1) first under the load sort" wait_for 10 order_is t1 "$G1"
ok "... fits in 80 columns" fits t1 80
key t1 '>'
ok "> sorts by the next column, REQ/s" wait_for 5 pane_has t1 '^view guests .*sort REQ/s '
ok "... the guests by their rates: $G1 $G2 $G3" wait_for 10 order_is t1 "$G1 $G2 $G3"
key t1 r
ok "r reverses it" wait_for 5 pane_has t1 'sort REQ/s reversed'
ok "... $G3 $G2 $G1" wait_for 10 order_is t1 "$G3 $G2 $G1"
key t1 u
ok "u: the queues view" wait_for 5 pane_has t1 '^view queues .*sort LOAD%'
ok "... its heading and guest $G1's queue" wait_for 5 pane_has t1 "^vbd $G1/$D1 q"
ok "... fits in 80 columns" fits t1 80
key t1 Tab
ok "Tab: round to the cores view" wait_for 5 pane_has t1 '^view cores '
key t1 h
ok "h: the help" wait_for 5 pane_has t1 'keys \(any key closes this help'
ok "... fits in 80 columns" fits t1 80
key t1 x
ok "any key closes it" wait_for 5 pane_has t1 '^CORE +CPU'
ok "a resize to 60x15 is followed" tm resize-window -t t1 -x 60 -y 15
ok "... the pane is 60x15" test "$(tm display -p -t t1 '#{pane_width}x#{pane_height}')" = 60x15
ok "... the frame redrawn to it" wait_for 5 pane_has t1 '^CORE +CPU +Q BUSY%'
ok "... no line over 60 columns, none wrapped" fits t1 60
tm resize-window -t t1 -x 80 -y 24
key t1 q
ok "q quits" wait_for 5 exited t1
is "... with status 0" "$(status_of t1)" 0
ok "... the terminal as it was" restored t1

# ---- signals ----
ok "top again" top_in t2 -d 0.5
ok "... drawn" wait_for 10 pane_has t2 '^CORE +CPU'
key t2 C-c
ok "^C ends it" wait_for 5 exited t2
is "... killed by SIGINT (130)" "$(status_of t2)" 130
ok "... the terminal as it was" restored t2
ok "top a third time" top_in t3 -d 0.5
ok "... drawn" wait_for 10 pane_has t3 '^CORE +CPU'
pid=$(top_pid t3)
ok "SIGTERM ends it" kill -TERM "$pid"
ok "... soon" wait_for 5 exited t3
is "... killed by SIGTERM (143)" "$(status_of t3)" 143
ok "... the terminal as it was" restored t3

# ---- the daemon going away ----
ok "top once more" top_in t4 -d 0.5 -v guests
ok "... drawn" wait_for 10 pane_has t4 '^DOMID'
ok "sidecored stops" sc_stop
ok "... with no sanitizer report in its log" sc_log_clean
ok "top ends" wait_for 15 exited t4
is "... with status 1" "$(status_of t4)" 1
ok "... saying so on the main screen" pane_has t4 '^sidecorectl top: lost sidecored at '
ok "... the terminal as it was" restored t4
out=$(ctl top -b -n 1 2>&1)
is "without a daemon top -b exits 1" "$?" 1
ok "... saying where it looked" grep -q "cannot connect to $SOCK" <<<"$out"

done_testing
