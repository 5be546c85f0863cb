import json

from conftest import DATA, ROOT, run_cli

from mythscan.data import load_labels, stats, to_datasets, validate


def messages(path):
    problems, n = validate(path)
    return [str(p) for p in problems], n


def test_committed_labels_pass_and_meet_counts():
    problems, n = validate(ROOT / "labels")
    assert problems == [], problems[:5]
    st = stats(load_labels(ROOT / "labels"))
    assert st["total"] >= 2500
    assert st["by_label"]["other"] >= 700
    for cat, count in st["by_category"].items():
        assert count >= (130 if cat.startswith("M-") else 90), cat
    assert st["contrast_pairs"] >= 250
    test_share = st["by_split"]["test"] / st["total"]
    assert 0.2 <= test_share <= 0.3


def test_ok_file_passes():
    msgs, n = messages(DATA / "labels_ok.csv")
    assert msgs == [] and n == 4


def test_broken_file_reports_every_problem_with_file_and_line():
    msgs, n = messages(DATA / "labels_broken.csv")
    text = "\n".join(msgs)
    f = str(DATA / "labels_broken.csv")
    expected = {
        3: "empty or whitespace-only text",
        4: "unknown label 'mythical'",
        5: "unknown category 'M-made-up'",
        6: "does not match category 'A-business-focus'",
        7: "label 'other' must have an empty category",
        8: "conflicting label",
        9: "near-duplicate",
        11: "is split across",
        12: "split 'validation'",
        13: "duplicate id 'b1'",
        14: "pair 'p9' must hold one myth and one accurate or other",
    }
    for line, msg in expected.items():
        assert any(m.startswith(f"{f}:{line}:") and msg in m for m in msgs), (line, msg, text)


def test_schema_encoding_and_json_errors(tmp_path):
    p = tmp_path / "missing_cols.csv"
    p.write_text("text,label\nHello there friend.,other\n")
    assert "missing column(s)" in messages(p)[0][0]
    p = tmp_path / "latin.csv"
    p.write_bytes("id,text,label,category,group,register,split\nx,Caf\xe9 society.,other,,g,wire,train\n".encode("latin-1"))
    assert "not UTF-8" in messages(p)[0][0]
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"id": "a", "text": "Fine.", "label": "other", "category": "", "group": "g", "register": "wire", "split": "train"}\n{oops\n'
    )
    assert any(":2: invalid JSON" in m for m in messages(p)[0])


def test_cli_validate_exit_codes_and_stats_json(project_home):
    r = run_cli("labels", "validate", str(DATA / "labels_broken.csv"), home=project_home)
    assert r.returncode == 1
    assert r.stdout.decode().count("labels_broken.csv:") >= 11
    r = run_cli("labels", "validate", home=project_home)
    assert r.returncode == 0, r.stdout.decode()[-500:]
    assert r.stdout.decode().startswith("ok: ")
    r = run_cli("labels", "stats", "--format", "json", home=project_home)
    st = json.loads(r.stdout)
    assert {"total", "by_label", "by_category", "by_split", "by_register"} <= set(st)
    assert sum(st["by_label"].values()) == st["total"]


def test_loaders_pandas_and_datasets():
    dd = to_datasets(DATA / "labels_ok.csv")
    assert set(dd) == {"train", "test"}
    assert dd["train"].num_rows == 3 and dd["test"].num_rows == 1
    assert dd["test"][0]["label"] == "accurate"
