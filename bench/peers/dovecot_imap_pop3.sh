#!/bin/bash
# Reference peer for the IMAP and POP3 benchmarks: Debian's Dovecot (dovecot-imapd, dovecot-pop3d) in
# its own instance — own dovecot.conf, base_dir, state, log, self-signed ECDSA P-256 certificate (the
# key type Pillarbox generates) and Maildirs, all under BASE. Nothing of /etc/dovecot is used or changed.
# Listens on loopback only:
#
#   127.0.0.1:10993  IMAP, implicit TLS        127.0.0.1:10143  IMAP (STARTTLS; LOGIN needs TLS)
#   127.0.0.1:10995  POP3, implicit TLS        127.0.0.1:10110  POP3 (STLS; USER/PASS needs TLS)
#
# Mail (the same bytes Pillarbox gets):
#   IMAP: bench1..bench$IMAP_USERS@bench.test, each INBOX a copy of the Maildir CORPUS
#         (python bench/imap_load.py corpus CORPUS), INBOX indexed before the run (doveadm index);
#         small1..small$SMALL_USERS@bench.test, each INBOX a copy of SMALL_CORPUS (a 20-message corpus)
#   POP3: load1..load$POP3_USERS@example.com, each $POP3_MESSAGES messages of $POP3_SIZE octets made by
#         bench/pop3_load.py's own message generator
# Passwords: passwd-file with {PLAIN} "bench-password" / "load-password" (no hashing cost; Pillarbox's
# side uses PILLARBOX_CHEAP_HASHES=1 for the same reason). PASSWORD_SCHEME=ARGON2ID (or any scheme
# `doveadm pw` knows) stores hashes made by `doveadm pw -s SCHEME` instead.
#
# Configuration: Debian's defaults plus only what the comparison needs: an instance of its own (base_dir,
# state_dir, log), loopback listeners on their own ports, the certificate, passwd-file users, Maildir
# under BASE, and limits raised so that 10,000 concurrent IMAP sessions fit (process_limit,
# client_limit, mail_max_userip_connections). Login processes run in Dovecot's default "high-security
# mode" (service_count = 1: one imap-login process per connection) unless LOGIN_MODE=performance
# (service_count = 0, one imap-login per CPU serving many clients: what Dovecot's docs suggest for
# busy servers; the setting of this repository's earlier IMAP figures).
#
#   BASE=/tmp/dc CORPUS=/tmp/corpus bench/peers/dovecot_imap_pop3.sh setup    # config, cert, users, mail
#   BASE=/tmp/dc bench/peers/dovecot_imap_pop3.sh start                        # daemon; prints master pid
#   BASE=/tmp/dc bench/peers/dovecot_imap_pop3.sh pid | stop | clean
#
# Needs root and, once: DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd dovecot-pop3d
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
BASE=${BASE:?set BASE to a scratch directory}
IMAP_USERS=${IMAP_USERS:-10}
SMALL_USERS=${SMALL_USERS:-10}
POP3_USERS=${POP3_USERS:-50}
POP3_MESSAGES=${POP3_MESSAGES:-200}
POP3_SIZE=${POP3_SIZE:-20000}
LOGIN_MODE=${LOGIN_MODE:-security}
PASSWORD_SCHEME=${PASSWORD_SCHEME:-PLAIN}
IMAP_PORT=${IMAP_PORT:-10143} IMAPS_PORT=${IMAPS_PORT:-10993}
POP3_PORT=${POP3_PORT:-10110} POP3S_PORT=${POP3S_PORT:-10995}
CONF=$BASE/dovecot.conf

config() {
    local login
    if [ "$LOGIN_MODE" = performance ]; then
        login="service_count = 0
  process_min_avail = $(nproc)
  client_limit = 12000
  vsz_limit = 1G"
    else
        login="service_count = 1
  process_limit = 12000"
    fi
    cat >"$CONF" <<EOF
protocols = imap pop3
listen = 127.0.0.1
base_dir = $BASE/run
state_dir = $BASE/state
log_path = $BASE/dovecot.log
ssl = required
ssl_cert = <$BASE/cert.pem
ssl_key = <$BASE/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:$BASE/mail/%d/%n
passdb {
  driver = passwd-file
  args = scheme=$PASSWORD_SCHEME username_format=%u $BASE/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $BASE/passwd
  default_fields = uid=nobody gid=nogroup home=$BASE/mail/%d/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
  $login
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S_PORT
    ssl = yes
  }
  $login
}
service imap {
  process_limit = 12000
}
service pop3 {
  process_limit = 12000
}
service auth {
  client_limit = 19000
}
service anvil {
  client_limit = 19000
}
protocol imap {
  mail_max_userip_connections = 20000
}
protocol pop3 {
  mail_max_userip_connections = 1000
}
EOF
}

setup() {
    command -v dovecot >/dev/null || { echo "missing dovecot: apt-get install -y dovecot-imapd dovecot-pop3d" >&2; exit 1; }
    : "${CORPUS:?set CORPUS to the Maildir made by imap_load.py corpus}"
    : "${SMALL_CORPUS:?set SMALL_CORPUS to a small Maildir made by imap_load.py corpus}"
    mkdir -p "$BASE"/{run,state,mail}
    chmod 755 "$BASE"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=dovecot.bench.test" -keyout "$BASE/key.pem" -out "$BASE/cert.pem" 2>/dev/null
    : >"$BASE/passwd"
    local bench_pw="{PLAIN}bench-password" load_pw="{PLAIN}load-password"
    if [ "$PASSWORD_SCHEME" != PLAIN ]; then
        bench_pw=$(doveadm pw -s "$PASSWORD_SCHEME" -p bench-password)
        load_pw=$(doveadm pw -s "$PASSWORD_SCHEME" -p load-password)
    fi
    mkdir -p "$BASE/mail/bench.test"
    for n in $(seq 1 "$IMAP_USERS"); do
        echo "bench$n@bench.test:$bench_pw::::::" >>"$BASE/passwd"
        cp -r "$CORPUS" "$BASE/mail/bench.test/bench$n"
    done
    for n in $(seq 1 "$SMALL_USERS"); do
        echo "small$n@bench.test:$bench_pw::::::" >>"$BASE/passwd"
        cp -r "$SMALL_CORPUS" "$BASE/mail/bench.test/small$n"
    done
    "$PYTHON" - "$BASE/pop3-messages" "$POP3_MESSAGES" "$POP3_SIZE" <<EOF
import sys
from pathlib import Path
sys.path.insert(0, "$HERE")
from pop3_load import _message
root, count, size = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for sub in ("cur", "new", "tmp"):
    (root / sub).mkdir(parents=True, exist_ok=True)
for i in range(1, count + 1):
    (root / "cur" / f"{1704067200 + i}.M{i}P1.bench:2,").write_bytes(_message(i, size))
EOF
    for n in $(seq 1 "$POP3_USERS"); do
        echo "load$n@example.com:$load_pw::::::" >>"$BASE/passwd"
        mkdir -p "$BASE/mail/example.com"
        cp -r "$BASE/pop3-messages" "$BASE/mail/example.com/load$n"
    done
    chown -R nobody:nogroup "$BASE/mail"
    start >/dev/null  # doveadm index asks the running server's auth for the user
    for n in $(seq 1 "$IMAP_USERS"); do doveadm -c "$CONF" index -u "bench$n@bench.test" INBOX; done
    for n in $(seq 1 "$SMALL_USERS"); do doveadm -c "$CONF" index -u "small$n@bench.test" INBOX; done
    for n in $(seq 1 "$POP3_USERS"); do doveadm -c "$CONF" index -u "load$n@example.com" INBOX; done
    stop
    echo "dovecot peer set up in $BASE ($(find "$BASE/mail" -path '*/cur/*' -type f | wc -l) messages)"
}

start() {
    config  # LOGIN_MODE may differ from setup's
    dovecot -c "$CONF"
    for _ in $(seq 100); do
        if [ -s "$BASE/run/master.pid" ] && (exec 3<>/dev/tcp/127.0.0.1/$IMAPS_PORT) 2>/dev/null; then
            cat "$BASE/run/master.pid"; return
        fi
        sleep 0.1
    done
    echo "dovecot did not start; see $BASE/dovecot.log" >&2
    exit 1
}

pid() { cat "$BASE/run/master.pid"; }

stop() {
    [ -s "$BASE/run/master.pid" ] || return 0
    local master
    master=$(cat "$BASE/run/master.pid")
    kill -TERM "$master" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || return 0; sleep 0.1; done
    echo "dovecot master $master did not stop" >&2
}

clean() { stop; rm -rf "$BASE"; }

"${1:?usage: $0 setup|start|pid|stop|clean}"
