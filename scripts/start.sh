#!/usr/bin/env bash
# npm start: a local cluster with the seed's schema, its status and its shard map.
# Run again, it reuses the running cluster; `npx dpg down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
node bin/dpg.mjs up "$@"
echo
echo "shard map (citus_shards):"
node bin/dpg.mjs shards "$@" | head -n 20
echo "... ('npx dpg shards' lists all)"
echo
# Demo memories through the coordinator, then the seed's two searches (skipped when loaded already).
node bin/dpg.mjs demo "$@"
echo
echo "client URL: $(node bin/dpg.mjs url "$@")"
echo "try:        psql \"$(node bin/dpg.mjs url "$@")\" -c '\\d memory_entries'"
