#!/usr/bin/env bash
# Installs what is missing: npm dependencies, then the system packages (dpg setup).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsx ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node bin/dpg.mjs setup
