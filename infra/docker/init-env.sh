#!/usr/bin/env bash
# Writes .env for docker compose from infra/docker/env.example, with a fresh random value for every
# `generate` (a letter, then 40 hex digits: safe for nats.conf and for a URL). An existing .env is
# kept, and only checked for the variables it lacks. Run by `make up`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
example="$root/infra/docker/env.example"
env_file="${1:-$root/.env}"

random_secret() { printf 'p%s' "$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"; }

if [ ! -e "$env_file" ]; then
  umask 077
  while IFS= read -r line; do
    if [[ "$line" =~ ^([A-Z_][A-Z0-9_]*)=generate$ ]]; then
      printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(random_secret)"
    else
      printf '%s\n' "$line"
    fi
  done <"$example" >"$env_file"
  printf 'init-env: wrote %s with new random passwords (keep it; it is not committed)\n' "$env_file" >&2
  exit 0
fi

missing=()
while IFS= read -r line; do
  if [[ "$line" =~ ^([A-Z_][A-Z0-9_]*)=generate$ ]] && ! grep -q "^${BASH_REMATCH[1]}=." "$env_file"; then
    missing+=("${BASH_REMATCH[1]}")
  fi
done <"$example"
if [ ${#missing[@]} -gt 0 ]; then
  printf 'init-env: %s lacks %s; add them (see infra/docker/env.example) or move it away to regenerate\n' \
    "$env_file" "${missing[*]}" >&2
  exit 1
fi
