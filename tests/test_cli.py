"""The CLI as a user runs it: the installed `mythscan` command on real files, URLs and stdin."""

import csv
import io
import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT, run_cli
from test_reading import server  # noqa: F401  (local HTTP server fixture)

MYTHS = ROOT / "examples" / "myths_article.txt"
RECORD = ROOT / "examples" / "record_article.html"


def no_traceback(r):
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return err


def test_score_text_view(project_home):
    r = run_cli("score", str(MYTHS), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "MYTH" in out and "The record:" in out
    assert "sentences" in out and "myths" in out


@pytest.mark.parametrize("doc", ["README.md", "docs/index.md"])
def test_the_documented_first_command_runs_as_written(project_home, doc):
    # the first `mythscan score` a new user copies must name a file a fresh clone has
    command = re.search(r"^mythscan score (\S+)", (ROOT / doc).read_text(), re.M)
    assert command, f"{doc} shows no `mythscan score` command"
    r = run_cli("score", str(ROOT / command.group(1)), home=project_home)
    assert r.returncode == 0, no_traceback(r)
    assert "sentences" in r.stdout.decode()


def test_score_json_structure_offsets_and_corrections(project_home):
    r = run_cli("score", str(MYTHS), "--format", "json", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    art = json.loads(r.stdout)
    text = MYTHS.read_text()
    assert art["summary"]["sentences"] == len(art["sentences"]) >= 10
    assert art["summary"]["myths"] == sum(s["label"] == "myth" for s in art["sentences"])
    assert art["summary"]["verdict"]
    for s in art["sentences"]:
        assert text.strip()[s["start"] : s["end"]] == s["text"] or s["text"] in text
        assert s["label"] in ("myth", "accurate", "other")
        assert abs(sum(s["probabilities"].values()) - 1) < 1e-3
        if s["label"] == "myth":
            assert s["category"].startswith("M-") and s["correction"] and s["sources"]
    assert art["summary"]["myths"] >= 2  # the example repeats many myths; even a tiny model finds some


def test_score_jsonl_html_and_out_file(project_home, tmp_path):
    r = run_cli("score", str(RECORD), "--format", "jsonl", home=project_home)
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(lines) >= 6 and all("myth_probability" in x for x in lines)
    out = tmp_path / "report.html"
    r = run_cli("score", str(MYTHS), str(RECORD), "--format", "html", "--out", str(out), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count('class="result"') == 2
    assert "http" not in page.split("<body>")[0]  # self-contained head: no external CSS/JS


def test_score_stdin_threshold_and_fail_on_myth(project_home):
    text = MYTHS.read_bytes()
    r = run_cli("score", "-", "--format", "json", "--fail-on-myth", home=project_home, input=text)
    assert r.returncode == 2
    assert json.loads(r.stdout)["summary"]["myths"] >= 1
    r = run_cli("score", "-", "--format", "json", "--threshold", "1.0", "--fail-on-myth", home=project_home, input=text)
    assert r.returncode == 0 and json.loads(r.stdout)["summary"]["myths"] == 0
    r = run_cli("score", "-", "--format", "json", "--threshold", "0.0", home=project_home, input=text)
    art = json.loads(r.stdout)
    assert art["summary"]["myths"] == art["summary"]["sentences"]


def test_score_url(project_home, server):  # noqa: F811
    r = run_cli("score", f"{server}/article", "--format", "json", home=project_home)  # this machine: refused by default
    err = no_traceback(r)
    assert r.returncode == 1 and "loopback address: not fetched" in err and "--allow-private" in err and len(err.strip().splitlines()) == 1
    r = run_cli("score", f"{server}/article", "--format", "json", "--allow-private", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    art = json.loads(r.stdout)
    assert art["metadata"]["url"].endswith("/article")
    r = run_cli("score", f"{server}/missing", "--allow-private", home=project_home)
    assert r.returncode == 1 and "HTTP 404" in no_traceback(r)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.txt", b"", "is empty"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("doc.pdf", b"%PDF-1.5 ...", "PDF"),
        ("nav.html", b"<html><body><nav>Home</nav></body></html>", "no article text"),
    ],
)
def test_score_bad_inputs_one_clear_line(project_home, tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    r = run_cli("score", str(p), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1
    assert message in err and len(err.strip().splitlines()) == 1


def test_score_missing_file_and_missing_model(project_home, tmp_path):
    r = run_cli("score", str(tmp_path / "nope.txt"), home=project_home)
    assert r.returncode == 1 and "no such file" in no_traceback(r)
    r = run_cli("score", str(MYTHS), "--model", "does-not-exist", home=project_home)
    assert r.returncode == 1 and "not found" in no_traceback(r)


def test_score_non_english_warns(project_home, tmp_path):
    p = tmp_path / "fr.txt"
    p.write_text(
        "Le système de crédit social chinois est surtout une collection de listes noires pour les entreprises qui ignorent les décisions de justice."
    )
    r = run_cli("score", str(p), "--format", "json", home=project_home)
    assert r.returncode == 0 and "English" in no_traceback(r)


def test_classify_contract_all_formats(project_home, tmp_path):
    import pandas as pd

    sentences = [
        "Every Chinese citizen is given one national score.",
        "Defaulters on court orders cannot buy plane tickets.",
        "Alibaba's shares rose on Monday.",
        "There is no single national score.",
    ]
    (tmp_path / "s.txt").write_text("\n".join(sentences) + "\n")
    pd.DataFrame({"sentence": sentences, "outlet": list("abcd")}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"text": sentences}).to_json(tmp_path / "s.jsonl", orient="records", lines=True)
    pd.DataFrame({"text": sentences}).to_parquet(tmp_path / "s.parquet")
    results = []
    for args in (["s.txt"], ["s.csv", "--text-column", "sentence"], ["s.jsonl"], ["s.parquet"]):
        r = run_cli("classify", str(tmp_path / args[0]), *args[1:], home=project_home)
        assert r.returncode == 0, r.stderr.decode()
        rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
        assert [x["text"] for x in rows] == sentences
        for x in rows:
            assert x["label"] in ("myth", "accurate", "other")
            assert set(x["probabilities"]) == {"myth", "accurate", "other"}
            assert x["myth_probability"] == x["probabilities"]["myth"]
            assert (x["category"] is None) == (x["label"] == "other")
        results.append(rows)
    assert all(r == results[0] for r in results)
    r = run_cli("classify", "-", home=project_home, input="\n".join(sentences).encode())
    assert [json.loads(x) for x in r.stdout.decode().splitlines()] == results[0]
    r = run_cli("classify", str(tmp_path / "s.txt"), "--format", "csv", home=project_home)
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode())))
    assert [x["text"] for x in rows] == sentences and {"label", "myth_probability", "category", "p_myth"} <= set(rows[0])
    r = run_cli("classify", str(tmp_path / "s.csv"), home=project_home)
    assert r.returncode == 1 and "--text-column" in no_traceback(r)


def test_train_evaluate_and_models_list(project_home, tiny_labels, tmp_path):
    cfg = tmp_path / "mini.toml"
    cfg.write_text('name = "mini"\nkind = "tfidf"\ncv_folds = 3\n[params]\nC = 5.0\n')
    r = run_cli(
        "train", "--config", str(cfg), "--labels", str(tiny_labels), "--out", str(project_home / "models" / "mini"), home=project_home
    )
    assert r.returncode == 0, r.stderr.decode()
    assert (project_home / "models" / "mini" / "meta.json").exists()
    r = run_cli("evaluate", "--model", "mini", "--data", str(tiny_labels), "--out", str(tmp_path / "rep"), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert {"myth", "macro_f1", "per_category", "contrast_pairs", "ece", "confusion"} <= set(m)
    assert (tmp_path / "rep" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "rep" / "reliability.png").exists() and (tmp_path / "rep" / "errors.csv").exists()
    # with --save the figures on other data are kept in the model's meta.json and card (a plain
    # run writes nothing into the tree: tests/test_context.py)
    r = run_cli("evaluate", "--model", "mini", "--data", str(tiny_labels), "--save", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    meta = json.loads((project_home / "models" / "mini" / "meta.json").read_text())
    figures = meta["evaluations"][tiny_labels.name]
    assert figures["n"] > 0 and 0 <= figures["myth_f1"] <= 1 and "keyword_alert_myth_f1" in figures
    assert "Other evaluations" in (project_home / "models" / "mini" / "README.md").read_text()
    r = run_cli("models", "list", home=project_home)
    assert "mini" in r.stdout.decode() and "* tiny" in r.stdout.decode()
    # the tiny models were measured on the tiny label file's test split, not the home's labels
    rows = {
        line.split()[1] if line.startswith("*") else line.split()[0]: line for line in r.stdout.decode().splitlines()[1:] if line.strip()
    }
    assert "(older test split)" in rows["tiny"] and "measured on an older test split" in r.stdout.decode()
    r = run_cli("evaluate", "--compare", "--data", str(tiny_labels), home=project_home)
    assert r.returncode == 0 and "keyword alert" in r.stdout.decode()
    table = {line.split()[0]: line for line in r.stdout.decode().splitlines()[2:]}
    assert "(default)" in table["tiny"] and "AP" in r.stdout.decode().splitlines()[1]
    # every other model gets its AP difference from the default with a bootstrap interval
    versus = re.search(r"([+-]\d\.\d{3}) \[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\]", table["mini"])
    assert versus and float(versus[2]) <= float(versus[1]) <= float(versus[3]), table["mini"]


def test_html_report_renders_in_headless_chromium(project_home, tmp_path):
    """The HTML page renders: headless Chromium prints a DOM with the highlighted myths."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        # a fresh machine runs the README's test command without Chromium; CI must run this test
        if os.environ.get("MYTHSCAN_REQUIRE_CHROMIUM") == "1":
            pytest.fail("MYTHSCAN_REQUIRE_CHROMIUM=1 but chromium is not installed: apt-get install chromium (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run sets MYTHSCAN_REQUIRE_CHROMIUM=1 to require it")
    out = tmp_path / "report.html"
    r = run_cli("score", str(MYTHS), "--format", "html", "--out", str(out), home=project_home)
    assert r.returncode == 0
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        out.as_uri(),
    ]
    dom = subprocess.run(cmd, capture_output=True, timeout=120).stdout.decode()
    assert 'class="myth"' in dom and "The record" not in dom or 'class="note"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd[:-2], f"--screenshot={shot}", "--window-size=1200,900", out.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_first_run_prints_a_progress_line_not_library_warnings(tmp_path):
    """With an empty cache the encoder is built on first use: one progress line on stderr, none of
    torch's export, transformers' or onnxruntime's quantisation warnings."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MYTHSCAN_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(
        [sys.executable, "-m", "mythscan.cli", "score", str(ROOT / "examples" / "myths_article.txt")],
        capture_output=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode().strip().splitlines()
    assert err and all(line.startswith("mythscan: ") for line in err), err
    assert any("building the MiniLM ONNX encoder" in line for line in err)
    assert list((tmp_path / "cache").rglob("*.onnx"))
