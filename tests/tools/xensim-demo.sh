#!/bin/bash
# make demo (until sidecored lands): a xensim world with 8 guests, what
# xenstore and the hypervisor show of it, and the cost of the primitives a
# backend uses (xensim-bench).  Cleans up on exit.
set -euo pipefail
SC_BUILD=${SC_BUILD:-$(pwd)/build}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/xensim-demo.XXXXXX")
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

"$SC_BUILD/bin/xensimd" --dir "$DIR" --exit-with-parent 3>"$DIR/ready" --ready-fd 3 &
PID=$!
for _ in $(seq 100); do grep -q ready "$DIR/ready" 2>/dev/null && break; sleep 0.05; done
export XENSIM_DIR=$DIR

echo "== xensim world in $DIR: creating 8 guests"
for i in $(seq 1 8); do "$SC_BUILD/bin/xensimctl" create "guest$i" --mem 64 >/dev/null; done
"$SC_BUILD/bin/xensimctl" list
echo
echo "== xenstore as dom0 sees it (the real xenstore-ls over xensim's xenstored)"
XENSTORED_PATH="$DIR/xs-0.sock" xenstore-ls -f /local/domain | head -40
echo
echo "== primitives a backend pays for, measured now"
"$SC_BUILD/bin/xensim-bench"
