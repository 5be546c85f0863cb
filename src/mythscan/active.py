"""Teaching the model: which sentences to label next (suggest), which labels look wrong (audit),
and whether more labels would help (learning curve)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .augment import swap_names
from .data import NEAR_DUP_JACCARD, load_labels, normalise, shingles
from .errors import InputError
from .models import LABELS

MAX_POOL = 200_000  # sentences read for one `labels suggest` run (all are classified and embedded in memory)


def _collect(inputs: list[str], text_column: str, *, allow_private: bool = False, limit: int = MAX_POOL, log=None) -> list[tuple[str, str]]:
    """(sentence, source) pairs from articles, sentence files, tables or a batch output directory;
    at most `limit` (the rest is left out, with a note to `log`)."""
    from .reading import read_sentences, read_source
    from .splitting import split_article

    out: list[tuple[str, str]] = []
    for src in inputs:
        left = limit - len(out)
        if left <= 0:
            if log:
                log(f"read the first {limit:,} sentences; the rest of the inputs (from {src}) were left out")
            break
        p = Path(src)
        if p.is_dir() and (p / "sentences.parquet").exists():  # a `mythscan batch` output
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(p / "sentences.parquet").iter_batches(batch_size=4096, columns=["text"]):
                out += [(str(t), str(p)) for t in batch.column(0).to_pylist()[: limit - len(out)]]
                if len(out) >= limit:
                    break
        elif p.suffix.lower() in (".csv", ".jsonl", ".parquet", ".txt") or src == "-":
            texts, _ = read_sentences(src, text_column=text_column, max_sentences=left)
            out += [(t, src) for t in texts]
        else:
            doc = read_source(src, allow_private=allow_private)
            out += [(s.text, src) for s in split_article(doc.text)[0][:left]]
    return out


def suggest(
    inputs: list[str],
    n: int = 50,
    *,
    model=None,
    text_column: str = "text",
    diversity: float = 0.5,
    min_words: int = 5,
    allow_private: bool = False,
    log=None,
) -> "object":
    """The ``n`` unlabelled sentences that would teach the model most: uncertain, diverse, new."""
    import pandas as pd

    from .models.encoder import encode_cached
    from .scoring import Scorer

    pool = _collect(inputs, text_column, allow_private=allow_private, log=log)  # input errors before the model loads
    scorer = Scorer(model)
    labelled = load_labels()
    known = {normalise(t) for t in labelled["text"]}
    index: dict[tuple, set[int]] = {}
    lab_sh = [shingles(t) for t in labelled["text"]]
    for i, s in enumerate(lab_sh):
        for g in s:
            index.setdefault(g, set()).add(i)
    seen: set[str] = set()
    cands: list[tuple[str, str]] = []
    for text, src in pool:
        key = normalise(text)
        if len(key.split()) < min_words or key in known or key in seen:
            continue
        seen.add(key)
        s = shingles(text)
        hits: dict[int, int] = {}
        for g in s:
            for j in index.get(g, ()):
                hits[j] = hits.get(j, 0) + 1
        if any(k / (len(s) + len(lab_sh[j]) - k) >= NEAR_DUP_JACCARD for j, k in hits.items()):
            continue  # a near-duplicate of a labelled sentence teaches nothing new
        cands.append((text, src))
    if not cands:
        raise InputError("no new sentences to suggest", hint="every sentence is already labelled, too short, or a near-duplicate")
    texts = [t for t, _ in cands]
    results = scorer.classify(texts)
    proba = np.array([[r.probabilities[k] for k in LABELS] for r in results])
    srt = np.sort(proba, axis=1)
    margin_unc = 1.0 - (srt[:, -1] - srt[:, -2])  # small margin between the top two labels
    pm = proba[:, LABELS.index("myth")]
    thr_unc = 1.0 - np.minimum(1.0, np.abs(pm - scorer.threshold) / max(scorer.threshold, 1 - scorer.threshold))
    uncertainty = 0.5 * margin_unc + 0.5 * thr_unc
    emb = encode_cached(texts)
    chosen: list[int] = []
    best_sim = np.zeros(len(texts))
    for _ in range(min(n, len(texts))):
        score = uncertainty - diversity * best_sim
        if chosen:
            score[chosen] = -np.inf
        i = int(np.argmax(score))
        chosen.append(i)
        best_sim = np.maximum(best_sim, emb @ emb[i])
    rows = [
        {
            "text": texts[i],
            "label": results[i].label,
            "category": results[i].category or "",
            "myth_probability": results[i].myth_probability,
            "uncertainty": round(float(uncertainty[i]), 4),
            "source": cands[i][1],
            "notes": "model guess: confirm or correct label and category",
        }
        for i in chosen
    ]
    return pd.DataFrame(rows)


def out_of_fold(df, kind: str = "tfidf", params: dict | None = None, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Group-aware out-of-fold label probabilities for every row of ``df``."""
    from .data import group_folds
    from .models import make_model

    texts = df["text"].astype(str).tolist()
    labels = df["label"].to_numpy(dtype=object)
    cats = [c or None for c in df["category"].astype(str)]
    oof = np.zeros((len(df), 3))
    for tr, va in group_folds(labels, cats, df["group"], folds, seed):
        m = make_model(kind, dict(params or {"C": 5.0}))
        m.fit([texts[i] for i in tr], labels[tr], [cats[i] for i in tr], augment=swap_names)
        oof[va] = m._raw_proba([texts[i] for i in va])[0]
    return oof


def audit(path=None, *, kind: str = "tfidf", folds: int = 5):
    """Likely label errors (cleanlab's confident learning on out-of-fold predictions)."""
    import pandas as pd
    from cleanlab.filter import find_label_issues

    df = load_labels(path)
    oof = out_of_fold(df, kind, folds=folds)
    y = np.array([LABELS.index(lab) for lab in df["label"]])
    issues = find_label_issues(labels=y, pred_probs=oof, return_indices_ranked_by="self_confidence")
    rows = []
    for i in issues:
        rows.append(
            {
                "id": df["id"].iloc[i],
                "text": df["text"].iloc[i],
                "label": df["label"].iloc[i],
                "category": df["category"].iloc[i],
                "suggested_label": LABELS[int(oof[i].argmax())],
                "label_probability": round(float(oof[i, y[i]]), 4),
                "suggested_probability": round(float(oof[i].max()), 4),
                "file": df["file"].iloc[i],
            }
        )
    return pd.DataFrame(
        rows, columns=["id", "text", "label", "category", "suggested_label", "label_probability", "suggested_probability", "file"]
    )


def learning_curve(
    config, fractions=(0.25, 0.5, 0.75, 1.0), labels_path=None, out_dir: Path | None = None, seed: int = 0, log=None
) -> dict:
    """Quality as the training data grows. With real-coverage sources in the config: the model is
    trained on 25/50/75/100% of the real pages (the written labels always) and measured on the
    config's selection files (e.g. select.csv, unambiguous rows) and the test split: what would
    more real pages bring? Without: the share of the written train groups, on the test split."""
    import random
    import tempfile

    from .data import load_splits
    from .evaluation import evaluate_model, headline
    from .models import make_model
    from .training import TrainConfig, selection_figures, training_frame
    from .training import train as train_model

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_file(config)
    points = []
    if cfg.sources and (training_frame(cfg, labels_path)[0]["origin"] == "real").any():
        for f in fractions:
            with tempfile.TemporaryDirectory() as tmp:
                m, _, meta = train_model(cfg, labels_path=labels_path, out_dir=Path(tmp) / "m", real_fraction=f, log=log)
            real = next(s for s in meta["sources"] if "articles" in s)
            sel = {k: v for k, v in selection_figures(m, cfg.selection).items() if k.endswith("(unambiguous)")}
            first = next(iter(sel.values()), {})
            points.append(
                {
                    "fraction": f,
                    "real_pages": real["articles"],
                    "train_sentences": meta["train_sentences"],
                    "selection": sel,
                    "myth_ap": first.get("myth_ap"),
                    "myth_f1": first.get("myth_f1"),
                    "macro_f1": first.get("macro_f1"),
                    "test": meta.get("test_metrics"),
                    "contrast_pair_accuracy": (meta.get("test_metrics") or {}).get("contrast_pair_accuracy"),
                }
            )
            if log:
                log(f"{f:.0%} of the real pages ({real['articles']}): selection AP {first.get('myth_ap')}, F1 {first.get('myth_f1')}")
    else:
        train, test = load_splits(labels_path)
        groups = sorted(train["group"].unique())
        random.Random(seed).shuffle(groups)
        for f in fractions:
            keep = set(groups[: max(1, int(round(len(groups) * f)))])
            sub = train[train["group"].isin(keep)]
            m = make_model(cfg.kind, dict(cfg.params))
            m.fit(sub["text"].tolist(), sub["label"].tolist(), [c or None for c in sub["category"]], augment=swap_names)
            h = headline(evaluate_model(m, test)[0])
            points.append({"fraction": f, "train_sentences": int(len(sub)), **h})
    result = {"model": cfg.name, "kind": cfg.kind, "points": points}
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "learning_curve.json").write_text(json.dumps(result, indent=2))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.4), dpi=110)
        real = "real_pages" in (points[0] if points else {})
        xs = [p["real_pages" if real else "train_sentences"] for p in points]
        for k in ("myth_ap", "myth_f1", "macro_f1") if real else ("myth_f1", "macro_f1", "contrast_pair_accuracy"):
            ax.plot(xs, [p[k] if p[k] is not None else float("nan") for p in points], "o-", label=k)
        ax.set_xlabel("real pages in training" if real else "training sentences")
        ax.set_ylabel("selection file, unambiguous rows" if real else "test split")
        ax.set_title(f"learning curve: {cfg.name}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "learning_curve.png")
        plt.close(fig)
    return result
