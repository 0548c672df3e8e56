#!/bin/bash
# The IMAP and POP3 benchmarks, Pillarbox against Debian's Dovecot, end to end and reproducibly:
#
#   1. corpus: 2,000 messages (2-50 KB, seed 1, multipart/attachments) and a 20-message one, as Maildirs
#   2. Pillarbox: data dir under BASE; users bench1..10 (2,000 msgs), small1..10 (20 msgs) @bench.test,
#      load1..50@example.com (200 x 20 KB, bench/pop3_load.py populate)
#   3. Dovecot: the same users and messages (bench/peers/dovecot_imap_pop3.sh setup)
#   4. IMAP load (bench/imap_load.py): ROUNDS rounds; in each, for 10 then 50 clients, Pillarbox then
#      Dovecot, each started fresh, warmed up (10 sessions), measured (server CPU, load average), stopped
#   5. POP3 load (bench/pop3_load.py): warm-up, then 50 clients implicit TLS and STLS, on each server
#   6. idle memory (bench/imap_idle_memory.py): N sessions in IDLE on each server, small and 2,000-msg INBOX
#
# Every server is started fresh for each phase and stopped after it; results go to BASE/results.jsonl
# (one JSON object per measurement) and the console. Loopback only. Needs root (Dovecot) and, once:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd dovecot-pop3d
#
#   bench/run_imap_pop3.sh [all|setup|imap|pop3|idle]     BASE=/tmp/imap-pop3-bench KEEP=1 to reuse/keep
#   IMAP_CLIENTS="10 50" IMAP_DURATION=60 ROUNDS=3 IDLE_SESSIONS=10000 PB_BIG_IDLE=2000 DC_BIG_IDLE=10000
#   PB_WORKERS=2 (Pillarbox's `workers`; default: unset, the configuration's default, one per CPU)
#   LOGIN_MODE=performance (Dovecot's login processes; default: Debian's, one per connection)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
PILLARBOX=${PILLARBOX:-$REPO/.venv/bin/pillarbox}
BASE=${BASE:-/tmp/imap-pop3-bench}
OUT=${OUT:-$BASE/results.jsonl}
IMAP_CLIENTS=${IMAP_CLIENTS:-10 50}
IMAP_DURATION=${IMAP_DURATION:-60}
IMAP_SESSIONS=${IMAP_SESSIONS:-100000}
ROUNDS=${ROUNDS:-3}
CORPUS_MESSAGES=${CORPUS_MESSAGES:-2000}  # messages in each bench user's INBOX
export POP3_USERS=${POP3_USERS:-50}       # 0 leaves the POP3 maildrops out (IMAP only)
IDLE_SESSIONS=${IDLE_SESSIONS:-10000}
PB_BIG_IDLE=${PB_BIG_IDLE:-2000}     # Pillarbox with the 2,000-message INBOX (memory grows with it)
DC_BIG_IDLE=${DC_BIG_IDLE:-10000}
PB_CONF=$BASE/pillarbox/pillarbox.toml
PB_WORKERS=${PB_WORKERS:-}
PB_PORT_IMAPS=11993 PB_PORT_POP3=11110 PB_PORT_POP3S=11995
DC_PORT_IMAPS=10993 DC_PORT_POP3=10110 DC_PORT_POP3S=10995
export PILLARBOX_CHEAP_HASHES=1
PB_PID=
ulimit -n "$(ulimit -Hn)"  # one descriptor per idle session, in the server and in the client
# shellcheck source=bench/pillarbox_server.sh
. "$HERE/pillarbox_server.sh"

dc() { local root=$BASE; BASE=$root/dovecot CORPUS=$root/corpus SMALL_CORPUS=$root/small PYTHON=$PY "$HERE/peers/dovecot_imap_pop3.sh" "$@"; }
pb() { "$PILLARBOX" --config "$PB_CONF" "$@"; }
note() { echo; echo "### $*  [$(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)]"; }
cpu() { "$PY" "$HERE/proctree.py" "$1"; }

setup() {
    mkdir -p "$BASE/pillarbox"
    [ -d "$BASE/corpus" ] || "$PY" "$HERE/imap_load.py" corpus "$BASE/corpus" --messages "$CORPUS_MESSAGES" --seed 1
    [ -d "$BASE/small" ] || "$PY" "$HERE/imap_load.py" corpus "$BASE/small" --messages 20 --seed 1
    if [ ! -d "$BASE/pillarbox/data" ]; then
        cat >"$PB_CONF" <<EOF
hostname = "mx.bench.test"
data_dir = "$BASE/pillarbox/data"

[listen]
imaps = ["127.0.0.1:$PB_PORT_IMAPS"]
pop3 = ["127.0.0.1:$PB_PORT_POP3"]
pop3s = ["127.0.0.1:$PB_PORT_POP3S"]

[limits]
max_connections = 19000
max_connections_per_ip = 19000
EOF
        "$PY" "$HERE/init_store.py" "$BASE/pillarbox/data"  # admin commands need a store
        pb domain add bench.test
        for n in $(seq 1 10); do
            echo bench-password | pb user add "bench$n@bench.test" --password-stdin >/dev/null
            echo bench-password | pb user add "small$n@bench.test" --password-stdin >/dev/null
            pb import "bench$n@bench.test" "$BASE/corpus"
            pb import "small$n@bench.test" "$BASE/small"
        done
        if [ "$POP3_USERS" -gt 0 ]; then
            "$PY" "$HERE/pop3_load.py" populate "$BASE/pillarbox/data" --clients "$POP3_USERS" --messages 200 --size 20000
        fi
    fi
    [ -d "$BASE/dovecot" ] || dc setup
}

cleanup() {
    pb_stop
    dc stop || true
    [ -n "${KEEP:-}" ] || rm -rf "$BASE/pillarbox/data" "$BASE/dovecot"
}

server() {  # $1 pillarbox|dovecot: start it, set PID PORT_IMAPS PORT_POP3 PORT_POP3S CAFILE
    if [ "$1" = pillarbox ]; then
        pb_start; PID=$PB_PID; PORT_IMAPS=$PB_PORT_IMAPS PORT_POP3=$PB_PORT_POP3 PORT_POP3S=$PB_PORT_POP3S
        CAFILE=$BASE/pillarbox/data/tls/cert.pem
    else
        PID=$(dc start); PORT_IMAPS=$DC_PORT_IMAPS PORT_POP3=$DC_PORT_POP3 PORT_POP3S=$DC_PORT_POP3S
        CAFILE=$BASE/dovecot/cert.pem
    fi
}

stop_server() { if [ "$1" = pillarbox ]; then pb_stop; else dc stop; fi; }

measured() {  # $1 label, rest: command; records the server tree's CPU seconds around it
    local label=$1 before after
    shift
    before=$(cpu "$PID")
    "$@"
    after=$(cpu "$PID")
    local used; used=$("$PY" -c "print(round($after - $before, 2))")
    echo "server CPU: $used s"
    echo "{\"label\": \"$label\", \"server_cpu_s\": $used}" >>"$OUT"
}

imap_point() {  # $1 server, $2 clients, $3 round: a fresh server, a warm-up, the measured run
    server "$1"
    "$PY" "$HERE/imap_load.py" run --port "$PORT_IMAPS" --cafile "$CAFILE" --clients 10 --sessions 10 \
        --label "$1-warmup" >/dev/null
    note "IMAP $1, $2 clients, round $3"
    "$PY" "$HERE/imap_load.py" run --port "$PORT_IMAPS" --cafile "$CAFILE" --clients "$2" \
        --sessions "$IMAP_SESSIONS" --duration "$IMAP_DURATION" --server-pid "$PID" \
        --label "imap-$1-$2" --server "$1" --round "$3" --json-out "$OUT"
    stop_server "$1"
}

imap() {  # the servers take turns, point by point, so both see the same machine
    for round in $(seq 1 "$ROUNDS"); do
        for clients in $IMAP_CLIENTS; do
            imap_point pillarbox "$clients" "$round"
            imap_point dovecot "$clients" "$round"
        done
    done
}

pop3() {
    for name in pillarbox dovecot; do
        server "$name"
        note "POP3 warm-up $name"
        "$PY" "$HERE/pop3_load.py" run --port "$PORT_POP3S" --tls implicit --insecure --clients 50 | head -3
        for mode in implicit stls; do
            port=$PORT_POP3S; [ "$mode" = stls ] && port=$PORT_POP3
            for round in 1 2; do
                note "POP3 $name, 50 clients, $mode (round $round)"
                measured "pop3-$name-$mode-$round" "$PY" "$HERE/pop3_load.py" run --port "$port" --tls "$mode" \
                    --insecure --clients 50
            done
        done
        stop_server "$name"
    done
}

idle_run() {  # $1 server, $2 user template, $3 sessions, $4 checkpoints
    server "$1"
    note "IDLE memory $1, $2, $3 sessions"
    timeout 1200 "$PY" "$HERE/imap_idle_memory.py" --port "$PORT_IMAPS" --cafile "$CAFILE" --server-pid "$PID" \
        --user-template "$2" --sessions "$3" --checkpoints "$4" --label "idle-$1-${2%%\{*}" --json-out "$OUT" || true
    stop_server "$1"
}

idle() {
    idle_run dovecot 'small{n}@bench.test' "$IDLE_SESSIONS" 1000,5000
    idle_run pillarbox 'small{n}@bench.test' "$IDLE_SESSIONS" 1000,5000
    idle_run dovecot 'bench{n}@bench.test' "$DC_BIG_IDLE" 1000,2000,5000
    idle_run pillarbox 'bench{n}@bench.test' "$PB_BIG_IDLE" 1000
}

machine() {
    note "machine"
    echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    echo "memory: $(free -g | awk '/Mem:/ {print $2}') GB; kernel $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "$("$PY" -V); $(dovecot --version | cut -d' ' -f1); fd limit $(ulimit -n)"
}

step=${1:-all}
trap cleanup EXIT
machine
setup
case $step in
    setup) ;;
    imap) imap ;;
    pop3) pop3 ;;
    idle) idle ;;
    all) imap; pop3; idle ;;
    *) echo "usage: $0 [all|setup|imap|pop3|idle]" >&2; exit 2 ;;
esac
echo; echo "results: $OUT"
