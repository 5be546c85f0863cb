"""Generated model cards (README.md inside every model directory)."""

from __future__ import annotations

import json


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def model_card(meta: dict, config: dict) -> str:
    cfg_name, version = (meta.get("config") or {}).get("name"), meta.get("version")
    name = f"{cfg_name} ({version})" if cfg_name and version else meta.get("name", "model")
    d = meta.get("decision", {})
    by = {"batch": "label batch"}.get((meta.get("config") or {}).get("cv_group", "group"), "paraphrase group")
    lines = [
        f"# Model card: {name}",
        "",
        meta.get("description") or f"A `{config['kind']}` classifier for mythscan.",
        "",
        "## What it does",
        "Labels an English sentence as `myth` (asserts a misconception about China's Social Credit System or tech",
        "governance), `accurate` (matches the research record) or `other` (no such claim), with calibrated",
        "probabilities and a category from `labels/taxonomy.yaml`. English only; trained on sentences written by",
        "the mythscan project (see `labels/README.md`), not on real articles.",
        "",
        "## Training",
        f"- kind: `{config['kind']}`; params: `{json.dumps(config.get('params', {}))}`",
        f"- train sentences: {meta.get('train_sentences')}; data hash `{meta.get('data_hash')}`; trained {meta.get('trained_at')}"
        f" in {meta.get('training_seconds')} s",
        f"- decision: myth when P(myth) >= {_fmt(d.get('threshold'))} (chosen on {(meta.get('cv') or {}).get('folds', 'k')}-fold CV"
        f" of the train split, folds by {by}); temperature {_fmt(d.get('temperature'))}; sentences within +/-{_fmt(d.get('review_band'))}"
        " of the threshold are marked `review`.",
        f"- reproduce: `mythscan train --config training/{(meta.get('config') or {}).get('name', name)}.toml`",
        "",
    ]
    cv = meta.get("cv")
    if cv:
        lines += [f"## Cross-validation (train split, folds by {by})", "", "| metric | mean | std |", "|---|---|---|"]
        lines += [f"| {k} | {v['mean']} | {v['std']} |" for k, v in cv["summary"].items()]
        lines.append("")
    tm = meta.get("test_metrics")
    if tm:
        lines += ["## Fixed test split (never used for training or tuning)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in tm.items()]
        kb = (meta.get("test_metrics_full") or {}).get("keyword_baseline_myth")
        if kb:
            lines.append(f"| keyword-alert baseline myth F1 | {_fmt(kb['f1'])} |")
        lines.append("")
    evals = meta.get("evaluations") or {}
    if evals:
        keys = list(next(iter(evals.values())).keys())
        lines += [
            "## Other evaluations (`mythscan evaluate --data FILE`; evaluation only, nothing tuned on them)",
            "",
            "| data | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        lines += [f"| {d} | " + " | ".join(_fmt(h.get(k)) for k in keys) + " |" for d, h in evals.items()]
        lines.append("")
    lines += [
        "## Limits",
        "- Trained on the project's own sentences: real coverage is harder (see the real-coverage figures).",
        "- Sentences are scored one at a time: a myth stated in one sentence and corrected in the next is still flagged.",
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
