"""Generated model cards (README.md inside every model directory)."""

from __future__ import annotations

import json


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _training_data(meta: dict) -> tuple[str, list[dict]]:
    """(a sentence on what the model learnt from, the real-coverage sources among its training data)."""
    sources = meta.get("sources") or []
    real = [x for x in sources if x.get("articles")]
    if not real:
        return ("trained on sentences written by the mythscan project (see `labels/README.md`), not on real articles.", [])
    written = next((x for x in sources if x.get("path") == "labels/"), None)
    pages = [x for x in sources if x.get("pages") and not x.get("articles")]
    parts = [f"{x['rows']:,} sentences of {x['articles']:,} real pages (`{x['path']}`, weight {x.get('weight', 1.0)})" for x in real]
    if written:
        parts.append(f"{written['rows']:,} sentences written by the project (`labels/`, weight {written.get('weight', 1.0)})")
    parts += [f"the page stance of {x['pages']:,} more pages (`{x['path']}`)" for x in pages]
    return "trained on " + "; ".join(parts) + ". The real pages are read at training time, never copied into the repository.", real


def model_card(meta: dict, config: dict) -> str:
    cfg_name, version = (meta.get("config") or {}).get("name"), meta.get("version")
    name = f"{cfg_name} ({version})" if cfg_name and version else meta.get("name", "model")
    d = meta.get("decision", {})
    by = {"batch": "label batch"}.get((meta.get("config") or {}).get("cv_group", "group"), "paraphrase group")
    data, real = _training_data(meta)
    cv = meta.get("cv") or {}
    if real:
        chosen = (
            f"out-of-fold predictions ({cv.get('folds', 'k')} folds grouped by article) of the {cv.get('rows', 'n')} real"
            " sentences not marked ambiguous"
        )
        cv_title = "Cross-validation (out of fold, real sentences not marked ambiguous, folds by article)"
    else:
        chosen = f"{cv.get('folds', 'k')}-fold CV of the train split, folds by {by}"
        cv_title = f"Cross-validation (train split, folds by {by})"
    hp = meta.get("high_precision_point") or {}
    lines = [
        f"# Model card: {name}",
        "",
        meta.get("description") or f"A `{config['kind']}` classifier for mythscan.",
        "",
        "## What it does",
        "Labels an English sentence as `myth` (asserts a misconception about China's Social Credit System or tech",
        "governance), `accurate` (matches the research record) or `other` (no such claim), with calibrated",
        "probabilities and a category from `labels/taxonomy.yaml`. English only; " + data,
        "",
        "## Training",
        f"- kind: `{config['kind']}`; params: `{json.dumps(config.get('params', {}))}`",
        f"- train sentences: {meta.get('train_sentences')}; data hash `{meta.get('data_hash')}`; trained {meta.get('trained_at')}"
        f" in {meta.get('training_seconds')} s",
        f"- decision: myth when P(myth) >= {_fmt(d.get('threshold'))} (chosen on {chosen}); temperature {_fmt(d.get('temperature'))};"
        f" sentences within +/-{_fmt(d.get('review_band'))} of the threshold are marked `review`.",
    ]
    if hp.get("threshold") is not None:
        lines.append(
            f"- high-precision point (`--precision high`): P(myth) >= {_fmt(hp['threshold'])}, chosen on {hp.get('chosen_on')}"
            f" for precision {_fmt(hp.get('target_precision'))}."
        )
    lines += [f"- reproduce: `mythscan train --config training/{(meta.get('config') or {}).get('name', name)}.toml`", ""]
    if cv.get("summary"):
        lines += [f"## {cv_title}", "", "| metric | mean | std |", "|---|---|---|"]
        lines += [f"| {k} | {v['mean']} | {v['std']} |" for k, v in cv["summary"].items()]
        no_myth = [f for f in cv.get("per_fold", []) if "myths" in f and not f["myths"]]
        if no_myth:
            lines.append(f"| (myth_f1 over the {cv['folds'] - len(no_myth)} folds that hold myths) | | |")
        if cv.get("myth_ap") is not None:
            lines.append(f"| myth_ap (pooled) | {cv['myth_ap']} | |")
        lines.append("")
    selection = meta.get("selection_metrics") or {}
    if selection:
        keys = [k for k in ("myth_ap", "myth_f1", "myth_precision", "myth_recall", "macro_f1", "n") if k in next(iter(selection.values()))]
        lines += [
            "## Real coverage, selection files (used to choose the model and its operating points: a little optimistic)",
            "",
            "| data | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        lines += [f"| {n} | " + " | ".join(_fmt(h.get(k)) for k in keys) + " |" for n, h in selection.items()]
        lines.append("")
    tm = meta.get("test_metrics")
    if tm:
        lines += ["## Fixed test split (never used for training or tuning; a regression report)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in tm.items()]
        kb = (meta.get("test_metrics_full") or {}).get("keyword_baseline_myth")
        if kb:
            lines.append(f"| keyword-alert baseline myth F1 | {_fmt(kb['f1'])} |")
        lines.append("")
    evals = meta.get("evaluations") or {}
    if evals:
        keys = list(next(iter(evals.values())).keys())
        chosen_on = {n.split(" (")[0] for n in selection}
        lines += [
            "## Other evaluations (`mythscan evaluate --data FILE`; files marked * are selection files, the rest evaluation only)",
            "",
            "| data | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        lines += [
            f"| {n}{' *' if n.split(' (')[0] in chosen_on else ''} | " + " | ".join(_fmt(h.get(k)) for k in keys) + " |"
            for n, h in evals.items()
        ]
        lines.append("")
    reads_context = config.get("kind") == "context"
    lines += [
        "## Limits",
        (
            "- Trained on a few hundred real pages: the real-coverage figures rest on small samples, and pages unlike them"
            " (other registers, other topics) are harder."
            if real
            else "- Trained on the project's own sentences: real coverage is harder (see the real-coverage figures)."
        ),
        (
            "- Reads each sentence with the one before it and its page; sentences scored alone (no article) use a second head"
            " and score worse."
            if reads_context
            else "- Sentences are scored one at a time: a myth stated in one sentence and corrected in the next is still flagged."
        ),
        "- A flag is a prompt to check a sentence, not a verdict on an article or its author.",
        "",
        "## Versions",
        "",
        "```",
        json.dumps(meta.get("versions", {}), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
