"""Shared fixtures: tiny models trained in seconds on a slice of the committed labels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def tiny_labels(tmp_path_factory) -> Path:
    """A small but real label file: 40 rows per label of the committed train split + test rows."""
    import pandas as pd

    df = pd.read_csv(ROOT / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    parts = []
    for split, n in (("train", 60), ("test", 15)):
        sub = df[df["split"] == split]
        parts += [g.sample(min(n, len(g)), random_state=0) for _, g in sub.groupby("label")]
    # keep whole contrast pairs in the test slice so pair metrics are exercised
    test_pairs = df[(df["split"] == "test") & (df["pair"] != "")].groupby("pair").head(2).head(20)
    out = pd.concat(parts + [test_pairs]).drop_duplicates("id")
    complete = out[out["pair"] != ""].groupby("pair")["label"].apply(lambda s: sorted(s) == ["accurate", "myth"])
    out.loc[~out["pair"].isin(complete[complete].index), "pair"] = ""  # keep only whole pairs
    path = tmp_path_factory.mktemp("labels") / "tiny.csv"
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_labels, tmp_path_factory) -> Path:
    from mythscan.training import TrainConfig, train

    cfg = TrainConfig.from_dict({"name": "tiny", "kind": "tfidf", "cv_folds": 3, "params": {"C": 5.0}})
    _, path, _ = train(cfg, labels_path=tiny_labels, out_dir=tmp_path_factory.mktemp("models") / "tiny")
    return path


@pytest.fixture(scope="session")
def project_home(tiny_model, tmp_path_factory) -> Path:
    """A MYTHSCAN_HOME with the committed labels and the tiny model as default, for CLI runs."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(ROOT / "labels", home / "labels", ignore=shutil.ignore_patterns("drafts"))
    shutil.copytree(tiny_model, home / "models" / "tiny")
    (home / "models" / "DEFAULT").write_text("tiny\n")
    shutil.copytree(ROOT / "training", home / "training")
    return home


def run_cli(*args: str, home: Path | None = None, input: bytes | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the installed `mythscan` command as a user would."""
    env = dict(os.environ)
    if home is not None:
        env["MYTHSCAN_HOME"] = str(home)
    exe = shutil.which("mythscan") or sys.executable
    cmd = [exe, *args] if exe != sys.executable else [exe, "-m", "mythscan.cli", *args]
    return subprocess.run(cmd, input=input, capture_output=True, env=env, timeout=timeout)
