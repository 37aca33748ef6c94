#!/bin/sh
# Creates deploy/.env from .env.example (unless it exists) and fills every
# empty secret (*_PASSWORD=, *_KEY=) with a random value: 'w' and 48 hex
# digits, safe for nats-server, JSON and URLs. Values already set are kept,
# so it is safe to run again after .env.example gains a variable.
#
#   ./init-env.sh [ENV_FILE]
set -eu
cd "$(dirname "$0")"
env_file=${1:-.env}
if [ ! -f "$env_file" ]; then
  cp .env.example "$env_file"
  chmod 600 "$env_file"
  echo "init-env: created $env_file"
fi
# Variables .env.example has and the file lacks are appended.
grep -E '^[A-Z][A-Z0-9_]*=' .env.example | while IFS= read -r line; do
  name=${line%%=*}
  grep -q "^$name=" "$env_file" || printf '%s\n' "$line" >>"$env_file"
done
for name in $(grep -E '^[A-Z][A-Z0-9_]*_(PASSWORD|KEY)=$' "$env_file" | cut -d= -f1); do
  value=w$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  tmp=$(mktemp)
  sed "s/^$name=\$/$name=$value/" "$env_file" >"$tmp"
  cat "$tmp" >"$env_file"
  rm -f "$tmp"
  echo "init-env: generated $name"
done
