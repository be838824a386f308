#!/usr/bin/env bash
# make bench: our release build and the Python reference (../shared/reference/bench/run.sh) in one
# run on this machine, then one line per figure, `bench <name> <value> <unit>`, and
# `ratio <name> <value>` where the reference has the same figure (higher is better).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product scalper >&2
bin=$(swift build -c release --show-bin-path)/scalper
ref_script=../shared/reference/bench/run.sh
[ -x "$ref_script" ] || { echo "bench: $ref_script not found (../shared must sit beside the repo)" >&2; exit 1; }

ref=$(mktemp)
ours=$(mktemp)

echo "== reference: $ref_script all (Python: TA-Lib, numpy, xgboost, scikit-learn)" >&2
"$ref_script" all > "$ref"
grep -E '^ref (predict\.features|train\.(timings_s\.total_s|peak_rss_mb|test_raw\.auc))' "$ref" >&2 || true

work=$(mktemp -d)
trap 'rm -f "$ref" "$ours"; rm -rf "$work"' EXIT
klines=../shared/datasets/binance/futures-um/klines
echo "== CryptoScalper: import FILUSDT 2023-08..10 + NEARUSDT 2023-08..09 into a fresh store" >&2
"$bin" data import --store "$work/bench.sqlite" \
    $klines/FILUSDT/1m/FILUSDT-1m-2023-{08,09,10}.csv $klines/NEARUSDT/1m/NEARUSDT-1m-2023-0{8,9}.csv >&2
echo "== CryptoScalper: scalper train (same data and window as the reference)" >&2
t0=$(date +%s.%N)
"$bin" train --store "$work/bench.sqlite" --symbols FILUSDT,NEARUSDT --from 2023-08-01 --to 2023-10-01 \
    --name bench --models-dir "$work/models" --json > "$work/train.json"
t1=$(date +%s.%N)
python3 - "$work/train.json" "$t0" "$t1" >> "$ours" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"bench train.total_s {float(sys.argv[3]) - float(sys.argv[2]):.3f} s")
print(f"bench train.peak_rss_mb {m['peak_rss_mb']:.1f} MB")
print(f"bench train.test_auc {m['auc']:.4f} auc")
print(f"bench train.test_ece_raw {m['ece_raw']:.4f} ece")
print(f"bench train.test_ece_calibrated {m['ece_calibrated']:.4f} ece")
PY
echo "== CryptoScalper: scalper backtest FILUSDT+NEARUSDT 2023-08..10 (features + predictions + replay)" >&2
"$bin" backtest --store "$work/bench.sqlite" --model "$work/models/bench" --symbols FILUSDT,NEARUSDT \
    --from 2023-08-01 --to 2023-11-01 --runs-dir "$work/runs" --json > "$work/backtest.json"
python3 - "$work/backtest.json" >> "$ours" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"bench backtest.bars_per_s {m['bars_per_s']:.0f} bars/s")
print(f"bench backtest.replay_bars_per_s {m['replay_bars_per_s']:.0f} bars/s")
PY
echo "== CryptoScalper: scalper exchange (200 pairs, 1x) + scalper scan for 30 s over loopback" >&2
"$bin" exchange --store "$work/bench.sqlite" --port 0 --pairs 200 --speed 1 > "$work/exchange.log" 2>&1 &
exchange_pid=$!
for _ in $(seq 1 100); do grep -q "^exchange: " "$work/exchange.log" && break; sleep 0.2; done
port=$(sed -n 's|^exchange: http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/exchange.log")
"$bin" scan --ws-url "ws://127.0.0.1:$port" --rest-url "http://127.0.0.1:$port" --universe 200 --duration 30 --json \
    > /dev/null 2> "$work/scan.err" || true
kill "$exchange_pid" 2>/dev/null || true
wait "$exchange_pid" 2>/dev/null || true
tail -1 "$work/scan.err" >&2
python3 - "$work/scan.err" >> "$ours" <<'PY'
import re, sys
line = open(sys.argv[1]).read().strip().splitlines()[-1]
p99 = re.search(r"p99 ([0-9.]+) ms", line)
rss = re.search(r"peak RSS ([0-9.]+) MB", line)
if p99: print(f"bench scanner.detect_p99_ms {p99.group(1)} ms")
if rss: print(f"bench scanner.rss_mb_200_pairs {rss.group(1)} MB")
PY
echo "== CryptoScalper: scalper bench (features, predict)" >&2
"$bin" bench --model "$work/models/bench" >> "$ours"

cat "$ours"
awk '
    FNR == NR { if ($1 == "ref") ref[$2] = $3; next }
    $1 == "bench" { ours[$2] = $3 }
    END {
        # The model must match the reference, not just be fast: test AUC difference first.
        if (("train.test_auc" in ours) && ("train.test_raw.auc" in ref))
            printf "bench train.test_auc_minus_reference %.4f auc\n", ours["train.test_auc"] - ref["train.test_raw.auc"]
        # rates: ours / reference; times: reference / ours
        if (("features.batch_rows_per_s" in ours) && ("predict.features_all42_plus_label.rows_per_s" in ref))
            printf "ratio features.batch_rows_per_s %.2f\n", ours["features.batch_rows_per_s"] / ref["predict.features_all42_plus_label.rows_per_s"]
        # The reference has no incremental state: a new live bar costs one call over a 1,000-bar window.
        if (("features.stream_us_per_bar" in ours) && ("predict.features_last_1000_bars_per_call.median_us" in ref))
            printf "ratio features.stream_us_per_bar %.0f\n", ref["predict.features_last_1000_bars_per_call.median_us"] / ours["features.stream_us_per_bar"]
        if (("train.total_s" in ours) && ("train.timings_s.total_s" in ref))
            printf "ratio train.total_s %.2f\n", ref["train.timings_s.total_s"] / ours["train.total_s"]
        if (("train.peak_rss_mb" in ours) && ("train.peak_rss_mb" in ref))
            printf "ratio train.peak_rss_mb %.2f\n", ref["train.peak_rss_mb"] / ours["train.peak_rss_mb"]
        if (("predict.single_p50_us" in ours) && ("predict.predict.batch_1_calibrated.median_us" in ref))
            printf "ratio predict.single_p50_us %.2f\n", ref["predict.predict.batch_1_calibrated.median_us"] / ours["predict.single_p50_us"]
        if (("predict.batch150_p50_us" in ours) && ("predict.predict.batch_150.median_us" in ref))
            printf "ratio predict.batch150_p50_us %.2f\n", ref["predict.predict.batch_150.median_us"] / ours["predict.batch150_p50_us"]
        if (("scanner.msgs_per_s" in ours) && ("scanner.orjson.msgs_per_s" in ref))
            printf "ratio scanner.msgs_per_s %.1f\n", ours["scanner.msgs_per_s"] / ref["scanner.orjson.msgs_per_s"]
        if (("scanner.p99_us_per_msg" in ours) && ("scanner.orjson.lat_p99_us" in ref))
            printf "ratio scanner.p99_us_per_msg %.1f\n", ref["scanner.orjson.lat_p99_us"] / ours["scanner.p99_us_per_msg"]
    }
' "$ref" "$ours"
