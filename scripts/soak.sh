#!/usr/bin/env bash
# make soak: a month-long paper session in one go, to catch what a few-hour test cannot: a crash
# deep into a run, a minute skipped or decided twice, memory that grows with the minutes.
#
# The repo's datasets/sample goes into a fresh store; a quick model learns August 2023 (FILUSDT,
# NEARUSDT); `scalper exchange --lock-step` replays September from 09-01 00:00 and
# `scalper paper --exits bar --lock-step` trades it for 29 days (the sample ends 09-30 23:59, so the
# window 09-01 00:00 … 09-30 00:00 lies inside it). Lock-step makes the replay run as fast as the
# session and decide exactly the same minutes on any machine. Checks:
#   - the session exits with status 0, because its --duration ran out;
#   - it decided every minute of the window for which the store has a bar of both symbols (the
#     sample has no gaps, so that is every minute of the window), none at a deadline or late;
#   - its resident memory near the end is within 10 % of that after the first simulated hour.
# Prints PASS/FAIL lines and the trade count; exits non-zero on any failure. Not part of `make test`.
set -Eeuo pipefail
# Any step that fails names itself before the script stops.
trap 'echo "soak: failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

symbols=FILUSDT,NEARUSDT
from=2023-09-01T00:00
days=29
window_minutes=$((days * 1440))
# A hung session (lock-step waits for ever on a client that stopped answering) fails instead of hanging.
timeout_s=${SOAK_TIMEOUT_SECONDS:-3600}

swift build -c release --product scalper >&2
bin=$(swift build -c release --show-bin-path)/scalper

work=$(mktemp -d)
bg_pids=()
cleanup() {
    local pid
    for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${bg_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() {
    echo "soak: $*" >&2
    exit 1
}
# Resident set of a process now (VmRSS, kB); empty once it is gone.
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

started=$SECONDS
echo "== soak: import datasets/sample into a fresh store" >&2
"$bin" data import --store "$work/soak.sqlite" datasets/sample > /dev/null 2> "$work/import.err" \
    || { cat "$work/import.err" >&2; die "scalper data import datasets/sample failed"; }
cat > "$work/soak.yaml" <<'YAML'
# Quick training, and a low threshold so that the session trades often.
model:
  max_rounds: 40
  early_stopping_rounds: 10
signals:
  min_probability: 0.2
  min_confidence: 0.0
# This quick model loses: at the default 10 % the kill switch trips on 09-10 and the last 20 days
# trade nothing. A soak should trade all month; the daily loss limit still pauses bad days.
risk:
  max_drawdown_pct: 0.9
timing:
  stats_every_minutes: 60
YAML
echo "== soak: train a quick model on 2023-08" >&2
"$bin" train --store "$work/soak.sqlite" --config "$work/soak.yaml" --symbols "$symbols" --from 2023-08-01 \
    --to 2023-09-01 --name soak --models-dir "$work/models" > /dev/null 2> "$work/train.err" \
    || { tail -20 "$work/train.err" >&2; die "scalper train failed"; }

# The minutes the session must decide: those of the window with a bar of both symbols in the store.
expected=$(python3 - "$work/soak.sqlite" "$symbols" "$from" "$window_minutes" <<'PY'
import calendar, sqlite3, sys, time
store, symbols, start, minutes = sys.argv[1], sys.argv[2].split(","), sys.argv[3], int(sys.argv[4])
first = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M")) * 1000
end = first + minutes * 60_000
db = sqlite3.connect(store)
query = "SELECT open_time FROM kline WHERE symbol = ? AND interval = '1m' AND open_time >= ? AND open_time < ?"
common = set.intersection(*(set(t for (t,) in db.execute(query, (s, first, end))) for s in symbols))
print(len(common))
PY
) || die "cannot count the store's bars in the window"
echo "== soak: window $from + $days days = $window_minutes minutes; the store has bars of both symbols in $expected of them" >&2

echo "== soak: lock-step exchange from $from" >&2
"$bin" exchange --store "$work/soak.sqlite" --symbols "$symbols" --from "$from" --port 0 --lock-step \
    --lock-step-step 60 --lock-step-timeout 600 > "$work/exchange.log" 2>&1 &
exchange_pid=$!
bg_pids+=("$exchange_pid")
deadline=$((SECONDS + 120))
until grep -q '^exchange: ' "$work/exchange.log"; do
    kill -0 "$exchange_pid" 2>/dev/null || { tail -20 "$work/exchange.log" >&2; die "scalper exchange exited before it listened (its log above)"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$work/exchange.log" >&2; die "scalper exchange did not listen within 120 s (its log above)"; }
    sleep 0.2
done
port=$(sed -n 's|^exchange: http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/exchange.log")
[ -n "$port" ] || die "no port in the exchange's line: $(grep '^exchange: ' "$work/exchange.log")"

echo "== soak: scalper paper --exits bar --lock-step --duration $((window_minutes * 60)) (${days} days)" >&2
session_started=$SECONDS
"$bin" paper --home "$work/home" --config "$work/soak.yaml" --model "$work/models/soak" --symbols "$symbols" \
    --session soak --exits bar --lock-step --duration $((window_minutes * 60)) \
    --rest-url "http://127.0.0.1:$port" --ws-url "ws://127.0.0.1:$port" --json \
    > "$work/paper.out" 2> "$work/paper.err" &
paper_pid=$!
bg_pids+=("$paper_pid")
# Memory is sampled while the session runs, at the simulated minute its log has reached (the
# `Stats:` line every 60 minutes): once after the first hour, and then at every poll from 95 % of
# the window on, so that the last sample is the one nearest the end.
log=$work/home/logs/soak.log
rss_hour='' hour_minutes='' rss_end='' end_minutes=''
near_end=$((window_minutes * 95 / 100))
while kill -0 "$paper_pid" 2>/dev/null; do
    [ $((SECONDS - session_started)) -lt "$timeout_s" ] || die "the session is still running after $timeout_s s (SOAK_TIMEOUT_SECONDS)"
    logged=$( (tail -c 65536 "$log" 2>/dev/null | grep -o 'Stats: .*minutes=[0-9]*' | tail -1 | sed 's/.*minutes=//') || true)
    if [ -n "$logged" ]; then
        rss=$(rss_kb "$paper_pid")
        if [ -n "$rss" ] && [ -z "$rss_hour" ] && [ "$logged" -ge 60 ]; then
            rss_hour=$rss hour_minutes=$logged
        fi
        if [ -n "$rss" ] && [ "$logged" -ge "$near_end" ]; then
            rss_end=$rss end_minutes=$logged
        fi
    fi
    # The first hour passes in well under a second: poll fast until it is sampled.
    if [ -z "$rss_hour" ]; then sleep 0.02; else sleep 0.5; fi
done
paper_status=0
wait "$paper_pid" || paper_status=$?
session_seconds=$((SECONDS - session_started))
kill -0 "$exchange_pid" 2>/dev/null || { tail -20 "$work/exchange.log" >&2; die "the exchange died during the session (its log above)"; }

failed=0
check() { # check MESSAGE COMMAND…: PASS when COMMAND succeeds
    local message=$1
    shift
    if "$@"; then echo "PASS $message"; else
        echo "FAIL $message"
        failed=1
    fi
}
check "the session exited with status $paper_status (0 wanted)" [ "$paper_status" -eq 0 ]
[ "$paper_status" -eq 0 ] || tail -20 "$work/paper.err" >&2 || true
# The summary is the last line of standard output.
read -r reason minutes streamed missed late trades kill_switch equity decision_p99 commit_p99 < <(python3 - "$work/paper.out" <<'PY'
import json, sys
try:
    s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
    st = s["status"]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"
    print(s["reason"], st["minutes"], s["streamed_decisions"], s["missed_bars"], s["late_bars"], st["trades"],
          "tripped" if st["kill_switch"] else "not-tripped", f"{st['equity']:.2f}", fmt(s["decision_p99_us"]), fmt(s["commit_p99_us"]))
except (ValueError, KeyError, TypeError, IndexError):
    print("no-summary", -1, -1, -1, -1, -1, "-", "-", "-", "-")
PY
)
check "the session ended because its duration ran out (reason: $reason)" [ "$reason" = duration ]
every_minute() { [ "$minutes" -eq "$expected" ] && [ "$missed" -eq 0 ] && [ "$late" -eq 0 ]; }
check "minutes decided: $minutes of the $expected with bars of both symbols ($window_minutes in the window); $missed bars missing at a decision, $late late" every_minute
if [ -n "$rss_hour" ] && [ -n "$rss_end" ]; then
    change=$(python3 -c "import sys; print(f'{(float(sys.argv[2]) / float(sys.argv[1]) - 1) * 100:+.1f}')" "$rss_hour" "$rss_end")
    check "RSS $((rss_end / 1024)) MB at minute $end_minutes vs $((rss_hour / 1024)) MB at minute $hour_minutes ($change %; within 10 % wanted)" \
        [ $((100 * (rss_end > rss_hour ? rss_end - rss_hour : rss_hour - rss_end))) -le $((10 * rss_hour)) ]
else
    check "RSS sampled after the first hour (${rss_hour:-no sample}) and near the end (${rss_end:-no sample}) from the log's Stats: lines" false
fi
csv=$work/home/sessions/soak/trades.csv
csv_rows=$([ -f "$csv" ] && echo $(($(wc -l < "$csv") - 1)) || echo "no file")
echo "trades $trades (trades.csv rows: $csv_rows), equity $equity USDT at the end, kill switch $kill_switch"
echo "decisions from the stream $streamed; decision p99 $decision_p99 us, store commit p99 $commit_p99 us"
echo "wall time: session ${session_seconds} s, whole soak $((SECONDS - started)) s"
if [ "$failed" -ne 0 ]; then
    echo "soak: FAIL" >&2
    exit 1
fi
echo "soak: PASS"
