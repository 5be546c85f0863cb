"""Which MiniLM layers to pool: an RBF-SVM label head on each layer mix, group 5-fold CV on the
train split (myth AP and F1 at the CV-chosen threshold), then fitted on the train split and
measured on the test split. Prints a table; writes nothing. Figures in evaluate/README.md.

    python benchmarks/ablate_layers.py                          # 6 | 6,3 | 6,4,2, fp32 encoder
    python benchmarks/ablate_layers.py --mixes 6 6,3 --quantized --support-dtype int8
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from sklearn.metrics import average_precision_score

    from mythscan.data import group_folds, load_splits
    from mythscan.evaluation import compute_metrics
    from mythscan.models import LABELS, SvmHead, decide
    from mythscan.models.encoder import Encoder
    from mythscan.training import best_threshold

    ap = argparse.ArgumentParser()
    ap.add_argument("--mixes", nargs="*", default=["6", "6,3", "6,4,2"])
    ap.add_argument("--quantized", action="store_true")
    ap.add_argument("--support-dtype", default="float16", choices=["float16", "int8"])
    args = ap.parse_args()
    train, test = load_splits()
    layers = tuple(range(1, 7))
    enc = Encoder(quantized=args.quantized, layers=layers)  # every layer once; mixes are sliced from it
    t0 = time.perf_counter()
    parts = {}
    for name, df in (("train", train), ("test", test)):
        X = enc.encode(df["text"].astype(str).tolist()) * np.sqrt(len(layers))  # undo the final norm
        parts[name] = {k: X[:, i * 384 : (i + 1) * 384] for i, k in enumerate(layers)}
    print(f"encoded {len(train) + len(test)} sentences in {time.perf_counter() - t0:.0f} s")
    y_tr, y_te = train["label"].to_numpy(dtype=object), test["label"].to_numpy(dtype=object)
    splits = group_folds(y_tr, train["category"].tolist(), train["group"].tolist(), 5, 0)
    im = LABELS.index("myth")
    print(f"{'layers':<10}{'CV AP':>7}{'CV F1':>7}{'test AP':>9}{'test F1':>9}{'pairs':>7}")
    for mix in args.mixes:
        ks = [int(k) for k in mix.split(",")]

        def feats(name, ks=ks):
            X = np.hstack([parts[name][k] for k in ks])
            return X / np.linalg.norm(X, axis=1, keepdims=True)

        Xtr, Xte = feats("train"), feats("test")
        oof = np.zeros((len(Xtr), 3))
        for a, b in splits:
            h = SvmHead.fit(Xtr[a], y_tr[a], support_dtype=args.support_dtype)
            oof[b] = h.predict_proba(Xtr[b])[:, [list(h.classes_).index(c) for c in LABELS]]
        th = best_threshold(oof[:, im], y_tr == "myth")
        cv = compute_metrics(y_tr, decide(oof, th), oof)
        h = SvmHead.fit(Xtr, y_tr, support_dtype=args.support_dtype)
        pt = h.predict_proba(Xte)[:, [list(h.classes_).index(c) for c in LABELS]]
        te = compute_metrics(y_te, decide(pt, th), pt, pairs=test["pair"].tolist())
        print(
            f"{mix:<10}{average_precision_score(y_tr == 'myth', oof[:, im]):>7.3f}{cv['myth']['f1']:>7.3f}"
            f"{average_precision_score(y_te == 'myth', pt[:, im]):>9.3f}{te['myth']['f1']:>9.3f}{te['contrast_pairs']['accuracy']:>7.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
