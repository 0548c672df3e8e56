#!/bin/bash
# A login-heavy IMAP load, Pillarbox against Debian's Dovecot: many short sessions, each a poll
# (TLS, LOGIN, SELECT INBOX, UID FETCH 1:* (FLAGS), LOGOUT: bench/imap_load.py --profile login), so the
# cost of logging in dominates. Both servers take turns, ROUNDS times, at each client count; server CPU
# is counted around every run (bench/proctree.py). Loopback only; results in BASE/results.jsonl.
#
#   1. corpus: a 20-message Maildir (imap_load.py corpus, seed 1)
#   2. Pillarbox: users small1..10@bench.test with REAL password hashes (the [auth] defaults: argon2id
#      19 MiB / t=2, SCRAM 600,000 iterations; no PILLARBOX_CHEAP_HASHES), the corpus in each INBOX
#   3. Dovecot: the same users and mail (peers/dovecot_imap_pop3.sh; passwords as DC_SCHEME says)
#   4. for each round, for each client count: Pillarbox, then Dovecot (fresh start, a warm-up, a
#      measured run of DURATION seconds)
#
#   bench/run_imap_logins.sh            BASE=/tmp/imap-logins-bench KEEP=1 to reuse/keep
#   CLIENTS="10 50" DURATION=30 ROUNDS=3 PB_WORKERS=2 DC_SCHEME=PLAIN|ARGON2ID
#   PB_CONF_EXTRA='cache_ttl = 0' (lines added to Pillarbox's [auth] table)
#
# Needs root (Dovecot) and, once: DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd dovecot-pop3d
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/work/venv/bin/python}
PILLARBOX=${PILLARBOX:-/work/venv/bin/pillarbox}
BASE=${BASE:-/tmp/imap-logins-bench}
OUT=${OUT:-$BASE/results.jsonl}
CLIENTS=${CLIENTS:-10 50}
DURATION=${DURATION:-30}
ROUNDS=${ROUNDS:-3}
PB_WORKERS=${PB_WORKERS:-2}
DC_SCHEME=${DC_SCHEME:-PLAIN}
PB_CONF=$BASE/pillarbox/pillarbox.toml
PB_PORT=12993 DC_PORT=10993
PB_PID=
unset PILLARBOX_CHEAP_HASHES
ulimit -n "$(ulimit -Hn)"
# shellcheck source=bench/pillarbox_server.sh
. "$HERE/pillarbox_server.sh"

dc() { local root=$BASE; BASE=$root/dovecot CORPUS=$root/small SMALL_CORPUS=$root/small IMAP_USERS=0 POP3_USERS=0 \
       PASSWORD_SCHEME=$DC_SCHEME PYTHON=$PY "$HERE/peers/dovecot_imap_pop3.sh" "$@"; }
pb() { "$PILLARBOX" --config "$PB_CONF" "$@"; }
note() { echo; echo "### $*  [$(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)]"; }

setup() {
    mkdir -p "$BASE/pillarbox"
    [ -d "$BASE/small" ] || "$PY" "$HERE/imap_load.py" corpus "$BASE/small" --messages 20 --seed 1
    if [ ! -d "$BASE/pillarbox/data" ]; then
        cat >"$PB_CONF" <<EOF
hostname = "mx.bench.test"
data_dir = "$BASE/pillarbox/data"

[listen]
imaps = ["127.0.0.1:$PB_PORT"]

[limits]
max_connections = 19000
max_connections_per_ip = 19000
EOF
        [ -z "${PB_CONF_EXTRA:-}" ] || printf '\n[auth]\n%s\n' "$PB_CONF_EXTRA" >>"$PB_CONF"
        "$PY" "$HERE/init_store.py" "$BASE/pillarbox/data"  # admin commands need a store
        pb domain add bench.test
        for n in $(seq 1 10); do
            echo bench-password | pb user add "small$n@bench.test" --password-stdin >/dev/null
            pb import "small$n@bench.test" "$BASE/small"
        done
    fi
    [ -d "$BASE/dovecot" ] || dc setup
}

cleanup() {
    pb_stop
    dc stop || true
    [ -n "${KEEP:-}" ] || rm -rf "$BASE/pillarbox/data" "$BASE/dovecot"
}

one_run() {  # $1 server, $2 clients, $3 round
    local port cafile pid before after
    if [ "$1" = pillarbox ]; then
        pb_start; pid=$PB_PID; port=$PB_PORT; cafile=$BASE/pillarbox/data/tls/cert.pem
    else
        pid=$(dc start); port=$DC_PORT; cafile=$BASE/dovecot/cert.pem
    fi
    "$PY" "$HERE/imap_load.py" run --profile login --port "$port" --cafile "$cafile" --clients 10 --sessions 50 \
        --user-template 'small{n}@bench.test' --label "$1-warmup" >/dev/null
    note "logins: $1, $2 clients, round $3"
    before=$("$PY" "$HERE/proctree.py" "$pid")
    "$PY" "$HERE/imap_load.py" run --profile login --port "$port" --cafile "$cafile" --clients "$2" \
        --sessions 1000000 --duration "$DURATION" --user-template 'small{n}@bench.test' \
        --label "logins-$1-$2-r$3" --json-out "$OUT"
    after=$("$PY" "$HERE/proctree.py" "$pid")
    local used; used=$("$PY" -c "print(round($after - $before, 2))")
    echo "server CPU: $used s"
    echo "{\"label\": \"logins-$1-$2-r$3\", \"server_cpu_s\": $used, \"loadavg_1m\": $(cut -d' ' -f1 /proc/loadavg)}" >>"$OUT"
    if [ "$1" = pillarbox ]; then pb_stop; else dc stop; fi
}

trap cleanup EXIT
note "machine: $(nproc) CPUs, $("$PY" -V), $(dovecot --version | cut -d' ' -f1), Dovecot passwords {$DC_SCHEME}"
setup
for round in $(seq 1 "$ROUNDS"); do
    for clients in $CLIENTS; do
        one_run pillarbox "$clients" "$round"
        one_run dovecot "$clients" "$round"
    done
done
echo; echo "results: $OUT"
