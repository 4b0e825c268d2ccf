#!/usr/bin/env bash
# npm run test:unit: the pure stages (planner, physical planning, merge, codec, config,
# routing) without any database, cluster or network: runnable alone in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
shopt -s globstar nullglob
files=(test/unit/**/*.test.ts)
exec npx tsx --test --test-concurrency=2 "${files[@]}"
