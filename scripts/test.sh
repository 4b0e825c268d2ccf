#!/usr/bin/env bash
# npm test: installs what is missing, type-checks, then runs every test against real
# PostgreSQL, Patroni and etcd processes (node:test through tsx).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
# Types, and the dependency rule between the stages (.dependency-cruiser.cjs).
npm run -s typecheck
shopt -s globstar nullglob
# The pure stages first (seconds), then the tests against real clusters.
files=(test/unit/**/*.test.ts)
for file in test/**/*.test.ts; do [[ $file == test/unit/* ]] || files+=("$file"); done
exec npx tsx --test --test-concurrency=2 "${files[@]}"
