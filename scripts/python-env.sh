#!/usr/bin/env bash
# Creates (once) the Python virtualenv that tests/interop.rs drives real Python arq with, and
# prints the path of its interpreter on stdout (everything else goes to stderr).
#
#   venv:      ${ARQ_PYTHON_VENV:-target/python-venv}   (relative paths are from the repo root)
#   packages:  tests/python/requirements.txt (pinned: arq 0.28.0, msgpack, redis-py)
#   python:    ${PYTHON:-python3}; it must have the venv module (Debian: python3-venv)
#
# Use: export ARQ_PYTHON="$(scripts/python-env.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/python/requirements.txt
venv="${ARQ_PYTHON_VENV:-target/python-venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
py="$venv/bin/python"
stamp="$venv/.arq-requirements"

log() { printf 'python-env: %s\n' "$*" >&2; }

if [ -x "$py" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp" \
  && "$py" -c 'import arq, msgpack, redis' 2>/dev/null; then
  log "up to date: $venv"
else
  base="${PYTHON:-python3}"
  if ! command -v "$base" >/dev/null 2>&1 || ! "$base" -c 'import venv, ensurepip' 2>/dev/null; then
    # A bare Debian has no python3, or python3 without the venv module's pip.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing python3 and python3-venv with apt-get"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq python3 python3-venv >&2
      base=python3
    else
      log "$base with the venv module is needed (Debian: apt-get install python3-venv)"
      exit 1
    fi
  fi
  if [ ! -x "$py" ] || ! "$py" -c 'import sys' 2>/dev/null; then
    log "creating $venv with $("$base" --version 2>&1)"
    rm -rf "$venv"
    "$base" -m venv "$venv" >&2
  fi
  log "installing $(grep -v '^#' "$req" | tr '\n' ' ')"
  "$py" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" >&2
  cp "$req" "$stamp"
fi

version="$("$py" -c 'import arq.version; print(arq.version.VERSION)')"
[ "$version" = "0.28.0" ] || { log "expected arq 0.28.0 in $venv, found $version"; exit 1; }
echo "$py"
