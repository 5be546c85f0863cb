"""Speed of `labels validate` and `labels add` on 10,000 labels (the retraining issue's target: <= 5 s).

    python benchmarks/bench_labels.py [--n 10000]

Builds a label file of N rows from the committed sentences (each made unique by a numbered
suffix clause, and given its own group), then times validate and an add of 100 new rows.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "amber basalt cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon meadow nectar orchid pebble quartz".split()


def unique_suffix(i: int) -> str:
    # distinct 5-grams per row so rows are not near-duplicates of each other
    a, b, c = WORDS[i % 17], WORDS[(i // 17) % 17], WORDS[(i // 289) % 17]
    return f" ({a} {b} {c} note {i})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    args = ap.parse_args()
    src = list(csv.DictReader((ROOT / "labels" / "sentences.csv").open(encoding="utf-8")))
    with tempfile.TemporaryDirectory() as d:
        big = Path(d) / "big.csv"
        rows = []
        for i in range(args.n):
            r = dict(src[i % len(src)])
            # copies of one committed sentence are variants of one idea: one group, one split
            r["id"], r["group"], r["pair"] = f"b{i}", f"bg{i % len(src)}", ""
            r["text"] = r["text"] + unique_suffix(i) * (1 + i // len(src))
            rows.append(r)
        with big.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        new = Path(d) / "new.csv"
        with new.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label", "category"])
            for i in range(100):
                w.writerow(
                    [
                        f"A county office in district {i} files its {WORDS[i % 17]} credit records by hand every {WORDS[(i * 7) % 17]} week number {i}.",
                        "accurate",
                        "A-low-tech",
                    ]
                )
        for name, cmd in (
            ("labels validate", ["labels", "validate", str(big)]),
            ("labels add (100 rows)", ["labels", "add", str(new), "--target", str(big)]),
        ):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "mythscan.cli", *cmd], capture_output=True, text=True)
            el = time.perf_counter() - t0
            print(
                f"{name:<24} on {args.n} rows: {el:.2f} s (exit {r.returncode}) {r.stdout.strip().splitlines()[-1][:80] if r.stdout.strip() else r.stderr.strip()[:200]}"
            )


if __name__ == "__main__":
    main()
