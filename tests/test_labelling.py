"""Adding labels and the model registry (issue: retrain with new labels)."""

import json
import shutil

import pytest
from conftest import DATA, ROOT, run_cli

from mythscan.data import read_rows, validate
from mythscan.errors import LabelError
from mythscan.labelling import add_labels

NEW = """text,label,category,notes
"Officials in one county keep their credit records on paper ledgers, a visiting researcher noted.",accurate,A-low-tech,from an interview
"A nationwide algorithm now decides which citizens may board a plane.",myth,M-ai-automation,
"The city's marathon drew a record field of runners on Sunday.",other,,
"""


@pytest.fixture()
def label_file(tmp_path):
    target = tmp_path / "labels.csv"
    shutil.copy(DATA / "labels_ok.csv", target)
    return target


def test_add_valid_batch_assigns_group_split_and_provenance(label_file, tmp_path):
    batch = tmp_path / "new.csv"
    batch.write_text(NEW)
    report = add_labels(batch, target=label_file, annotator="ana")
    assert report.added == 3 and report.skipped_duplicates == []
    rows, _ = read_rows(label_file)
    added = rows[-3:]
    for r in added:
        assert r["annotator"] == "ana" and r["batch"] == report.batch and r["added"]
        assert r["group"] and r["split"] in ("train", "test") and r["id"].startswith("s-")
    assert validate(label_file)[0] == []


def test_add_skips_exact_duplicates_and_refuses_conflicts(label_file, tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("text,label,category\nEvery citizen in China is given one national score.,myth,M-single-score\n")
    report = add_labels(dup, target=label_file)
    assert report.added == 0 and len(report.skipped_duplicates) == 1
    before = label_file.read_bytes()
    conflict = tmp_path / "conflict.csv"
    conflict.write_text("text,label,category\nEvery citizen in China is given one national score.,other,\n")
    with pytest.raises(LabelError, match="conflicts with"):
        add_labels(conflict, target=label_file)
    assert label_file.read_bytes() == before
    report = add_labels(conflict, target=label_file, replace=True)
    assert report.replaced == 1
    rows, _ = read_rows(label_file)
    assert [r["label"] for r in rows if r["id"] == "a1"] == ["other"]


def test_batch_with_a_pair_that_holds_no_myth_is_refused_whole(label_file, tmp_path):
    """validate() requires a myth in every contrast pair; add must not write a file that fails it."""
    before = label_file.read_bytes()
    batch = tmp_path / "pairs.csv"
    batch.write_text(
        "text,label,category,group,pair\n"
        "Rumours claimed that drinking lowers your score and they spread quickly online.,other,,p-1,p-1\n"
        "Rumours claimed that drinking lowers your score; there is no such government tally.,accurate,A-fragmented,p-1,p-1\n"
    )
    with pytest.raises(LabelError, match=r"pairs.csv:3: pair 'p-1' must hold one myth"):
        add_labels(batch, target=label_file)
    assert label_file.read_bytes() == before
    batch.write_text(batch.read_text().replace(",p-1\n", ",\n"))  # the same rows without the pair id are fine
    assert add_labels(batch, target=label_file).added == 2
    assert validate(label_file)[0] == []


def test_invalid_batch_is_refused_whole_with_file_line(label_file, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "text,label,category\nA fine new sentence about court records in Fujian.,accurate,A-enforcement-blacklists\n"
        "Something.,mythical,\n   ,other,\n"
    )
    before = label_file.read_bytes()
    with pytest.raises(LabelError) as err:
        add_labels(bad, target=label_file)
    assert f"{bad}:3: unknown label 'mythical'" in str(err.value) and f"{bad}:4: empty" in str(err.value)
    assert label_file.read_bytes() == before


def test_crash_mid_way_leaves_file_unchanged(label_file, tmp_path):
    batch = tmp_path / "new.csv"
    batch.write_text(NEW)
    before = label_file.read_bytes()
    with pytest.raises(RuntimeError):
        add_labels(batch, target=label_file, _crash_before_write=True)
    assert label_file.read_bytes() == before
    assert [p.name for p in label_file.parent.iterdir() if p.name.startswith(".")] == []


def test_near_duplicate_joins_existing_group(label_file, tmp_path):
    near = tmp_path / "near.csv"
    near.write_text("text,label,category\nNo citizen in China is given one national score at all.,accurate,A-fragmented\n")
    report = add_labels(near, target=label_file)
    assert report.joined_groups == 1
    rows, _ = read_rows(label_file)
    assert rows[-1]["group"] == "g1" and rows[-1]["split"] == "train"


def test_label_studio_export(label_file, tmp_path):
    export = [
        {
            "data": {"text": "Sesame Credit is an opt-in commercial product run by Ant Group."},
            "annotations": [
                {
                    "result": [
                        {"from_name": "label", "value": {"choices": ["accurate"]}},
                        {"from_name": "category", "value": {"choices": ["A-commercial-separate"]}},
                    ]
                }
            ],
        }
    ]
    f = tmp_path / "ls.json"
    f.write_text(json.dumps(export))
    assert add_labels(f, target=label_file).added == 1


def test_cli_labels_add(project_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    batch = tmp_path / "new.csv"
    batch.write_text(NEW)
    r = run_cli("labels", "add", str(batch), "--annotator", "cli-test", home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert "added 3 rows" in r.stdout.decode()
    r = run_cli("labels", "validate", home=home)
    assert r.returncode == 0, r.stdout.decode()[-400:]


def test_train_promotion_regression_and_rollback(project_home, tiny_labels, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    good = tmp_path / "good.toml"
    good.write_text('name = "cand"\nkind = "tfidf"\ncv_folds = 3\n[params]\nC = 5.0\n')
    r = run_cli("train", "--config", str(good), "--labels", str(tiny_labels), home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert "default model is now cand/" in r.stdout.decode()
    promoted = (home / "models" / "DEFAULT").read_text().strip()
    # a much weaker model (tiny C, no calibration) regresses and must not become the default
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "weak"\nkind = "tfidf"\ncv_folds = 3\ntune_threshold = false\ncalibrate = false\nthreshold = 0.9\n[params]\nC = 0.01\n'
    )
    r = run_cli("train", "--config", str(bad), "--labels", str(tiny_labels), home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert "kept the default" in r.stdout.decode() and "REGRESSED" in r.stdout.decode()
    assert (home / "models" / "DEFAULT").read_text().strip() == promoted
    weak = next((home / "models" / "weak").glob("v*"))
    r = run_cli("models", "promote", f"weak/{weak.name}", home=home)
    assert r.returncode == 0 and (home / "models" / "DEFAULT").read_text().strip() == f"weak/{weak.name}"
    r = run_cli("models", "rollback", home=home)
    assert r.returncode == 0 and (home / "models" / "DEFAULT").read_text().strip() == promoted
    r = run_cli("models", "list", home=home)
    assert f"* {promoted}" in r.stdout.decode()
    r = run_cli("models", "show", home=home)
    assert "Model card" in r.stdout.decode()


def test_gate_data_keeps_the_default_when_the_candidate_is_worse_there(project_home, tiny_labels, tmp_path):
    """`train --gate-data FILE`: a candidate that passes the test-split gate but is worse than the
    default on FILE does not become the default; the same file does not block a model that is as good."""
    import pandas as pd

    from mythscan import load_model

    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    weak_cfg = tmp_path / "weak.toml"
    weak_cfg.write_text(
        'name = "weak"\nkind = "tfidf"\ncv_folds = 3\ntune_threshold = false\ncalibrate = false\nthreshold = 0.9\n[params]\nC = 0.01\n'
    )
    assert run_cli("train", "--config", str(weak_cfg), "--labels", str(tiny_labels), "--promote", home=home).returncode == 0
    weak = (home / "models" / "DEFAULT").read_text().strip()
    # gate file: the weak default's own predictions, so the default is perfect there
    texts = pd.read_csv(tiny_labels, dtype=str, keep_default_na=False)["text"].tolist()
    gate = tmp_path / "gate.csv"
    pd.DataFrame({"text": texts, "label": load_model(home / "models" / weak).predict(texts)}).to_csv(gate, index=False)
    good = tmp_path / "good.toml"
    good.write_text('name = "cand"\nkind = "tfidf"\ncv_folds = 3\n[params]\nC = 5.0\n')
    r = run_cli("train", "--config", str(good), "--labels", str(tiny_labels), "--gate-data", str(gate), home=home)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "compared with the default on gate.csv" in out and "kept the default" in out and "gate.csv:macro_f1" in out, out
    assert (home / "models" / "DEFAULT").read_text().strip() == weak
    # without the gate file, the same candidate beats the weak default on the test split
    r = run_cli("train", "--config", str(good), "--labels", str(tiny_labels), home=home)
    assert "default model is now cand/" in r.stdout.decode()
    # a gate file the candidate is as good on (its own predictions vs the same config) does not block
    cand = (home / "models" / "DEFAULT").read_text().strip()
    pd.DataFrame({"text": texts, "label": load_model(home / "models" / cand).predict(texts)}).to_csv(gate, index=False)
    r = run_cli("train", "--config", str(good), "--labels", str(tiny_labels), "--gate-data", str(gate), home=home)
    assert "default model is now cand/" in r.stdout.decode(), r.stdout.decode()[-600:]
    # a broken gate file is refused before any training, with one clear line
    bad = tmp_path / "bad_gate.csv"
    bad.write_text("sentence,label\nx,myth\n")
    r = run_cli("train", "--config", str(good), "--labels", str(tiny_labels), "--gate-data", str(bad), home=home)
    assert r.returncode != 0 and "missing column" in (r.stdout + r.stderr).decode() and "Traceback" not in r.stderr.decode()


def test_a_new_myth_end_to_end_needs_no_code_change(tmp_path, tiny_labels):
    """Add a category to the taxonomy, add ~40 sentences, retrain: the model flags the new myth."""
    import yaml

    home = tmp_path / "home"
    shutil.copytree(ROOT / "labels", home / "labels", ignore=shutil.ignore_patterns("drafts", "sentences.csv"))
    shutil.copy(tiny_labels, home / "labels" / "sentences.csv")
    tax = yaml.safe_load((home / "labels" / "taxonomy.yaml").read_text())
    tax["categories"]["M-face-omniscient"] = {
        "kind": "myth",
        "name": "Omniscient facial recognition",
        "description": "Claims that Chinese facial recognition identifies anyone, anywhere, instantly and without error.",
        "correction": "Facial recognition in China is far less capable than state media and vendors claim: cameras are uneven, matches are error-prone and need manual checks.",
        "answered_by": "A-face-limits",
        "sources": ["merics-2022"],
    }
    tax["categories"]["A-face-limits"] = {
        "kind": "accurate",
        "name": "Limits of facial recognition",
        "description": "The real limits of camera networks and face matching.",
        "sources": ["merics-2022"],
    }
    (home / "labels" / "taxonomy.yaml").write_text(yaml.safe_dump(tax, sort_keys=False))
    r = run_cli("labels", "add", str(DATA / "new_myth.csv"), "--annotator", "test", home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert run_cli("labels", "validate", home=home).returncode == 0
    cfg = tmp_path / "t.toml"
    cfg.write_text('name = "t"\nkind = "tfidf"\ncv_folds = 3\n[params]\nC = 10.0\n')
    r = run_cli("train", "--config", str(cfg), "--out", str(home / "models" / "t"), home=home)
    assert r.returncode == 0, r.stderr.decode()
    probe = tmp_path / "probe.txt"
    probe.write_text("Chinese face-recognition cameras identify any citizen instantly and never make a mistake.\n")
    r = run_cli("classify", str(probe), "--model", "t", home=home)
    row = json.loads(r.stdout.decode().splitlines()[0])
    assert row["label"] == "myth" and row["category"] == "M-face-omniscient", row
    r = run_cli("score", str(probe), "--model", "t", "--format", "json", home=home)
    s = json.loads(r.stdout)["sentences"][0]
    assert "far less capable" in s["correction"]


def test_suggest_and_audit(project_home, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "\n".join(
            [
                "A provincial court added three construction firms to its list of defaulters this week.",
                "Some commentators say citizens are graded on their daily habits by a central computer.",
                "The local football team won its fourth straight match on Saturday evening.",
                "Officials in a coastal city said their credit office still relies on spreadsheets sent by email.",
                "Everyone in China supposedly has a number that decides where they may travel.",
                "Too short.",
            ]
        )
    )
    out = tmp_path / "to_label.csv"
    r = run_cli("labels", "suggest", str(pool), "--n", "3", "--out", str(out), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    import pandas as pd

    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 3 and {"text", "label", "category", "myth_probability", "uncertainty"} <= set(df.columns)
    assert "Too short." not in set(df["text"])
    assert df["uncertainty"].is_monotonic_decreasing or len(set(df["text"])) == 3
    # the suggestions go straight back in once confirmed
    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    r = run_cli("labels", "add", str(out), "--annotator", "reviewer", home=home)
    assert r.returncode == 0, r.stderr.decode()
    # audit finds a deliberately flipped label among good ones
    bad = tmp_path / "labels.csv"
    df = pd.read_csv(ROOT / "labels" / "sentences.csv", dtype=str, keep_default_na=False).head(600)
    flip = df.index[(df["label"] == "myth")][0]
    df.loc[flip, ["label", "category"]] = ["other", ""]
    df.to_csv(bad, index=False)
    from mythscan.active import audit

    issues = audit(bad, folds=3)
    assert df.loc[flip, "id"] in set(issues["id"])


def test_atomic_writes_keep_usual_permissions(tmp_path):
    import os
    import stat

    from mythscan.fileio import atomic_write_text

    new = tmp_path / "report.html"
    atomic_write_text(new, "<p>hi</p>")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    kept = tmp_path / "labels.csv"
    kept.write_text("old")
    kept.chmod(0o640)
    atomic_write_text(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "new"


def test_train_keeps_the_default_when_its_real_coverage_files_are_missing(project_home, tiny_labels, tmp_path):
    """A config chosen on real coverage (`selection`) trained where those files are absent (a fresh
    clone without ../shared) must not be promoted on the test split alone; --promote still can."""
    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    before = (home / "models" / "DEFAULT").read_text().strip()
    cfg = tmp_path / "real.toml"
    cfg.write_text('name = "cand"\nkind = "tfidf"\ncv_folds = 3\nselection = ["no/such/select.csv"]\n[params]\nC = 5.0\n')
    r = run_cli("train", "--config", str(cfg), "--labels", str(tiny_labels), home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert "kept the default" in r.stdout.decode() and "select.csv" in r.stdout.decode()
    assert (home / "models" / "DEFAULT").read_text().strip() == before
    r = run_cli("train", "--config", str(cfg), "--labels", str(tiny_labels), "--promote", home=home)
    assert r.returncode == 0, r.stderr.decode()
    assert (home / "models" / "DEFAULT").read_text().strip().startswith("cand/")
