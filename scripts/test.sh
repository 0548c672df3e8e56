#!/usr/bin/env bash
# Install every test dependency (Debian packages and Python packages) and run the whole test suite.
# This is the README's second command and exactly what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(strace swaks libnet-ssleay-perl libio-socket-ssl-perl fetchmail mpop curl isync libsasl2-modules python3-venv
                 chromium chromium-driver pebble haproxy sieve-connect rspamd redis-server postgresql)

if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    missing=()
    for package in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if ((${#missing[@]})); then
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q '.[test]'

.venv/bin/ruff check src tests
set +e
.venv/bin/python -m pytest -n 2 --durations=15 "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
