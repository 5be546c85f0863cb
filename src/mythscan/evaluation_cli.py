"""The work behind `mythscan evaluate`: how good is a model on real coverage and on the project's
test split, one model with reports, or every model side by side.

Real coverage comes first. When the team's labelled samples of real pages are beside the
checkout (`REAL_SETS`: ../shared/real/select.csv, read page by page with each sentence's context,
and ../shared/eval/realworld_dev.csv, single sentences), a plain `mythscan evaluate` reports them
with and without the rows marked ambiguous, next to the project's own test split (a regression
report: it is written like the training labels). Every figure comes with the keyword alert on the
same rows. Nothing is written into the repository unless asked (`--out DIR` or `--save`).
"""

from __future__ import annotations

import time
from pathlib import Path

from .errors import InputError
from .evaluation import article_verdicts, evaluate_model, headline, write_report
from .paths import reports_dir

# Labelled real coverage the team keeps beside the checkout (never in it): paths relative to the
# project root. Users measure on their own sample with `--data FILE`.
REAL_SETS = ("../shared/real/select.csv", "../shared/eval/realworld_dev.csv")
UNAMBIGUOUS = ("0", "false", "False", "")


def load_eval_data(data: Path | None):
    """A labelled DataFrame: the fixed test split, or any CSV/JSONL/Parquet with text and label
    columns (and optionally category, pair, ambiguous, and for reading in context article,
    position, context_before, stance)."""
    from .data import load_splits
    from .reading import read_table

    if data is None:
        return load_splits()[1], "test split"
    df = read_table(data, what="labelled data")
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise InputError(f"{data}: missing column(s) {missing}; found {list(df.columns)}", hint="labelled data needs text and label")
    df = df.astype({"text": str, "label": str})
    for c in ("ambiguous", "article", "context_before", "stance", "position"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    for c in ("category", "pair"):
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str)
    bad = sorted(set(df["label"]) - {"myth", "accurate", "other"})
    if bad:
        raise InputError(f"{data}: unknown labels {bad}", hint="labels must be myth, accurate or other")
    return df.reset_index(drop=True), Path(data).name


def real_sets() -> list[Path]:
    """The labelled real-coverage files present beside this checkout."""
    from .data import resolve_data_path

    return [p for p in (resolve_data_path(f) for f in REAL_SETS) if p.exists()]


def subsets(df) -> list[tuple[str, object]]:
    """(suffix, row mask or None): all rows, and where the file marks them, the rows not marked
    ambiguous (pages are still read whole: `evaluation.evaluate_model`'s ``rows``)."""
    out = [("", None)]
    if "ambiguous" in df.columns:
        out.append((" (unambiguous)", df["ambiguous"].isin(UNAMBIGUOUS).to_numpy()))
    return out


def _fmt_row(name: str, m: dict) -> str:
    h = headline(m)
    ci = m.get("myth_ap_ci95")
    ap = f"{h['myth_ap']:.3f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "") if h["myth_ap"] is not None else "-"
    kb = m["keyword_baseline_myth"]
    careful = ""
    if m.get("by_stance"):
        from .evaluation import CAREFUL_STANCES

        bits = [f"{st.split('-')[0]} {m['by_stance'][st]['false_flags_per_100']:.1f}" for st in CAREFUL_STANCES if st in m["by_stance"]]
        rep = m["by_stance"].get("repeats-myths", {}).get("myth_recall")
        careful = "; false flags/100: " + ", ".join(bits) + (f"; recall on myth-repeating pages {rep:.2f}" if rep is not None else "")
    return (
        f"{name:<38}{m['n']:>6}{h['myth_precision']:>8.3f}{h['myth_recall']:>8.3f}{h['myth_f1']:>8.3f}  {ap:<20}"
        f"{h['macro_f1']:>8.3f}   {kb['f1']:.3f} ({kb['precision']:.2f}/{kb['recall']:.2f}){careful}"
    )


HEADER = f"{'data':<38}{'n':>6}{'myth_P':>8}{'myth_R':>8}{'myth_F1':>8}  {'AP [95% CI]':<20}{'macroF1':>8}   keyword alert F1 (P/R)"


def run_evaluate(model_name, data, out, threshold=None, *, save: bool = False, precision: str = "balanced") -> str:
    """One model on `data` (or on the real-coverage sets present and the test split), as a table;
    reports (metrics.json, report.md, PNG, errors.csv) go to ``out``, or with ``save`` to
    evaluate/reports/<model>/; a plain run writes nothing."""
    from .models import load_model, ref_of
    from .scoring import Scorer

    model = load_model(model_name)
    if threshold is None:  # the operating point a user of `score --precision` gets
        threshold = Scorer(model, precision=precision).threshold
    name = ref_of(model.path) if model.path else str(model_name)
    datasets = [load_eval_data(data)] if data is not None else [*(load_eval_data(p) for p in real_sets()), load_eval_data(None)]
    lines = [
        f"{name} (threshold {threshold:.2f}{', high precision' if precision == 'high' else ''}); "
        "AP = myth average precision with a 95% bootstrap interval",
        HEADER,
    ]
    reports, verdicts = [], []
    confident = model.decision.confident()
    for df, data_name in datasets:
        if "article" in df.columns and "stance" in df.columns:
            _, all_preds = evaluate_model(model, df, threshold=threshold)
            v = article_verdicts(all_preds, model, confident)
            if v:
                verdicts.append((data_name, v))
        for suffix, rows in subsets(df):
            m, preds = evaluate_model(model, df, threshold=threshold, rows=rows)
            lines.append(_fmt_row(data_name + suffix, m))
            if out or save:
                stem = "test" if data_name == "test split" else Path(data_name).stem
                folder = stem + ("-unambiguous" if suffix else "")
                if out and data is not None:  # one data file: DIR, and DIR/unambiguous
                    target = Path(out) / "unambiguous" if suffix else Path(out)
                else:
                    target = (Path(out) / folder) if out else reports_dir() / name / folder
                write_report(m, preds, target, model_name=name, data_name=data_name + suffix)
                reports.append(target / "report.md")
            if save and data_name != "test split" and model.path is not None:
                record_evaluation(
                    model, data_name + suffix, {**headline(m), "n": m["n"], "keyword_alert_myth_f1": m["keyword_baseline_myth"]["f1"]}
                )
    if data is None and not real_sets():
        lines.append(
            "note: no labelled real coverage beside this checkout (../shared/real, ../shared/eval); "
            "measure on your own sample with --data FILE (text, label[, article, position, context_before, stance, ambiguous])"
        )
    for data_name, v in verdicts:
        lines.append(f"article verdicts on {data_name}'s pages (repeats myths / check / none), by page stance:")
        lines += [f"  {st:<16}{c['pages']:>4} pages: {c['repeats-myths']:>3} / {c['check']:>3} / {c['no-myths']:>3}" for st, c in v.items()]
    lines += [f"  report: {r}" for r in reports]
    return "\n".join(lines)


def run_compare(data) -> str:
    """Every model on the same data, measured in this run (the keyword alert and the previous
    default included): myth P/R/F1, AP and each model's AP difference from the default with a 95%
    paired-bootstrap interval, so a small set says what is noise. Default data: the unambiguous
    rows of the first real-coverage set present (select.csv), else the test split."""
    from .evaluation import paired_bootstrap_ap
    from .models import default_name, encoder, history, load_model, model_dirs, ref_of

    if data is None and real_sets():
        df, data_name = load_eval_data(real_sets()[0])
    else:
        df, data_name = load_eval_data(data)
    suffix, rows = subsets(df)[-1]
    data_name += suffix
    is_myth = (df["label"] == "myth").to_numpy() if rows is None else (df["label"] == "myth").to_numpy()[rows]
    default = default_name()
    previous = next((h for h in reversed(history()) if h != default), None)
    measured = []
    for d in model_dirs():
        t0 = time.perf_counter()
        model = load_model(d)
        load_s = time.perf_counter() - t0
        encoder.clear_caches()  # time every model from cold embeddings
        model.predict_all(df["text"].astype(str).tolist()[:16])  # warm-up: sessions, not cached rows
        encoder.clear_caches()
        m, preds = evaluate_model(model, df, rows=rows)
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
        measured.append((ref_of(d), model, m, preds["myth_probability"].to_numpy(dtype=float), size, load_s))
    base = next((p for ref, _, _, p, _, _ in measured if ref == default), None)
    table = [
        f"models on {data_name} (n={len(is_myth)}); AP = myth average precision; vs default: AP difference [95% paired bootstrap]",
        f"{'model':<34}{'myth_F1':>8}{'myth_P':>8}{'myth_R':>8}{'macroF1':>8}{'ECE':>7}{'AP':>7}"
        f"{'train_s':>9}{'sent/s':>9}{'size_MB':>9}  {'vs default':<24}",
    ]
    for ref, model, m, p, size, load_s in measured:
        h = headline(m)
        if ref == default:
            versus = "(default)"
        elif base is None:
            versus = "-"
        else:
            b = paired_bootstrap_ap(is_myth, base, p)
            versus = f"{b['diff']:+.3f} [{b['ci95'][0]:+.3f}, {b['ci95'][1]:+.3f}]"
        mark = " (previous default)" if ref == previous else ""
        table.append(
            f"{(ref + mark)[:33]:<34}{h['myth_f1']:>8.3f}{h['myth_precision']:>8.3f}{h['myth_recall']:>8.3f}{h['macro_f1']:>8.3f}"
            f"{h['ece']:>7.3f}{h['myth_ap']:>7.3f}{model.meta.get('training_seconds', 0):>9.1f}"
            f"{m['sentences_per_second'] or 0:>9.0f}{size:>9.2f}  {versus:<24}(load {load_s:.2f} s)"
        )
    if measured:
        kb = measured[0][2]["keyword_baseline_myth"]
        table.append(f"{'keyword alert (baseline)':<34}{kb['f1']:>8.3f}{kb['precision']:>8.3f}{kb['recall']:>8.3f}")
    return "\n".join(table)


def record_evaluation(model, data_name: str, figures: dict) -> None:
    """Keep a model's figures on other data (e.g. real coverage) in its meta.json and card
    (`evaluate --save`)."""
    import json

    from .fileio import atomic_write_text
    from .models import model_card

    meta_file = model.path / "meta.json"
    if not meta_file.exists():
        return
    meta = json.loads(meta_file.read_text())
    meta.setdefault("evaluations", {})[data_name] = figures
    atomic_write_text(meta_file, json.dumps(meta, indent=2, default=str) + "\n")
    config = json.loads((model.path / "config.json").read_text())
    atomic_write_text(model.path / "README.md", model_card(meta, config))
    model.meta = meta
