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


@pytest.fixture(scope="session")
def page_sample(tmp_path_factory) -> dict:
    """A labelled "real coverage" sample in the layout of ../shared/real (article, position,
    context_before, stance, ambiguous), built from the project's own labels: pages that repeat
    myths (mostly myth sentences) and research pages (accurate and other sentences), plus a
    pages.jsonl of page texts with a stance. No real coverage is copied: tests must pass on a
    clone without ../shared."""
    import json

    import pandas as pd

    df = pd.read_csv(ROOT / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    pools = {lab: g.sample(frac=1.0, random_state=1)["text"].tolist() for lab, g in df.groupby("label")}
    cats = dict(zip(df["text"], df["category"]))
    rows, pages, take = [], [], {lab: 0 for lab in pools}

    def draw(lab):
        take[lab] += 1
        return pools[lab][take[lab] - 1]

    for k in range(48):
        stance = ("repeats-myths", "research-based", "mixed")[k % 3]
        mix = {"repeats-myths": "mmomomoa", "research-based": "aoaoaooa", "mixed": "moaoaoom"}[stance]
        texts = [(draw({"m": "myth", "a": "accurate", "o": "other"}[c]), {"m": "myth", "a": "accurate", "o": "other"}[c]) for c in mix]
        if k >= 36:  # pages with a page-level stance only
            pages.append({"page": f"pg-{k}", "stance": stance, "text": " ".join(t for t, _ in texts)})
            continue
        for i, (t, lab) in enumerate(texts):
            rows.append(
                {
                    "id": f"s{k}-{i}",
                    "text": t,
                    "label": lab,
                    "category": cats[t] if lab != "other" else "",
                    "ambiguous": "0",
                    "stance": stance,
                    "article": f"art-{k}",
                    "position": i,
                    "context_before": texts[i - 1][0] if i else "",
                }
            )
    out = tmp_path_factory.mktemp("real")
    sample = pd.DataFrame(rows)
    train_articles = {f"art-{k}" for k in range(28)}
    sample[sample["article"].isin(train_articles)].to_csv(out / "train.csv", index=False)
    sample[~sample["article"].isin(train_articles)].to_csv(out / "select.csv", index=False)
    (out / "pages.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pages))
    return {"train": out / "train.csv", "select": out / "select.csv", "pages": out / "pages.jsonl"}


def context_config(page_sample, **extra) -> dict:
    """A small `context` config over the page sample: TF-IDF member only, 3 folds (seconds)."""
    cfg = {
        "name": "ctx",
        "kind": "context",
        "cv_folds": 3,
        "labels_weight": 0.3,
        "sources": [{"path": str(page_sample["train"])}],
        "pages": [{"path": str(page_sample["pages"])}],
        "selection": [str(page_sample["select"])],
        "params": {"folds": 3, "members": [{"kind": "tfidf", "params": {"C": 5.0}}]},
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="session")
def context_model(tiny_labels, page_sample, tmp_path_factory) -> Path:
    from mythscan.training import TrainConfig, train

    _, path, _ = train(
        TrainConfig.from_dict(context_config(page_sample)), labels_path=tiny_labels, out_dir=tmp_path_factory.mktemp("models") / "ctx"
    )
    return path
