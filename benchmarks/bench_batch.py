"""Benchmark `mythscan batch` end to end on generated archives (benchmarks/generate_archive.py).

Runs the installed `mythscan batch` command as a user would (a fresh process per run, model
loading included) and prints, per configuration: wall time, articles/s and sentences/s (end to
end and for the pipeline alone, from summary.json), and the peak resident memory of the whole
process tree (main process + workers, sampled from /proc every 0.1 s).

    python benchmarks/bench_batch.py --n 10000 --workers 1 2
    python benchmarks/bench_batch.py --n 10000 100000 --workers 1 --format jsonl warc
    python benchmarks/bench_batch.py --n 10000 --no-prefilter-too     # prefilter speed-up
    python benchmarks/bench_batch.py --recall                         # prefilter recall only

The archives attribute each labelled sentence to a random speaker ("..., Maria Lopez said on
Monday.") so that sentences do not repeat verbatim: the MiniLM models memoise embeddings in
process, and verbatim repeats would flatter them (--verbatim turns this off).

Also prints the prefilter's recall: on the labelled test split (labels/sentences.csv, split test,
label myth) and, end to end, on the labelled myth sentences mixed into the generated articles.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_archive import ArchiveGenerator, write_jsonl, write_warc  # noqa: E402


def _tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/status") as fh:
                kb = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = kb
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total


def run_batch(args: list[str], env: dict) -> tuple[float, float, int, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the process tree, peak tree RSS in kB, the finished process)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    exe = shutil.which("mythscan")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "mythscan.cli", *args]
    peak = [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak[0], subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def archive(n: int, fmt: str, cache: Path, seed: int = 0, vary: bool = True) -> Path:
    name = f"archive-{n}-{seed}{'-vary' if vary else ''}"
    path = cache / (f"{name}.jsonl" if fmt == "jsonl" else f"{name}.warc.gz")
    if not path.exists():
        t0 = time.perf_counter()
        (write_jsonl if fmt == "jsonl" else write_warc)(path, n, seed, vary=vary)
        print(f"# generated {path.name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def recall(n_articles: int = 5000) -> dict:
    """Prefilter recall on real pages (../shared/real, each page read as one article), on the
    labelled test split and on the myths mixed into generated articles, and the share of the
    generated archive's sentences that reach the model."""
    from mythscan.batch.prefilter import Prefilter, prefilter_recall, real_recall
    from mythscan.data import resolve_data_path
    from mythscan.splitting import split_sentences

    real_files = [p for p in (resolve_data_path(f) for f in ("../shared/real/train.csv", "../shared/real/select.csv")) if p.exists()]
    real = real_recall(real_files) if real_files else {}
    test = prefilter_recall(split="test")
    gen = ArchiveGenerator(seed=1)
    myths = {t for t, lab in gen.labelled if lab == "myth"}
    pf = Prefilter()
    seen = passed = sent = cand = 0
    t0 = time.perf_counter()
    for art in gen.articles(n_articles):
        spans = split_sentences(art["text"])
        for s, ok in zip(spans, pf.candidates([s.text for s in spans], art["text"])):
            sent += 1
            cand += ok
            if s.text in myths:
                seen += 1
                passed += ok
    return {
        "real_pages": {k: {x: v[x] for x in ("myths", "passed", "recall")} for k, v in real.items()},
        "test_split_myth_sentence_gate": test["myth"]["sentence"],
        "test_split_myth_standalone": test["myth"]["standalone"],
        "test_split_n": test["myth"]["n"],
        "archive_myths": seen,
        "archive_myth_recall": round(passed / max(seen, 1), 4),
        "archive_share_reaching_model": round(cand / max(sent, 1), 4),
        "split_and_prefilter_us_per_sentence": round(1e6 * (time.perf_counter() - t0) / max(sent, 1), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10000], help="archive sizes (articles)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1], help="--workers values to compare")
    ap.add_argument("--format", nargs="+", default=["jsonl"], choices=["jsonl", "warc"], help="archive formats")
    ap.add_argument("--no-prefilter-too", action="store_true", help="also run with --no-prefilter (its speed-up)")
    ap.add_argument("--model", default=None, help="model for mythscan batch (default: the default model)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mythscan-bench", help="where archives and outputs go")
    ap.add_argument("--recall", action="store_true", help="only measure the prefilter's recall")
    ap.add_argument(
        "--verbatim",
        action="store_true",
        help="labelled sentences verbatim (repeated): flatters models "
        "that memoise embeddings; by default each is attributed to a random speaker",
    )
    a = ap.parse_args(argv)
    a.cache.mkdir(parents=True, exist_ok=True)
    r = recall()
    print("prefilter recall: " + json.dumps(r), flush=True)
    if a.recall:
        return 0
    env = dict(os.environ)
    print(
        f"{'n':>7} {'format':>6} {'workers':>7} {'prefilter':>9} {'wall_s':>7} {'art/s e2e':>9} {'art/s pipe':>10} "
        f"{'sent/s pipe':>11} {'cpu_s':>6} {'art/cpu_s':>9} {'peak_RSS_MB':>11} {'myths':>6} {'dups':>5} {'load1':>5}",
        flush=True,
    )
    for fmt in a.format:
        for n in a.n:
            path = archive(n, fmt, a.cache, vary=not a.verbatim)
            for prefilter in [True, False] if a.no_prefilter_too else [True]:
                for w in a.workers:
                    out = a.cache / f"out-{n}-{fmt}-w{w}-{'pf' if prefilter else 'nopf'}"
                    args = ["batch", str(path), "--out", str(out), "--overwrite", "--no-progress", "--workers", str(w)]
                    args += [] if prefilter else ["--no-prefilter"]
                    args += ["--model", a.model] if a.model else []
                    wall, cpu, peak_kb, proc = run_batch(args, env)
                    load = os.getloadavg()[0]
                    if proc.returncode != 0:
                        print(f"FAILED ({proc.returncode}): {proc.stderr.decode()[-2000:]}", flush=True)
                        continue
                    s = json.loads((out / "summary.json").read_text())
                    t, run = s["totals"], s["run"]
                    print(
                        f"{n:>7} {fmt:>6} {w:>7} {'on' if prefilter else 'off':>9} {wall:>7.1f} {t['items'] / wall:>9.1f} "
                        f"{run['articles_per_s']:>10.1f} {run['sentences_per_s']:>11.0f} {cpu:>6.1f} {t['items'] / cpu:>9.1f} "
                        f"{peak_kb / 1024:>11.0f} {t['myths']:>6} {t['duplicates']:>5} {load:>5.1f}",
                        flush=True,
                    )
                    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
