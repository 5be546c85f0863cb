"""The model registry: versions under models/<name>/<version>/, the default in models/DEFAULT,
and the history of defaults in models/HISTORY (one line per change, newest last) for rollback.

`--model NAME` means models/NAME/CURRENT. One notion of "current": while a version of NAME is the
default, NAME/CURRENT names that version (set_default moves it on promote, rollback and a promoting
`train`; a `train` that is not promoted leaves it); a name with no version as the default has the
newest version trained as CURRENT."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ModelError
from ..fileio import atomic_write_text
from ..paths import models_dir
from .persistence import DEFAULT_MODEL_FILE

HISTORY_FILE = "HISTORY"


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
    # versions no longer kept in models/ (only the default and the previous default are committed) are skipped
    earlier = [h for h in hist[:idx] if h != current and (models_dir() / h / "config.json").exists()]
    if not earlier:
        raise ModelError(f"{current} is the oldest default in models/{HISTORY_FILE}", hint="promote a version instead")
    return set_default(models_dir() / earlier[-1], reason="rollback")


def _meta(d: Path) -> dict:
    try:
        return json.loads((d / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _real_figures(meta: dict) -> dict:
    """The training run's figures on its first real-coverage selection file (unambiguous rows when marked)."""
    sel = meta.get("selection_metrics") or {}
    names = [n for n in sel if n.endswith("(unambiguous)")] or list(sel)
    return sel[names[0]] if names else {}


def list_models(test_hash: str | None = None) -> str:
    """One row per model version with the figures from its training run (myth AP and F1 on the first
    real-coverage selection file, then the test split); with ``test_hash`` (the current test split's
    `data.data_hash`, handed in: the model stage reads no label file) a version trained on a
    different test split is marked, since its test figures are not comparable."""
    default = default_name()
    current = test_hash
    rows = [f"  {'model':<34}{'kind':<10}{'real_AP':>8}{'real_F1':>8}{'myth_F1':>8}{'macroF1':>8}{'pairs':>7}{'ECE':>7}  trained"]
    stale = 0
    for d in model_dirs():
        meta = _meta(d)
        tm = meta.get("test_metrics") or {}
        ref = ref_of(d)
        mark = "*" if ref == default else " "
        fmt = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
        old = bool(current and meta.get("test_data_hash") and meta["test_data_hash"] != current)
        stale += old
        real = _real_figures(meta)
        rows.append(
            f"{mark} {ref:<34}{meta.get('kind', '?'):<10}{fmt(real.get('myth_ap')):>8}{fmt(real.get('myth_f1')):>8}"
            f"{fmt(tm.get('myth_f1')):>8}{fmt(tm.get('macro_f1')):>8}"
            f"{fmt(tm.get('contrast_pair_accuracy')):>7}{fmt(tm.get('ece')):>7}  {meta.get('trained_at', '-')}"
            + ("  (older test split)" if old else "")
        )
    if len(rows) == 1:
        rows.append("  (no models: train one with `mythscan train`)")
    elif stale:
        rows.append(
            f"Figures are from each training run (real_*: the first selection file's unambiguous rows; the rest: the "
            f"project's test split). {stale} version(s) were measured on an older test split; "
            "`mythscan evaluate --compare` measures every model on the current one in one run."
        )
    return "\n".join(rows)


def show_model(name: str | None) -> str:
    from .persistence import resolve_model_path

    d = resolve_model_path(name)
    card = d / "README.md"
    return card.read_text() if card.exists() else json.dumps(_meta(d), indent=2)
