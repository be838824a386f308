#!/usr/bin/env bash
# The main job on the bundled sample: import it, train a model on August 2023, evaluate it on
# September (which it never saw), and backtest it on September through the Trading code.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(swift build --show-bin-path)/scalper
store=${SCALPER_STORE:-datasets/demo.sqlite}
models=${SCALPER_DEMO_MODELS:-models}
runs=${SCALPER_DEMO_RUNS:-datasets/backtest_runs}
name=demo-$(date -u +%Y%m%dT%H%M%S)

echo "== scalper info"
"$bin" info
echo
echo "== scalper data import datasets/sample   (store: $store)"
"$bin" data import --store "$store" datasets/sample
echo
echo "== scalper data list"
"$bin" data list --store "$store"
echo
echo "== scalper train --symbols FILUSDT,NEARUSDT --from 2023-08-01 --to 2023-09-01"
"$bin" train --store "$store" --symbols FILUSDT,NEARUSDT --from 2023-08-01 --to 2023-09-01 \
    --name "$name" --models-dir "$models"
echo
echo "== scalper evaluate on September 2023 (data the model never saw)"
"$bin" evaluate --store "$store" --model "$models/$name" --symbols FILUSDT,NEARUSDT --from 2023-09-01 --to 2023-10-01
echo
echo "== scalper backtest on September 2023 (fees, slippage and every risk rule applied)"
"$bin" backtest --store "$store" --model "$models/$name" --symbols FILUSDT,NEARUSDT --from 2023-09-01 --to 2023-10-01 \
    --runs-dir "$runs" --desc "demo"
echo
echo "demo: done (model: $models/$name, runs: $runs; scalper runs list --runs-dir $runs)"
