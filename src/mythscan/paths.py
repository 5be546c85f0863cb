"""Where the project's data, models and caches live."""

from __future__ import annotations

import os
from pathlib import Path

# src/mythscan/paths.py -> repository root (editable install) is two levels above the package.
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent


def project_root() -> Path:
    """The repository root: MYTHSCAN_HOME, else the checkout this package was installed from."""
    env = os.environ.get("MYTHSCAN_HOME")
    return Path(env).resolve() if env else REPO_ROOT


def labels_dir() -> Path:
    return project_root() / "labels"


def models_dir() -> Path:
    return project_root() / "models"


def reports_dir() -> Path:
    return project_root() / "evaluate" / "reports"


def training_dir() -> Path:
    return project_root() / "training"


def default_taxonomy_path() -> Path:
    return labels_dir() / "taxonomy.yaml"


def cache_dir() -> Path:
    env = os.environ.get("MYTHSCAN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mythscan"
