#!/usr/bin/env bash
# npm test: installs what is missing, type-checks, then runs every test against real
# PostgreSQL, Patroni and etcd processes (node:test through tsx).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc --noEmit
shopt -s globstar nullglob
files=(test/**/*.test.ts)
exec npx tsx --test --test-concurrency=2 "${files[@]}"
