#!/usr/bin/env bash
# The main job on the bundled sample: import it, train a model on August + the first half of
# September, and evaluate it on the rest of September, which it never saw.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(swift build --show-bin-path)/scalper
store=${SCALPER_STORE:-datasets/demo.sqlite}
models=${SCALPER_DEMO_MODELS:-models}
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
echo "== scalper train --symbols FILUSDT,NEARUSDT --from 2023-08-01 --to 2023-09-16"
"$bin" train --store "$store" --symbols FILUSDT,NEARUSDT --from 2023-08-01 --to 2023-09-16 \
    --name "$name" --models-dir "$models"
echo
echo "== scalper evaluate on 2023-09-16 … 2023-10-01 (data the model never saw)"
"$bin" evaluate --store "$store" --model "$models/$name" --symbols FILUSDT,NEARUSDT --from 2023-09-16 --to 2023-10-01
echo
echo "demo: done (bundle: $models/$name, report: $models/$name/report.md)"
