#!/usr/bin/env bash
# The main job on the bundled sample: import it, train a model on August 2023, evaluate it on
# September (which it never saw), backtest it on September through the Trading code, then
# paper-trade a day of September against the local exchange (lock-step replay) and compare the
# session with a backtest of its window; then six hours with the orders sent to the local
# exchange as a matching venue (--venue exchange); then one retrain (challenger against champion).
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
echo "== scalper exchange --parity --accounts (the same replay as a matching venue; a demo key made for this run)"
venue_dir=$(mktemp -d)
trap 'kill $exchange ${venue_exchange:-} 2>/dev/null || true; rm -rf "$log" "$venue_dir"' EXIT
export BINANCE_API_KEY="demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BINANCE_API_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '{"accounts":[{"apiKey":"%s","secret":"%s","balances":{"USDT":"100000"}}]}\n' "$BINANCE_API_KEY" "$BINANCE_API_SECRET" \
    > "$venue_dir/accounts.json"
"$bin" exchange --store "$store" --symbols FILUSDT,NEARUSDT --from 2023-09-10T00:00 --port 0 --lock-step \
    --lock-step-step 60 --parity --accounts "$venue_dir/accounts.json" > "$venue_dir/exchange.log" 2>&1 &
venue_exchange=$!
for _ in $(seq 1 150); do grep -q '^exchange: ' "$venue_dir/exchange.log" && break; sleep 0.2; done
venue_port=$(sed -n 's|^exchange: http://127.0.0.1:\([0-9]*\).*|\1|p' "$venue_dir/exchange.log")
[ -n "$venue_port" ] || { echo "demo: the exchange did not start:"; cat "$venue_dir/exchange.log"; exit 1; }
sed -n '1p;4,5p' "$venue_dir/exchange.log"
printf 'binance:\n  local_rest_url: http://127.0.0.1:%s\n  local_ws_url: ws://127.0.0.1:%s\n  local_ws_api_url: ws://127.0.0.1:%s/ws-api/v3\n' \
    "$venue_port" "$venue_port" "$venue_port" > "$venue_dir/venue.yaml"
echo
echo "== scalper paper --venue exchange --exits bar --lock-step --duration 21600 (six simulated hours; signed orders to the local exchange, fills from its user data stream)"
"$bin" paper --home "$home" --config "$venue_dir/venue.yaml" --model "$models/$name" --symbols FILUSDT,NEARUSDT \
    --session "$name-venue" --exits bar --venue exchange --lock-step --duration 21600 --log-level warning
unset BINANCE_API_KEY BINANCE_API_SECRET
echo
echo "== scalper retrain --symbols FILUSDT,NEARUSDT --train 40d (a challenger on the newest data, judged against the champion on a holdout neither saw)"
"$bin" retrain --store "$store" --models-dir "$models" --symbols FILUSDT,NEARUSDT --train 40d
echo
echo "== scalper models list (the registry: every bundle, its status and origin)"
"$bin" models list --models-dir "$models"
echo
echo "demo: done (model: $models/$name, runs: $runs, session: sessions/$name; scalper runs list --runs-dir $runs; retrain reports in $models/retrain-runs/)"
