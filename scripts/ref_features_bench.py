#!/usr/bin/env python3
"""The reference's feature throughput as best-of-N, beside `scalper bench`'s best-of-N.

The reference's own predict_bench.py reports the median of 5 calls (after 2 warm-ups), and its
list of run times is not among the `ref …` lines run.sh prints. The issue compares the fastest
repetition on both sides, so this runs the very same work -- the reference's
`compute_features` (all 42) + `compute_label`, on every FILUSDT 1m row under --data-dir, loaded
by the reference's own loader -- `--warmups` + `--repeats` times and prints, one line each:

  ref features.best_rows_per_s <rows/s>      fastest timed call
  ref features.median_rows_per_s <rows/s>    median of the timed calls
  ref features.rows <n>                      rows per call (ours must compute the same number)

Run it with the reference's virtualenv python (../shared/reference/bench/run.sh builds it):
  ~/.cache/cryptoscalper-reference-venv/bin/python scripts/ref_features_bench.py \
      --reference ../shared/reference/bench --data-dir ../shared/datasets/binance/futures-um/klines
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="folder holding the reference's features.py")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--symbol", default="FILUSDT")
    ap.add_argument("--warmups", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        sys.exit("ref_features_bench: --repeats must be at least 1")

    sys.path.insert(0, args.reference)
    import features as F  # the reference implementation, unchanged

    files = F.find_kline_files(args.data_dir, args.symbol)
    if not files:
        sys.exit(f"ref_features_bench: no {args.symbol} 1m files under {args.data_dir}")
    df = F.load_klines(files)
    n = len(df)
    times = []
    for i in range(args.warmups + args.repeats):
        t0 = time.perf_counter()
        F.compute_features(df)
        F.compute_label(df["high"].to_numpy(), df["close"].to_numpy())
        elapsed = time.perf_counter() - t0
        if i >= args.warmups:
            times.append(elapsed)
    best = min(times)
    median = statistics.median(times)
    print(f"reference features: {n} rows, fastest of {args.repeats} {best:.3f} s, median {median:.3f} s "
          f"(after {args.warmups} warm-ups)", file=sys.stderr)
    print(f"ref features.best_rows_per_s {n / best:.0f} rows/s")
    print(f"ref features.median_rows_per_s {n / median:.0f} rows/s")
    print(f"ref features.rows {n} rows")


if __name__ == "__main__":
    main()
