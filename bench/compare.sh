#!/bin/bash
# Every row of bench/README.md's table, Pillarbox and its peer taking turns, ROUNDS rounds; the raw points
# go to OUT (JSON lines) and the table is printed at the end (bench/table.py OUT prints it again).
#
#   SMTP in, plain, one message per connection (bench/smtp_load.py --per-connection 1), 20,000 messages
#   a point: 4 KB at 1, 10 and 50 connections, 100 KB at 10. Per round: Pillarbox on a fresh data_dir
#   with its default configuration (bench/run_pillarbox.py; a point ends when the search indexer has
#   caught up, so its CPU counts), then Postfix -> Dovecot LMTP (bench/peers/postfix_dovecot.sh).
#   IMAP over TLS, the client session loop of bench/imap_load.py, 10 and 50 clients, 60 s a point,
#   each point on a fresh start of each server in turn (bench/run_imap_pop3.sh imap).
#
# Every point records the server's CPU and the machine's 1-minute load average at its start and end:
# take the rounds on a quiet machine (load average well below 1 before starting).
#
#   bench/compare.sh                      # about an hour on 2 CPUs; needs root, and once:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core dovecot-lmtpd \
#       dovecot-imapd dovecot-pop3d strace      (answer "No configuration" for Postfix)
#   ROUNDS=3 OUT=bench/results-DATE.jsonl SMTP_MESSAGES=4096=20000,102400=20000 IMAP_DURATION=60 \
#   SMTP_POINTS=4096x1,4096x10,4096x50,102400x10 IMAP_CLIENTS="10 50" BASE=/tmp/compare-imap
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$HERE/results-$(date -u +%Y-%m-%d).jsonl}
SMTP_POINTS=${SMTP_POINTS:-4096x1,4096x10,4096x50,102400x10}
SMTP_MESSAGES=${SMTP_MESSAGES:-4096=20000,102400=20000}
export IMAP_DURATION=${IMAP_DURATION:-60} IMAP_CLIENTS=${IMAP_CLIENTS:-10 50}
export POP3_USERS=${POP3_USERS:-0}  # the IMAP setup leaves out the POP3 maildrops

echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), Pillarbox at $(git -C "$REPO" rev-parse --short HEAD)"
for round in $(seq 1 "$ROUNDS"); do
    echo "# SMTP round $round: Pillarbox"
    "$PY" "$HERE/run_pillarbox.py" --passes clean --points "$SMTP_POINTS" --per-connection 1 \
        --messages "$SMTP_MESSAGES" --round "$round" --out "$OUT" >/dev/null
    echo "# SMTP round $round: Postfix -> Dovecot"
    OUT=$OUT PASSES=clean POINTS=$SMTP_POINTS MESSAGES=$SMTP_MESSAGES PER_CONNECTION=1 ROUND=$round PYTHON=$PY \
        bash "$HERE/peers/postfix_dovecot.sh" >/dev/null
done
OUT=$OUT ROUNDS=$ROUNDS PY=$PY BASE=${BASE:-/tmp/compare-imap} bash "$HERE/run_imap_pop3.sh" imap
"$PY" "$HERE/table.py" "$OUT"
