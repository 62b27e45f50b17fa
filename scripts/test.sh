#!/usr/bin/env bash
# The README's test command: sets up what the tests need, then runs every test.
#
#   scripts/test.sh [extra cargo test arguments]
#
# 1. redis-server (the tests start their own private servers on free 127.0.0.1 ports, never
#    the machine's Redis), openssl (TLS test certificates) and faketime (clock-skew fault
#    tests): installed with apt-get when missing and this runs as root, else named and required.
# 2. Python arq 0.28.0 from PyPI for the interop tests: target/python-venv, built once by
#    scripts/python-env.sh (the tests would also build it on first use).
# 3. cargo test --workspace --all-features --no-fail-fast
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || command -v faketime >/dev/null 2>&1 \
  || missing+=(faketime)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "the tests need ${missing[*]}: install them (Debian: sudo apt-get install ${missing[*]}) and run again"
    exit 1
  fi
fi
redis-server --version >&2

log "Python arq 0.28.0 for the interop tests"
if [ -z "${ARQ_PYTHON:-}" ]; then
  ARQ_PYTHON="$(scripts/python-env.sh)"
  export ARQ_PYTHON
fi
"$ARQ_PYTHON" -m arq --version >&2

log "cargo test --workspace --all-features --no-fail-fast $*"
exec cargo test --workspace --all-features --no-fail-fast "$@"
