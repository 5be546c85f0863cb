"""The model registry: models/<name>/ directories and models/DEFAULT naming the default."""

from __future__ import annotations

import json
from pathlib import Path

from .fileio import atomic_write_text
from .paths import models_dir
from .persistence import DEFAULT_MODEL_FILE


def model_dirs() -> list[Path]:
    root = models_dir()
    return sorted(p.parent for p in root.glob("*/config.json")) if root.exists() else []


def default_name() -> str | None:
    marker = models_dir() / DEFAULT_MODEL_FILE
    return marker.read_text().strip() if marker.exists() else None


def set_default(path: Path) -> None:
    path = Path(path).resolve()
    root = models_dir().resolve()
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    atomic_write_text(models_dir() / DEFAULT_MODEL_FILE, name + "\n")


def list_models() -> str:
    default = default_name()
    rows = ["  name            kind      myth_F1  macro_F1  pairs   ECE     trained"]
    for d in model_dirs():
        meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
        tm = meta.get("test_metrics") or {}
        mark = "*" if d.name == default else " "
        rows.append(f"{mark} {d.name:<15} {meta.get('kind', '?'):<9} {tm.get('myth_f1', '-'):<8} {tm.get('macro_f1', '-'):<9} "
                    f"{tm.get('contrast_pair_accuracy', '-'):<7} {tm.get('ece', '-'):<7} {meta.get('trained_at', '-')}")
    if len(rows) == 1:
        rows.append("  (no models: train one with `mythscan train`)")
    return "\n".join(rows)
