"""Speed and memory of scoring: cold start of `mythscan score` and classify throughput per model.

    python benchmarks/bench_score.py                 # every model in models/, 5,000 sentences
    python benchmarks/bench_score.py --models embed --n 2000

Prints figures; it asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cold_start(model: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mythscan.cli",
                "score",
                str(ROOT / "examples" / "myths_article.txt"),
                "--model",
                model,
                "--format",
                "json",
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return times


def throughput(model: str, n: int) -> dict:
    code = f"""
import json, resource, time, pandas as pd
from mythscan import load_model
df = pd.read_csv({str(ROOT / "labels" / "sentences.csv")!r}, dtype=str, keep_default_na=False)
texts = (df['text'].tolist() * (1 + {n} // len(df)))[:{n}]
texts = [t + ' ' + str(i) for i, t in enumerate(texts)]  # defeat any per-text cache
t0 = time.perf_counter(); m = load_model({model!r}); load = time.perf_counter() - t0
m.predict_all(texts[:50])
t0 = time.perf_counter(); m.predict_all(texts); el = time.perf_counter() - t0
print(json.dumps({{"load_s": round(load, 2), "sentences_per_s": round(len(texts) / el, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", help="model names or directories (default: every model in models/)")
    ap.add_argument("--n", type=int, default=5000, help="sentences to classify for the throughput figure (read alone)")
    ap.add_argument("--runs", type=int, default=3, help="cold starts of `mythscan score` to take the median of")
    args = ap.parse_args()
    models = args.models or sorted(p.parent.name for p in (ROOT / "models").glob("*/CURRENT"))
    print(f"{'model':<12}{'cold start s (median)':>24}{'load s':>8}{'sentences/s':>13}{'peak RSS MB':>13}")
    for m in models:
        cold = cold_start(m, args.runs)
        tp = throughput(m, args.n)
        print(f"{m:<12}{statistics.median(cold):>24.2f}{tp['load_s']:>8.2f}{tp['sentences_per_s']:>13.1f}{tp['peak_rss_mb']:>13}")


if __name__ == "__main__":
    main()
