"""The model registry: versions under models/<name>/<version>/, the default in models/DEFAULT,
and the history of defaults in models/HISTORY (one line per change, newest last) for rollback.

`--model NAME` means models/NAME/CURRENT. One notion of "current": while a version of NAME is the
default, NAME/CURRENT names that version (set_default moves it on promote, rollback and a promoting
`train`; a `train` that is not promoted leaves it); a name with no version as the default has the
newest version trained as CURRENT."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .fileio import atomic_write_text
from .paths import models_dir
from .persistence import DEFAULT_MODEL_FILE

HISTORY_FILE = "HISTORY"
# A new model may not be worse than the default by more than this on any headline metric.
TOLERANCE = {"myth_f1": 0.01, "macro_f1": 0.01, "contrast_pair_accuracy": 0.02, "ece": 0.02}
LOWER_IS_BETTER = {"ece"}
# Extra gate files (`train --gate-data`, e.g. a sample of real coverage) are judged on the label
# metrics only: calibration error on a few hundred sentences moves too much from run to run.
GATE_METRICS = ("myth_f1", "macro_f1", "contrast_pair_accuracy")
# Real coverage decides (a config's `selection` files and --gate-data: unambiguous rows, read in
# their articles): myth AP (ranking, whatever the threshold), myth F1 and macro-F1.
REAL_TOLERANCE = {"myth_ap": 0.01, "myth_f1": 0.02, "macro_f1": 0.02}
REAL_METRICS = tuple(REAL_TOLERANCE)
# With real coverage to decide, the project's own test split is a regression report: only a sharp
# drop (something broke) keeps the default.
SHARP_DROP = {"myth_f1": 0.25, "macro_f1": 0.25}


def new_version() -> str:
    return time.strftime("v%Y%m%d-%H%M%S", time.gmtime())


def model_dirs() -> list[Path]:
    """Every model directory (flat models/<name>/ or versioned models/<name>/<version>/)."""
    root = models_dir()
    if not root.exists():
        return []
    return sorted({p.parent for p in [*root.glob("*/config.json"), *root.glob("*/*/config.json")]})


def ref_of(path: Path) -> str:
    path = Path(path).resolve()
    root = models_dir().resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def default_name() -> str | None:
    marker = models_dir() / DEFAULT_MODEL_FILE
    return marker.read_text().strip() if marker.exists() else None


def default_name_of(name: str) -> str | None:
    """The default model's ref when it is a version of NAME (``NAME/<version>``), else None."""
    ref = default_name()
    return ref if ref and ref.split("/")[0] == name and ref.count("/") == 1 else None


def history() -> list[str]:
    f = models_dir() / HISTORY_FILE
    return [ln.split("\t")[-1] for ln in f.read_text().splitlines() if ln.strip()] if f.exists() else []


def set_default(path: Path, reason: str = "set") -> str:
    from .persistence import resolve_model_path

    target = resolve_model_path(path)
    ref = ref_of(target)
    atomic_write_text(models_dir() / DEFAULT_MODEL_FILE, ref + "\n")
    name, _, version = ref.partition("/")
    if version and "/" not in version and (models_dir() / name / version).resolve() == target.resolve():
        atomic_write_text(models_dir() / name / "CURRENT", version + "\n")  # NAME/CURRENT follows the default
    hist = models_dir() / HISTORY_FILE
    with hist.open("a", encoding="utf-8") as fh:  # append-only log
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\t{reason}\t{ref}\n")
    return ref


def rollback() -> str:
    """Make the previous default the default again."""
    hist = history()
    current = default_name()
    previous = [h for h in hist if h != current]
    if not previous:
        raise ModelError("no earlier default to roll back to", hint="`mythscan models list` shows the models")
    # walk back from the end to the last entry before the current default
    idx = max(i for i, h in enumerate(hist) if h == current) if current in hist else len(hist)
    earlier = [h for h in hist[:idx] if h != current]
    if not earlier:
        raise ModelError(f"{current} is the oldest default in models/{HISTORY_FILE}", hint="promote a version instead")
    return set_default(models_dir() / earlier[-1], reason="rollback")


def _meta(d: Path) -> dict:
    try:
        return json.loads((d / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _current_test_hash() -> str | None:
    """The data hash of the label file's test split now, or None if the labels cannot be read."""
    from .data import data_hash, load_splits
    from .errors import MythscanError

    try:
        test = load_splits()[1]
    except (MythscanError, OSError, ValueError):
        return None
    return data_hash(test) if not test.empty else None


def list_models() -> str:
    """One row per model version with the test figures from its training run; a version trained
    when the test split was different is marked, since its figures are not comparable."""
    default = default_name()
    current = _current_test_hash()
    rows = [f"  {'model':<34}{'kind':<10}{'myth_F1':>8}{'macroF1':>8}{'pairs':>7}{'ECE':>7}  trained"]
    stale = 0
    for d in model_dirs():
        meta = _meta(d)
        tm = meta.get("test_metrics") or {}
        ref = ref_of(d)
        mark = "*" if ref == default else " "
        fmt = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
        old = bool(current and meta.get("test_data_hash") and meta["test_data_hash"] != current)
        stale += old
        rows.append(f"{mark} {ref:<34}{meta.get('kind', '?'):<10}{fmt(tm.get('myth_f1')):>8}{fmt(tm.get('macro_f1')):>8}"
                    f"{fmt(tm.get('contrast_pair_accuracy')):>7}{fmt(tm.get('ece')):>7}  {meta.get('trained_at', '-')}"
                    + ("  (older test split)" if old else ""))
    if len(rows) == 1:
        rows.append("  (no models: train one with `mythscan train`)")
    elif stale:
        rows.append(f"Figures are from each training run. {stale} version(s) were measured on an older test split; "
                    "`mythscan evaluate --compare` measures every model on the current one in one run.")
    return "\n".join(rows)


def show_model(name: str | None) -> str:
    from .persistence import resolve_model_path

    d = resolve_model_path(name)
    card = d / "README.md"
    return card.read_text() if card.exists() else json.dumps(_meta(d), indent=2)


@dataclass
class Comparison:
    candidate: dict
    default: dict | None
    regressions: list[str]

    @property
    def ok(self) -> bool:
        return not self.regressions

    metrics: tuple[str, ...] = tuple(TOLERANCE)
    tolerance: dict | None = None

    def table(self) -> str:
        lines = [f"{'metric':<24}{'new':>8}{'default':>9}  tolerance"]
        for k in self.metrics:
            tol = (self.tolerance or TOLERANCE)[k]
            new = self.candidate.get(k)
            old = (self.default or {}).get(k)
            flag = "  REGRESSED" if k in self.regressions else ""
            lines.append(f"{k:<24}{_f(new):>8}{_f(old):>9}  {tol}{flag}")
        return "\n".join(lines)


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


def compare_many(candidate_dir: Path, datasets) -> list[Comparison]:
    """Evaluate the candidate and the current default on each (data, metrics) pair (the test split,
    gate files), in this run, loading both models once; a metric regresses when it is worse than the
    default's beyond TOLERANCE."""
    from .evaluation import evaluate_model, headline
    from .persistence import load_model

    candidate = load_model(candidate_dir)
    default = default_name()
    old_model = load_model(models_dir() / default) if default and (models_dir() / default / "config.json").exists() else None
    out = []
    for df, metrics, *rest in datasets:  # (data, metrics or {metric: tolerance}[, rows counted])
        rows = rest[0] if rest else None
        tolerance = metrics if isinstance(metrics, dict) else {k: TOLERANCE[k] for k in metrics}
        cand = headline(evaluate_model(candidate, df, rows=rows)[0])
        if old_model is None:
            out.append(Comparison(cand, None, [], tuple(tolerance), tolerance))
            continue
        old = headline(evaluate_model(old_model, df, rows=rows)[0])
        regressions = []
        for k, tol in tolerance.items():
            a, b = cand.get(k), old.get(k)
            if a is None or b is None:
                continue
            worse = (a - b) if k in LOWER_IS_BETTER else (b - a)
            if worse > tol:
                regressions.append(k)
        out.append(Comparison(cand, old, regressions, tuple(tolerance), tolerance))
    return out
