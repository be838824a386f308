#!/usr/bin/env bash
# The main job on the bundled sample: import it, train a model on August 2023, evaluate it on
# September (which it never saw), backtest it on September through the Trading code, then
# paper-trade a day of September against the local exchange (lock-step replay) and compare the
# session with a backtest of its window; then one retrain (challenger against champion).
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
echo "== scalper exchange --lock-step (the local Binance-compatible exchange replaying the store from 2023-09-10)"
home=${SCALPER_DEMO_HOME:-.}
log=$(mktemp)
"$bin" exchange --store "$store" --symbols FILUSDT,NEARUSDT --from 2023-09-10T00:00 --port 0 --lock-step \
    --lock-step-step 60 > "$log" 2>&1 &
exchange=$!
trap 'kill $exchange 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 150); do grep -q '^exchange: ' "$log" && break; sleep 0.2; done
port=$(sed -n 's|^exchange: http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
[ -n "$port" ] || { echo "demo: the exchange did not start:"; cat "$log"; exit 1; }
head -1 "$log"
echo
echo "== scalper paper --exits bar --lock-step --duration 86400 (one simulated day; logs in logs/$name.log)"
"$bin" paper --home "$home" --model "$models/$name" --symbols FILUSDT,NEARUSDT --session "$name" --exits bar \
    --lock-step --duration 86400 --rest-url "http://127.0.0.1:$port" --ws-url "ws://127.0.0.1:$port" --log-level warning
echo
echo "== scalper paper report $name --vs-backtest (the same window backtested from the store)"
"$bin" paper report "$name" --home "$home" --store "$store" --vs-backtest --log-level warning
echo
echo "== scalper retrain --symbols FILUSDT,NEARUSDT --train 40d (a challenger on the newest data, judged against the champion on a holdout neither saw)"
"$bin" retrain --store "$store" --models-dir "$models" --symbols FILUSDT,NEARUSDT --train 40d
echo
echo "== scalper models list (the registry: every bundle, its status and origin)"
"$bin" models list --models-dir "$models"
echo
echo "demo: done (model: $models/$name, runs: $runs, session: sessions/$name; scalper runs list --runs-dir $runs; retrain reports in $models/retrain-runs/)"
