"""End-to-end checks on the full labels (run with `pytest -m slow`; .ci/run runs them once)."""

import json
import shutil

import pytest
from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow


def test_committed_default_model_scores_the_examples():
    """The committed default model works from a fresh clone: myths flagged in one example, few in the other."""
    r = run_cli("score", str(ROOT / "examples" / "myths_article.txt"), "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    myths = json.loads(r.stdout)
    r = run_cli("score", str(ROOT / "examples" / "record_article.html"), "--format", "json")
    record = json.loads(r.stdout)
    assert myths["summary"]["myths"] >= 3
    assert myths["summary"]["myth_share"] > record["summary"]["myth_share"]


def test_training_reproduces_the_committed_tfidf_model(tmp_path):
    """Same data + config => the same test metrics within 0.01 (seeded, deterministic)."""
    current = ROOT / "models" / "tfidf" / "CURRENT"
    assert current.exists(), "models/tfidf is committed"
    meta = json.loads((ROOT / "models" / "tfidf" / current.read_text().strip() / "meta.json").read_text())
    home = tmp_path / "home"
    for d in ("labels", "training"):
        shutil.copytree(ROOT / d, home / d)
    r = run_cli("train", "--config", "tfidf", "--out", str(tmp_path / "m"), home=home, timeout=1200)
    assert r.returncode == 0, r.stderr.decode()
    new = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert new["data_hash"] == meta["data_hash"], "labels changed since the committed model was trained: retrain it"
    for k, v in meta["test_metrics"].items():
        if isinstance(v, float):
            assert abs(new["test_metrics"][k] - v) <= 0.01, k
