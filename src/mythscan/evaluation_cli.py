"""The work behind `mythscan evaluate`: one model with a report, or every model side by side."""

from __future__ import annotations

import time
from pathlib import Path

from .errors import InputError
from .evaluation import evaluate_model, headline, write_report
from .paths import reports_dir


def load_eval_data(data: Path | None):
    """A labelled DataFrame: the fixed test split, or any CSV/JSONL with text and label columns."""
    from .data import load_splits
    from .reading import read_table

    if data is None:
        return load_splits()[1], "test split"
    df = read_table(data, what="labelled data")
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise InputError(f"{data}: missing column(s) {missing}; found {list(df.columns)}", hint="labelled data needs text and label")
    df = df.astype({"text": str, "label": str})
    if "ambiguous" in df.columns:
        df["ambiguous"] = df["ambiguous"].astype(str)
    for c in ("category", "pair"):
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str)
    bad = sorted(set(df["label"]) - {"myth", "accurate", "other"})
    if bad:
        raise InputError(f"{data}: unknown labels {bad}", hint="labels must be myth, accurate or other")
    return df.reset_index(drop=True), Path(data).name


def run_evaluate(model_name, data, out, threshold=None) -> str:
    from .persistence import load_model

    model = load_model(model_name)
    df, data_name = load_eval_data(data)
    from .registry import ref_of

    name = ref_of(model.path) if model.path else str(model_name)
    lines = []
    subsets = [("", df)]
    if "ambiguous" in df.columns:
        subsets.append(("-unambiguous", df[df["ambiguous"].isin(["0", "false", "False", ""])].reset_index(drop=True)))
    for suffix, sub in subsets:
        m, preds = evaluate_model(model, sub, threshold=threshold)
        target = Path(out) if out else reports_dir() / name / (("test" if data is None else Path(data).stem) + suffix)
        if out and suffix:
            target = Path(out) / suffix.lstrip("-")
        write_report(m, preds, target, model_name=name, data_name=data_name + (" (unambiguous rows)" if suffix else ""))
        h = headline(m)
        if data is not None and model.path is not None and not out:
            record_evaluation(model, data_name + (" (unambiguous rows)" if suffix else ""),
                              {**h, "n": m["n"], "keyword_alert_myth_f1": m["keyword_baseline_myth"]["f1"]})
        lines.append(f"{name} on {data_name}{' (unambiguous rows)' if suffix else ''}: n={m['n']} " + " ".join(f"{k}={v}" for k, v in h.items())
                     + f" keyword_alert_myth_f1={m['keyword_baseline_myth']['f1']}"
                     + (f" invariant_frames={m['invariance']['consistent']}" if m.get("invariance") else ""))
        lines.append(f"  report: {target / 'report.md'}")
    return "\n".join(lines)


def run_compare(data) -> str:
    """One table of every model on the same data, measured in this run. ``AP`` is myth average
    precision (threshold-free); the last column is each model's AP minus the default's with a 95%
    paired-bootstrap interval, so a small set (e.g. 187 real sentences) says what is noise."""
    from . import encoder
    from .evaluation import paired_bootstrap_ap
    from .persistence import load_model
    from .registry import default_name, model_dirs, ref_of

    df, data_name = load_eval_data(data)
    is_myth = (df["label"] == "myth").to_numpy()
    default = default_name()
    measured = []
    for d in model_dirs():
        t0 = time.perf_counter()
        model = load_model(d)
        load_s = time.perf_counter() - t0
        encoder.clear_caches()  # time every model from cold embeddings
        model.predict_all(df["text"].astype(str).tolist()[:16])  # warm-up: sessions, not cached rows
        encoder.clear_caches()
        m, preds = evaluate_model(model, df)
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
        measured.append((ref_of(d), model, m, preds["myth_probability"].to_numpy(dtype=float), size, load_s))
    base = next((p for ref, _, _, p, _, _ in measured if ref == default), None)
    rows = [f"models on {data_name} (n={len(df)}); AP = myth average precision; vs default: AP difference [95% paired bootstrap]",
            f"{'model':<28}{'myth_F1':>8}{'myth_P':>8}{'myth_R':>8}{'macroF1':>8}{'pairs':>7}{'ECE':>7}{'AP':>7}"
            f"{'train_s':>9}{'sent/s':>9}{'size_MB':>9}  {'vs default':<24}"]
    for ref, model, m, p, size, load_s in measured:
        h = headline(m)
        pairs = f"{h['contrast_pair_accuracy']:.3f}" if h["contrast_pair_accuracy"] is not None else "-"
        if ref == default:
            versus = "(default)"
        elif base is None:
            versus = "-"
        else:
            b = paired_bootstrap_ap(is_myth, base, p)
            versus = f"{b['diff']:+.3f} [{b['ci95'][0]:+.3f}, {b['ci95'][1]:+.3f}]"
        rows.append(f"{ref[:27]:<28}{h['myth_f1']:>8.3f}{h['myth_precision']:>8.3f}{h['myth_recall']:>8.3f}{h['macro_f1']:>8.3f}"
                    f"{pairs:>7}{h['ece']:>7.3f}{h['myth_ap']:>7.3f}{model.meta.get('training_seconds', 0):>9.1f}"
                    f"{m['sentences_per_second'] or 0:>9.0f}{size:>9.2f}  {versus:<24}(load {load_s:.2f} s)")
    if measured:
        kb = measured[0][2]["keyword_baseline_myth"]
        rows.append(f"{'keyword alert (baseline)':<28}{kb['f1']:>8.3f}{kb['precision']:>8.3f}{kb['recall']:>8.3f}")
    return "\n".join(rows)


def record_evaluation(model, data_name: str, figures: dict) -> None:
    """Keep a model's figures on other data (e.g. real coverage) in its meta.json and card."""
    import json

    from .cards import model_card
    from .fileio import atomic_write_text

    meta_file = model.path / "meta.json"
    if not meta_file.exists():
        return
    meta = json.loads(meta_file.read_text())
    meta.setdefault("evaluations", {})[data_name] = figures
    atomic_write_text(meta_file, json.dumps(meta, indent=2, default=str) + "\n")
    config = json.loads((model.path / "config.json").read_text())
    atomic_write_text(model.path / "README.md", model_card(meta, config))
    model.meta = meta
