"""How much capacity the label head on frozen MiniLM states should have: the default's RBF-SVM on
mean-pooled layers 6+3 at several C, against the `attn` kind's learned attention-pooling head
(src/mythscan/attention.py, trained with torch on the unpooled token states of the same layers). Each is cross-validated on the train split twice,
with folds by paraphrase group and by label batch, then fitted on the train split and measured
on the test split and, with ``--real``, on a labelled file of real coverage (evaluation only: no
choice in this script reads it). Prints a table; writes nothing. Figures in evaluate/README.md.

    python benchmarks/ablate_heads.py                                  # ~20 min on 2 cores
    python benchmarks/ablate_heads.py --real ../shared/eval/realworld_dev.csv --svm-C 1 4 --epochs 12

Rounds 1-8 by default (``--exclude-batches`` as in training/stack.toml), int8 encoder as the default.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import torch

    from mythscan.data import group_folds, load_splits
    from mythscan.evaluation import average_precision, compute_metrics
    from mythscan.evaluation_cli import load_eval_data
    from mythscan.models import LABELS, SvmHead, decide
    from mythscan.models.attention import mean_pooled, train_head
    from mythscan.models.encoder import Encoder
    from mythscan.training import best_threshold

    ap = argparse.ArgumentParser()
    ap.add_argument("--svm-C", nargs="*", type=float, default=[1.0, 2.0, 4.0])
    ap.add_argument("--epochs", type=int, default=12, help="attention head epochs (0: skip it)")
    ap.add_argument("--real", help="labelled CSV/JSONL of real coverage, measured only")
    ap.add_argument("--exclude-batches", nargs="*", default=["round9-negation", "round9-sourcing"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    train, test = load_splits()
    train = train[~train["batch"].isin(args.exclude_batches)].reset_index(drop=True)
    sets = {"train": train, "test": test}
    if args.real:
        sets["real"] = load_eval_data(Path(args.real))[0]
    enc = Encoder(quantized=True, layers=(6, 3))
    t0 = time.perf_counter()
    states = {k: enc.token_states(df["text"].astype(str).tolist()) for k, df in sets.items()}
    print(f"encoded {sum(map(len, states.values()))} sentences in {time.perf_counter() - t0:.0f} s", flush=True)

    pooled = {k: mean_pooled(v, 2) for k, v in states.items()}
    y = {k: df["label"].to_numpy(dtype=object) for k, df in sets.items()}
    folds = {
        "group": group_folds(y["train"], train["category"].tolist(), train["group"].tolist(), 5, 0),
        "batch": group_folds(y["train"], train["category"].tolist(), train["batch"].tolist(), 5, 0),
    }
    im = LABELS.index("myth")

    def svm(C):
        def fit(idx):
            h = SvmHead.fit(pooled["train"][idx], y["train"][idx], C=C, support_dtype="int8")
            cols = [list(h.classes_).index(c) for c in LABELS]
            return lambda k, rows=slice(None): h.predict_proba(pooled[k][rows])[:, cols]

        return fit

    def attention(idx):
        head = train_head([states["train"][i] for i in idx], np.array([LABELS.index(v) for v in y["train"][idx]]), epochs=args.epochs)
        return lambda k, rows=slice(None): head.predict_proba(states[k] if isinstance(rows, slice) else [states[k][i] for i in rows])

    heads = [(f"svm C={c:g}", svm(c)) for c in args.svm_C] + ([(f"attention {args.epochs} ep", attention)] if args.epochs else [])
    print(
        f"{'head':<18}{'folds':<7}{'CV AP':>7}{'CV F1':>7}{'test AP':>9}{'test F1':>9}{'pairs':>7}"
        + (f"{'real AP':>9}{'real F1':>9}{'real P':>8}" if args.real else "")
        + f"{'s':>6}",
        flush=True,
    )
    for name, fit in heads:
        t0 = time.perf_counter()
        final = fit(np.arange(len(train)))
        out = {k: final(k) for k in sets if k != "train"}
        for fname, splits in folds.items():
            oof = np.zeros((len(train), 3))
            for a, b in splits:
                oof[b] = fit(a)("train", b)
            th = best_threshold(oof[:, im], y["train"] == "myth")
            cv = compute_metrics(y["train"], decide(oof, th), oof)
            te = compute_metrics(y["test"], decide(out["test"], th), out["test"], pairs=test["pair"].tolist())
            row = (
                f"{name:<18}{fname:<7}{average_precision(y['train'] == 'myth', oof[:, im]):>7.3f}{cv['myth']['f1']:>7.3f}"
                f"{average_precision(y['test'] == 'myth', out['test'][:, im]):>9.3f}{te['myth']['f1']:>9.3f}"
                f"{te['contrast_pairs']['accuracy']:>7.3f}"
            )
            if args.real:
                re_ = compute_metrics(y["real"], decide(out["real"], th), out["real"])
                row += (
                    f"{average_precision(y['real'] == 'myth', out['real'][:, im]):>9.3f}{re_['myth']['f1']:>9.3f}"
                    f"{re_['myth']['precision']:>8.3f}"
                )
            print(row + f"{time.perf_counter() - t0:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
