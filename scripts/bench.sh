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
trap 'rm -f "$ref" "$ours"' EXIT

echo "== reference: $ref_script features (Python, TA-Lib, numpy)" >&2
"$ref_script" features > "$ref"
grep -E '^ref predict\.features' "$ref" >&2 || true

echo "== CryptoScalper: scalper bench" >&2
"$bin" bench > "$ours"

cat "$ours"
awk '
    FNR == NR { if ($1 == "ref") ref[$2] = $3; next }
    $1 == "bench" { ours[$2] = $3 }
    END {
        # rates: ours / reference; times: reference / ours
        if (("features.batch_rows_per_s" in ours) && ("predict.features_all42_plus_label.rows_per_s" in ref))
            printf "ratio features.batch_rows_per_s %.2f\n", ours["features.batch_rows_per_s"] / ref["predict.features_all42_plus_label.rows_per_s"]
        # The reference has no incremental state: a new live bar costs one call over a 1,000-bar window.
        if (("features.stream_us_per_bar" in ours) && ("predict.features_last_1000_bars_per_call.median_us" in ref))
            printf "ratio features.stream_us_per_bar %.0f\n", ref["predict.features_last_1000_bars_per_call.median_us"] / ours["features.stream_us_per_bar"]
    }
' "$ref" "$ours"
