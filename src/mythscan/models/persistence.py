"""Model directories: find one by name, write one atomically (weights, config, meta, card), read its
config with checks. Building a model from a directory is `kinds.load_model`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path

from ..errors import ModelError
from ..paths import models_dir

DEFAULT_MODEL_FILE = "DEFAULT"  # models/DEFAULT holds the name (or name/version) of the default model


def library_versions() -> dict[str, str]:
    out = {}
    for name in ("mythscan", "numpy", "scikit-learn", "onnxruntime", "tokenizers", "safetensors", "torch", "transformers"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


def write_model_dir(model, path: Path, meta: dict) -> Path:
    """Write a fitted model (a `base.BaseModel`) to PATH atomically: weights, config.json, meta.json, card."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model._save_weights(tmp)
        (tmp / "config.json").write_text(json.dumps(model.config(), indent=2) + "\n")
        full_meta = {
            "name": path.name,
            "kind": model.kind,
            "labels": model.config()["labels"],
            "categories": [c for c in model.config()["fine_classes"] if c != "other"],
            "versions": library_versions(),
            **meta,
        }
        model.meta = full_meta
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2, default=str) + "\n")
        from .cards import model_card

        (tmp / "README.md").write_text(model_card(full_meta, model.config()))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.path = path
    return path


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "~")) or Path(ref).is_absolute() or "/" in ref or os.sep in ref


def resolve_model_path(name_or_path: str | Path | None = None) -> Path:
    """A model directory from a name under models/ (``stack``, ``stack/v2026...``), a path, or the
    default (models/DEFAULT).

    Names are looked up under models/ first; the argument is read as a directory only when it looks
    like a path (it starts with `.` or `~`, is absolute, or has a separator), so a directory in the
    working directory that is named like a model (`stack`) does not silently replace it."""
    root = models_dir()
    if name_or_path is None:
        marker = root / DEFAULT_MODEL_FILE
        if not marker.exists():
            raise ModelError(f"no default model: {marker} is missing", hint="train one with `mythscan train` or pass --model")
        name_or_path = marker.read_text().strip()
    ref = str(name_or_path)
    p = Path(ref).expanduser()
    if ref.startswith((".", "~")) or p.is_absolute():
        candidates = [p]
    else:
        candidates = [root / ref] + ([p] if _looks_like_path(ref) else [])
    for candidate in candidates:
        if (candidate / "config.json").exists():
            return candidate
        current = candidate / "CURRENT"
        if current.exists() and (candidate / current.read_text().strip() / "config.json").exists():
            return candidate / current.read_text().strip()
    raise ModelError(
        f"model {ref} not found (looked in {' and '.join(str(c) for c in candidates)})",
        hint="`mythscan models list` shows the models; train one with `mythscan train`"
        + ("" if _looks_like_path(ref) else f"; for a directory here, write ./{ref}"),
    )


def read_model_config(path: Path) -> tuple[dict, dict]:
    """config.json and meta.json of a model directory, checked (`kinds.load_model` builds the model)."""
    try:
        config = json.loads((path / "config.json").read_text())
        meta = json.loads((path / "meta.json").read_text()) if (path / "meta.json").exists() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: config.json or meta.json is not valid JSON ({exc})", hint="retrain the model") from None
    missing = [k for k in ("kind", "fine_classes") if k not in config] if isinstance(config, dict) else ["kind", "fine_classes"]
    if missing:
        raise ModelError(
            f"{path / 'config.json'}: missing key(s) {missing}", hint="the model directory is incomplete; retrain it with `mythscan train`"
        )
    return config, meta
