#!/usr/bin/env bash
# The main job on the bundled sample: import it into a demo store and show what is there.
# Later issues extend this with train, backtest and paper trading.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(swift build --show-bin-path)/scalper
store=${SCALPER_STORE:-datasets/demo.sqlite}

echo "== scalper info"
"$bin" info
echo
echo "== scalper data import datasets/sample   (store: $store)"
"$bin" data import --store "$store" datasets/sample
echo
echo "== scalper data list"
"$bin" data list --store "$store"
echo
echo "== scalper data export (first 3 bars of FILUSDT 2023-09-15)"
"$bin" data export --store "$store" --symbol FILUSDT --from 2023-09-15T00:00 --to 2023-09-15T00:03
echo
echo "demo: done"
