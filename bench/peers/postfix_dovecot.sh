#!/bin/bash
# Reference peer: Debian's Postfix (smtpd on 127.0.0.1:2526) delivering a virtual domain to Dovecot
# over LMTP (unix socket), Maildir under a temporary directory, fsync left at its defaults
# (Postfix fsyncs each queue file before its 250; Dovecot mail_fsync=optimized fsyncs each mail).
# Both run in the foreground as children of this script, in their own instance (own config, queue,
# sockets, logs): nothing of the system's /etc/postfix or /etc/dovecot is used or changed.
#
#   bench/peers/postfix_dovecot.sh [run]        set up, run the matrix (smtp_load.py, then smtp-source,
#                                               then smtp_load.py again under strace), tear down
#   OUT=results.jsonl KEEP=1 BASE=/tmp/peer ... same, appending points to OUT, keeping BASE
#   CONNECTIONS=1,10,50 SIZES=4096,102400 MESSAGES=4096=2000,102400=500 PASSES=clean,smtp-source,strace
#   POINTS=4096x1,4096x10 (instead of SIZES x CONNECTIONS)  PER_CONNECTION=1 (messages per connection)  ROUND=1
#
# Configuration: Debian's package defaults (master.cf as shipped, main.cf's defaults) plus only what the
# comparison needs: an instance of its own (queue_directory, data_directory, chroot off since the
# queue is not a prepared jail, maillog_file), loopback only, the virtual domain and its one user
# delivered over LMTP to Dovecot (which stores Maildir with its defaults: mail_fsync = optimized), TLS
# off on both sides (the load tool speaks plain SMTP), and nothing else: no milters, no content filter.
#
# Needs root (Postfix's master and Dovecot drop privileges themselves) and, once:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core dovecot-lmtpd strace
#   (answer "No configuration" for Postfix; this script writes its own main.cf in BASE)
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
PORT=${PORT:-2526}
DOMAIN=bench.test
RCPT=bench@bench.test
CONNECTIONS=${CONNECTIONS:-1,10,50}
SIZES=${SIZES:-4096,102400}
MESSAGES=${MESSAGES:-4096=2000,102400=500}
PASSES=${PASSES:-clean,smtp-source,strace}
POINTS=${POINTS:-}
PER_CONNECTION=${PER_CONNECTION:-0}
ROUND=${ROUND:-0}
BASE=${BASE:-$(mktemp -d /tmp/peer-postfix-dovecot.XXXXXX)}
mkdir -p "$BASE"
MASTER_PID= DOVECOT_PID=

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y postfix dovecot-core dovecot-lmtpd strace" >&2; exit 1; }; }

setup() {
    need postconf; need dovecot; need smtp-source
    chmod 755 "$BASE"
    mkdir -p "$BASE"/{etc,spool,lib,dovecot/run,dovecot/state,mail}
    chown postfix "$BASE/lib"
    chown nobody:nogroup "$BASE/mail"

    # Dovecot: LMTP only, static virtual users stored as Maildir under BASE/mail/DOMAIN/USER
    cat >"$BASE/dovecot/dovecot.conf" <<EOF
protocols = lmtp
listen = 127.0.0.1
base_dir = $BASE/dovecot/run
state_dir = $BASE/dovecot/state
log_path = $BASE/dovecot/dovecot.log
ssl = no
mail_location = maildir:$BASE/mail/%d/%n
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$BASE/mail/%d/%n
}
passdb {
  driver = static
  args = nopassword=y
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
EOF

    # Postfix: Debian's master.cf with chroot off (the queue is in BASE, not a prepared jail),
    # smtpd on loopback only, plus the postlog service for its log file
    sed -E -e 's/^smtp( +)inet( +[^ ]+ +[^ ]+ +)y /127.0.0.1:'"$PORT"'\1inet\2n /' \
           -e '/^[a-z].* (unix|inet|unix-dgram) /s/^([^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +)y /\1n /' \
           /usr/share/postfix/master.cf.dist >"$BASE/etc/master.cf"
    cat >"$BASE/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $BASE/spool
data_directory = $BASE/lib
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.bench.invalid
mydomain = bench.invalid
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
biff = no
append_dot_mydomain = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = inline:{ $RCPT=ok }
virtual_transport = lmtp:unix:$BASE/dovecot/run/lmtp
maillog_file = $BASE/maillog
maillog_file_prefixes = $BASE
smtp_tls_security_level = none
smtpd_tls_security_level = none
EOF
    postfix -c "$BASE/etc" check >/dev/null 2>&1 || postfix -c "$BASE/etc" check
}

start() {  # $1: optional strace log; the processes run as this script's children
    local trace=() strace=(strace -f --seccomp-bpf -qq -e trace=fsync,fdatasync,syncfs -o)
    [ -n "${1:-}" ] && trace=("${strace[@]}" "$1.dovecot")
    "${trace[@]}" dovecot -F -c "$BASE/dovecot/dovecot.conf" &
    DOVECOT_PID=$!
    [ -n "${1:-}" ] && trace=("${strace[@]}" "$1.postfix")
    "${trace[@]}" /usr/lib/postfix/sbin/master -c "$BASE/etc" -d &
    MASTER_PID=$!
    for _ in $(seq 100); do
        if [ -S "$BASE/dovecot/run/lmtp" ] && (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then return; fi
        sleep 0.1
    done
    echo "peer did not start; see $BASE/maillog and $BASE/dovecot/dovecot.log" >&2
    exit 1
}

stop() {  # signal the servers themselves (under strace, strace's child), then reap
    local pid
    for pid in $MASTER_PID $DOVECOT_PID; do
        if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = strace ]; then
            kill -TERM $(cat /proc/"$pid"/task/"$pid"/children) 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in $MASTER_PID $DOVECOT_PID; do wait "$pid" 2>/dev/null || true; done
    MASTER_PID= DOVECOT_PID=
}

cleanup() {
    stop
    [ -z "${KEEP:-}" ] && rm -rf "$BASE"
    return 0
}

matrix() {  # $1: label, $2: tool, $3: optional strace log
    local extra=()
    [ -n "${3:-}" ] && extra=(--strace-log "$3.postfix,$3.dovecot")
    [ -n "${OUT:-}" ] && extra+=(--json-out "$OUT")
    [ -n "$POINTS" ] && extra+=(--points "$POINTS")
    "$PYTHON" "$HERE/matrix.py" --label "$1" --tool "$2" --port "$PORT" --recipient "$RCPT" \
        --server postfix-dovecot --round "$ROUND" --per-connection "$PER_CONNECTION" \
        --roots "$MASTER_PID" "$DOVECOT_PID" --count "maildir:$BASE/mail/$DOMAIN/bench" \
        --connections "$CONNECTIONS" --sizes "$SIZES" --messages "$MESSAGES" "${extra[@]}"
}

run() {
    trap cleanup EXIT
    setup
    for pass in ${PASSES//,/ }; do
        case $pass in
            clean)       start; matrix postfix-dovecot smtp_load; stop ;;
            smtp-source) start; matrix postfix-dovecot-smtp-source smtp-source; stop ;;
            strace)      start "$BASE/strace.log"; matrix postfix-dovecot-strace smtp_load "$BASE/strace.log"; stop ;;
        esac
    done
    echo "# maildir holds $(find "$BASE/mail" -path '*/new/*' -type f | wc -l) messages;" \
         "deferred in queue: $(find "$BASE/spool/deferred" -type f | wc -l)"
}

"${1:-run}"
