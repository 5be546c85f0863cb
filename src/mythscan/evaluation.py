"""Evaluation: metrics on labelled sentences, reports (JSON, Markdown, PNG, errors.csv), comparisons."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .models import LABELS, BaseModel

KEYWORDS = (
    "score",
    "scored",
    "scores",
    "scoring",
    "points",
    "rating",
    "ranked",
    "black mirror",
    "orwell",
    "dystopi",
    "facial recognition",
    "big brother",
    "surveillance",
    "algorithm",
    "every citizen",
    "sesame",
)


def keyword_alert(texts) -> np.ndarray:
    """What users have today: flag a sentence when it contains an alarm keyword."""
    low = [t.lower() for t in texts]
    return np.array([any(k in t for k in KEYWORDS) for t in low])


def prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(y_true.sum())}


def average_precision(is_myth, p_myth, weights=None):
    """Myth average precision, threshold-free (as scikit-learn's `average_precision_score`; tied
    scores count as one threshold). ``weights`` may be a (resamples, n) matrix of row counts: a
    whole bootstrap in one pass, one AP per row (nan where a resample holds no myth)."""
    p = np.asarray(p_myth, dtype=float)
    order = np.argsort(-p, kind="stable")
    y, p = np.asarray(is_myth, dtype=bool)[order], p[order]
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=float)[..., order]
    last = np.r_[p[1:] != p[:-1], True]  # the last row of each run of equal scores
    tp = np.cumsum(w * y, axis=-1)[..., last]
    fp = np.cumsum(w * ~y, axis=-1)[..., last]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = tp / tp[..., -1:]
    ap = (np.diff(recall, axis=-1, prepend=0) * precision).sum(-1)
    return float(ap) if np.ndim(ap) == 0 else ap


def paired_bootstrap_ap(is_myth, p_base, p_other, resamples: int = 2000, seed: int = 0) -> dict:
    """How much ``p_other`` ranks myths better than ``p_base`` on the same sentences: AP difference
    with a 95% percentile interval over ``resamples`` paired bootstrap resamples of the sentences."""
    n = len(p_base)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    diff = average_precision(is_myth, p_other, weights) - average_precision(is_myth, p_base, weights)
    diff = diff[~np.isnan(diff)]
    return {
        "diff": round(average_precision(is_myth, p_other) - average_precision(is_myth, p_base), 4),
        "ci95": [round(float(np.percentile(diff, 2.5)), 4), round(float(np.percentile(diff, 97.5)), 4)],
        "p_worse": round(float(np.mean(diff < 0)), 4),
        "resamples": int(len(diff)),
    }


def ap_interval(is_myth, p_myth, resamples: int = 2000, seed: int = 0) -> list[float] | None:
    """95% percentile bootstrap interval of the myth AP (resampling sentences)."""
    n = len(p_myth)
    if not n or not np.any(is_myth):
        return None
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    aps = average_precision(is_myth, p_myth, weights)
    aps = aps[~np.isnan(aps)]
    return [round(float(np.percentile(aps, 2.5)), 4), round(float(np.percentile(aps, 97.5)), 4)]


# pages whose authors do not repeat the myths: every flag there is a false alarm for a reader
CAREFUL_STANCES = ("research-based", "state-media", "official")


def by_stance(y_true, y_pred, stance) -> dict:
    """Per page stance: sentences, flags, false flags per 100 sentences, myth recall."""
    y_true, y_pred, stance = (np.asarray(x, dtype=object) for x in (y_true, y_pred, stance))
    out = {}
    for st in sorted(set(stance) - {""}):
        m = stance == st
        flags, myths = (y_pred[m] == "myth"), (y_true[m] == "myth")
        out[st] = {
            "n": int(m.sum()),
            "flags": int(flags.sum()),
            "myths": int(myths.sum()),
            "false_flags_per_100": round(100 * float((flags & ~myths).sum()) / max(int(m.sum()), 1), 2),
            "myth_recall": round(float((flags & myths).sum()) / int(myths.sum()), 4) if myths.any() else None,
        }
    return out


def expected_calibration_error(prob: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    edges = np.linspace(0, 1, bins + 1)
    ece, table = 0.0, []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (prob > lo) & (prob <= hi) if lo > 0 else (prob >= lo) & (prob <= hi)
        if not m.any():
            continue
        conf, acc = float(prob[m].mean()), float(correct[m].mean())
        ece += m.mean() * abs(conf - acc)
        table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(m.sum()), "confidence": round(conf, 4), "accuracy": round(acc, 4)})
    return round(float(ece), 4), table


def compute_metrics(y_true, y_pred, proba: np.ndarray, cat_true=None, cat_pred=None, pairs=None, frames=None) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    out: dict = {"n": int(len(y_true))}
    out["myth"] = prf(y_true == "myth", y_pred == "myth")
    out["myth_average_precision"] = round(average_precision(y_true == "myth", proba[:, LABELS.index("myth")]), 4) if len(y_true) else None
    per = {lab: prf(y_true == lab, y_pred == lab) for lab in LABELS}
    out["per_label"] = per
    out["macro_f1"] = round(float(np.mean([per[lab]["f1"] for lab in LABELS])), 4)
    out["accuracy"] = round(float(np.mean(y_true == y_pred)), 4) if len(y_true) else 0.0
    im = LABELS.index("myth")
    out["ece_myth"], out["reliability_myth"] = expected_calibration_error(proba[:, im], y_true == "myth")
    top = proba.max(axis=1)
    top_lab = np.array(LABELS, dtype=object)[proba.argmax(axis=1)]
    out["ece"], out["reliability"] = expected_calibration_error(top, top_lab == y_true)
    out["confusion"] = {"labels": LABELS, "matrix": [[int(np.sum((y_true == a) & (y_pred == b))) for b in LABELS] for a in LABELS]}
    if cat_true is not None and cat_pred is not None:
        ct = np.array([c or "other" for c in cat_true], dtype=object)
        cp = np.array([(c or "other") if lab != "other" else "other" for c, lab in zip(cat_pred, y_pred)], dtype=object)
        out["per_category"] = {c: prf(ct == c, cp == c) for c in sorted(set(ct) - {"other"})}
        out["category_accuracy"] = round(float(np.mean(ct == cp)), 4)
    if pairs is not None:
        pairs = np.asarray([p or "" for p in pairs], dtype=object)
        ids = sorted(set(pairs) - {""})
        ok = [bool(np.all(y_true[pairs == p] == y_pred[pairs == p])) for p in ids]
        out["contrast_pairs"] = {"n": len(ids), "accuracy": round(float(np.mean(ok)), 4) if ids else None}
        pm = np.isin(pairs, ids)
        out["contrast_pair_sentences_myth"] = prf((y_true == "myth")[pm], (y_pred == "myth")[pm]) if ids else None
    if frames is not None:  # invariance suites: one frame, several wordings that must get one label
        frames = np.asarray([f or "" for f in frames], dtype=object)
        ids = sorted(set(frames) - {""})
        same = [len(set(y_pred[frames == f])) == 1 for f in ids]
        out["invariance"] = {"frames": len(ids), "consistent": round(float(np.mean(same)), 4) if ids else None}
    return out


def evaluate_model(model: BaseModel, df, *, threshold: float | None = None, rows=None) -> tuple[dict, "object"]:
    """Metrics of ``model`` on a labelled DataFrame, and the DataFrame with predictions added.
    ``rows`` (a boolean mask) restricts the metrics to some rows (e.g. those not marked
    ambiguous) while every page is still read whole: a sentence's context and page are the same
    whichever rows are counted."""
    texts = df["text"].astype(str).tolist()
    t0 = time.perf_counter()
    # a model that reads context gets each sentence in its article when the data says how
    # (`article`, `position`, `context_before`: models.Sentences.of)
    proba, labels, cats = model.predict_all(df if model.reads_context else texts, threshold=threshold)
    elapsed = time.perf_counter() - t0
    if rows is not None:
        keep = np.asarray(rows, dtype=bool)
        df = df[keep].reset_index(drop=True)
        proba, labels = proba[keep], np.asarray(labels, dtype=object)[keep]
        cats = [c for c, k in zip(cats, keep) if k]
        texts = [t for t, k in zip(texts, keep) if k]
    pairs = df["pair"].astype(str).tolist() if "pair" in df else None
    cat_true = [c if c else None for c in df["category"].astype(str)]
    frames = df["frame"].fillna("").astype(str).tolist() if "frame" in df else None
    m = compute_metrics(df["label"].to_numpy(dtype=object), labels, proba, cat_true, cats, pairs, frames)
    m["sentences_per_second"] = round(len(proba if rows is None else keep) / elapsed, 1) if elapsed > 0 else None
    kw = keyword_alert(texts)
    m["keyword_baseline_myth"] = prf(df["label"].to_numpy(dtype=object) == "myth", kw)
    is_myth = df["label"].to_numpy(dtype=object) == "myth"
    m["myth_ap_ci95"] = ap_interval(is_myth, proba[:, LABELS.index("myth")])
    if "stance" in df.columns:
        stance = df["stance"].fillna("").astype(str).to_numpy(dtype=object)
        m["by_stance"] = by_stance(df["label"].to_numpy(dtype=object), labels, stance)
        m["keyword_by_stance"] = by_stance(df["label"].to_numpy(dtype=object), np.where(kw, "myth", "other"), stance)
    if pairs is not None and m.get("contrast_pairs", {}).get("n"):
        pm = np.array([p != "" for p in pairs])
        m["keyword_baseline_pairs_myth"] = prf((df["label"].to_numpy(dtype=object) == "myth")[pm], kw[pm])
    out = df.copy()
    out["pred_label"] = labels
    out["pred_category"] = [c or "" for c in cats]
    out["myth_probability"] = proba[:, LABELS.index("myth")]  # rounded in errors.csv
    return m, out


def headline(m: dict) -> dict:
    """The figures people compare models on."""
    return {
        "myth_f1": m["myth"]["f1"],
        "myth_precision": m["myth"]["precision"],
        "myth_recall": m["myth"]["recall"],
        "macro_f1": m["macro_f1"],
        "contrast_pair_accuracy": (m.get("contrast_pairs") or {}).get("accuracy"),
        "ece": m["ece"],
        "category_accuracy": m.get("category_accuracy"),
        "myth_ap": m.get("myth_average_precision"),
    }


def plot_confusion(m: dict, file: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mat = np.array(m["confusion"]["matrix"])
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=110)
    ax.imshow(mat, cmap="Blues")
    ax.set_xticks(range(3), LABELS)
    ax.set_yticks(range(3), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(3):
        for j in range(3):
            ax.text(j, i, str(mat[i, j]), ha="center", va="center", color="white" if mat[i, j] > mat.max() / 2 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(file)
    plt.close(fig)


def plot_reliability(m: dict, file: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=110)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    for key, lab in (("reliability_myth", f"P(myth), ECE {m['ece_myth']:.3f}"), ("reliability", f"top label, ECE {m['ece']:.3f}")):
        rows = m[key]
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", label=lab)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(file)
    plt.close(fig)


def write_report(m: dict, preds, out_dir: Path, *, model_name: str, data_name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
    plot_confusion(m, out_dir / "confusion.png", f"{model_name} on {data_name}")
    plot_reliability(m, out_dir / "reliability.png", f"{model_name} on {data_name}")
    errors = preds[(preds["pred_label"] != preds["label"])]
    cols = [
        c
        for c in ("id", "text", "label", "category", "pred_label", "pred_category", "myth_probability", "register", "hard", "group")
        if c in errors.columns
    ]
    from .sanitise import csv_frame

    csv_frame(errors[cols].round({"myth_probability": 4})).to_csv(out_dir / "errors.csv", index=False)
    h = headline(m)
    lines = [
        f"# Evaluation: {model_name} on {data_name}",
        "",
        f"{m['n']} sentences. Reproduce: `mythscan evaluate --model {model_name}"
        + ("" if data_name == "test split" else f" --data {data_name}")
        + "`",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in h.items()]
    kb = m.get("keyword_baseline_myth")
    if kb:
        lines.append(f"| keyword alert myth F1 (baseline) | {kb['f1']} |")
    if m.get("invariance"):
        lines.append(
            f"| frames labelled the same across wordings (invariance) | {m['invariance']['consistent']} of {m['invariance']['frames']} |"
        )
    if m.get("myth_ap_ci95"):
        lines.append(f"| myth AP 95% bootstrap interval | {m['myth_ap_ci95'][0]} to {m['myth_ap_ci95'][1]} |")
    if m.get("by_stance"):
        lines += [
            "",
            "## By page stance",
            "",
            "False flags per 100 sentences and myth recall, by how the page as a whole treats the topic.",
            "",
            "| stance | sentences | myths | flags | false flags / 100 | myth recall | keyword alert: false flags / 100 |",
            "|---|---|---|---|---|---|---|",
        ]
        for st, v in m["by_stance"].items():
            kw = m.get("keyword_by_stance", {}).get(st, {})
            lines.append(
                f"| {st} | {v['n']} | {v['myths']} | {v['flags']} | {v['false_flags_per_100']} | {v['myth_recall']} | {kw.get('false_flags_per_100')} |"
            )
    lines += ["", "## Per label", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |" for k, v in m["per_label"].items()]
    if m.get("per_category"):
        lines += ["", "## Per category", "", "| category | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |" for k, v in m["per_category"].items()]
    lines += [
        "",
        "## Confusion matrix and calibration",
        "",
        "![confusion](confusion.png) ![reliability](reliability.png)",
        "",
        f"Misclassified sentences: `errors.csv` ({len(errors)} rows).",
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines))
    return out_dir


def article_verdicts(preds, model, confident: float) -> dict | None:
    """How the article-level reading (scoring.assess) treats each page of a labelled sample,
    by the page's stance: how many pages are said to repeat myths, to need a check, or to hold
    none. ``preds`` is `evaluate_model`'s frame (all rows: pages whole); None without `article`
    and `stance` columns."""
    if "article" not in preds.columns or "stance" not in preds.columns:
        return None
    from collections import Counter, defaultdict

    from .models import Sentences
    from .scoring import SentenceResult, assess

    stances = {}
    if hasattr(model, "page_stance"):
        stances = model.page_stance(Sentences.of(preds))
    table: dict[str, Counter] = defaultdict(Counter)
    for article, g in preds.groupby("article", sort=False):
        results = [
            SentenceResult(text=t, label=str(lab), myth_probability=round(float(p), 4), probabilities={})
            for t, lab, p in zip(g["text"], g["pred_label"], g["myth_probability"])
        ]
        verdict, _ = assess(results, confident, stances.get(str(article)))
        table[str(g["stance"].iloc[0])][verdict] += 1
    return {
        st: {"pages": sum(c.values()), **{k: c.get(k, 0) for k in ("repeats-myths", "check", "no-myths")}}
        for st, c in sorted(table.items())
    }
