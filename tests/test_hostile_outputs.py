"""Issue 18, output side: outputs that attack their reader, data loss, honest exit codes and messages.

Every fixture is generated here, small; the CLI is run as a user runs it (tests.conftest.run_cli)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import ROOT, run_cli

MYTHS = ROOT / "examples" / "myths_article.txt"


def no_traceback(r) -> str:
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return err


# --- exit codes: 1 for every error, 2 only for "myth found" ---------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["score", str(MYTHS), "--threshold", "-1"], "--threshold"),
        (["score", str(MYTHS), "--threshold", "2"], "--threshold"),
        (["score", str(MYTHS), "--threshold", "abc"], "--threshold"),
        (["score", str(MYTHS), "--format", "xml"], "--format"),
        (["score", str(MYTHS), "--no-such-option"], "No such option"),
        (["classify", "x.txt", "--format", "parquet"], "--format"),
        (["batch", str(MYTHS)], "--out"),
        (["batch", str(MYTHS), "--out", "run", "--precision", "highest"], "--precision"),  # a choice, checked before any work
        (["labels", "stats", "--format", "xml"], "--format"),
        (["models", "promote"], "Missing argument"),
        (["no-such-command"], "No such command"),
        ([], "Usage:"),
    ],
)
def test_usage_errors_exit_1_not_the_myth_found_code(project_home, args, needle):
    r = run_cli(*args, home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1, (args, r.returncode, err)
    assert "Usage:" in err and needle in err, err  # click's usage message stays, on stderr


def test_help_still_exits_0(project_home):
    r = run_cli("score", "--help", home=project_home)
    assert r.returncode == 0 and "--fail-on-myth" in r.stdout.decode()


# --- HTML reports: only http(s) links ---------------------------------------------------------------

HREF = re.compile(r"""href\s*=\s*["']?([^"' >]*)""", re.I)


def assert_only_http_links(page: str) -> None:
    hrefs = HREF.findall(page)
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    assert "javascript:" not in " ".join(hrefs).lower()


def write_resource_warc(path, url: str, html: bytes):
    """A WARC holding one `resource` record (HTML saved as is) with this target URI."""
    from io import BytesIO

    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(
            w.create_warc_record(
                url,
                "resource",
                payload=BytesIO(html),
                warc_content_type="text/html",
                warc_headers_dict={"WARC-Date": "2021-06-01T10:00:00Z"},
            )
        )
    return path


def test_batch_report_links_only_http_urls(project_home, tmp_path):
    from test_batch import MYTH_TEXT, page

    rows = [
        {"id": "evil", "title": "Evil", "url": "javascript:alert(document.cookie)", "text": MYTH_TEXT},
        {"id": "tab", "title": "Tab", "url": "java\tscript:alert(1)", "text": MYTH_TEXT + " Another copy."},
        {"id": "data", "title": "Data", "url": "data:text/html,<script>alert(1)</script>", "text": MYTH_TEXT + " A third."},
        {
            "id": "quote",
            "title": 'Quote"><script>x()</script>',
            "url": 'https://news.example/a?b=1&c="x"',
            "text": MYTH_TEXT + " A fourth.",
        },
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    warc = write_resource_warc(tmp_path / "crawl.warc.gz", "javascript:alert('warc')", page("Warc", MYTH_TEXT).encode())
    out = tmp_path / "run"
    r = run_cli("batch", str(feed), str(warc), "--out", str(out), "--threshold", "0.01", "--no-dedup", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    report = (out / "report.html").read_text()
    assert json.loads((out / "summary.json").read_text())["totals"]["with_myths"] == 5  # every article is listed
    assert_only_http_links(report)
    assert 'href="https://news.example/a?b=1&amp;c=&quot;x&quot;"' in report  # http(s) stays a link, escaped
    assert "javascript:alert(document.cookie)" in report  # shown, as text
    assert "<script>" not in report


def test_score_html_links_only_http_sources(project_home, tmp_path):
    import yaml

    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    tax = yaml.safe_load((home / "labels" / "taxonomy.yaml").read_text())
    for src in tax["sources"].values():
        src["url"] = "javascript:alert(1)"
    (home / "labels" / "taxonomy.yaml").write_text(yaml.safe_dump(tax, sort_keys=False))
    out = tmp_path / "report.html"
    r = run_cli("score", str(MYTHS), "--format", "html", "--threshold", "0.01", "--out", str(out), home=home)
    assert r.returncode == 0, r.stderr.decode()
    report = out.read_text()
    assert 'class="note"' in report and "Sources:" in report
    assert_only_http_links(report)


# --- CSV outputs: no formulas for spreadsheets --------------------------------------------------------

RISKY = ("=", "+", "-", "@", "\t", "\r")


def read_csv_cells(path) -> list[dict]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_no_formula_cells(rows: list[dict], numeric=()) -> None:
    """No string cell starts with a formula character, except plain numbers (kept as numbers)."""
    import re as _re

    number = _re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
    for row in rows:
        for k, v in row.items():
            if v and v.startswith(RISKY):
                assert number.fullmatch(v), (k, v)
        for k in numeric:
            float(row[k])  # numbers stay numbers, not '-quoted strings


def test_classify_csv_neutralises_formula_cells(project_home, tmp_path):
    texts = [
        '=HYPERLINK("http://evil.example","Every citizen has one score")',
        "-2+3+cmd|' /C calc'!A0 every citizen is scored",
        "@SUM(1+1) the state gives everyone a score",
        "+ points for good deeds, says the social credit system",
        "A plain sentence.",
    ]
    src = tmp_path / "s.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out.csv"
    r = run_cli("classify", str(src), "--format", "csv", "--out", str(out), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    rows = read_csv_cells(out)
    assert_no_formula_cells(rows, numeric=("myth_probability", "p_myth", "p_accurate", "p_other"))
    assert [x["text"] for x in rows] == ["'" + t for t in texts[:4]] + [texts[4]]  # the OWASP guard: one leading quote


def test_batch_csv_neutralises_formula_cells_and_keeps_numbers(project_home, tmp_path):
    from test_batch import MYTH_TEXT

    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps(
            {
                "id": "=1+1",
                "outlet": "@evil",
                "title": '=HYPERLINK("http://evil.example")',
                "delta": -3,
                "note": "+SUM(A1)",
                "text": "-1+1 China's social credit system gives every citizen a single score. " + MYTH_TEXT,
            }
        )
        + "\n"
    )
    out = tmp_path / "run"
    r = run_cli("batch", str(feed), "--out", str(out), "--format", "csv", "--threshold", "0.01", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    arts, sents = read_csv_cells(out / "articles.csv"), read_csv_cells(out / "sentences.csv")
    assert_no_formula_cells(arts, numeric=("myth_share", "chars", "sentences"))
    assert_no_formula_cells(sents, numeric=("myth_probability", "start", "end"))
    a = arts[0]
    assert (a["article_id"], a["outlet"], a["note"], a["delta"]) == ("'=1+1", "'@evil", "'+SUM(A1)", "-3")  # a negative number stays
    assert sents[0]["text"].startswith("'-1+1 China") and sents[0]["article_id"] == "'=1+1"
    # the parquet parts (what mythscan reads back) keep the text as it was
    import pandas as pd

    assert pd.read_parquet(next((out / "_parts").glob("*.articles.parquet"))).article_id.tolist() == ["=1+1"]


def test_suggest_csv_is_guarded_and_labels_add_reads_it_back(project_home, tmp_path):
    import pandas as pd

    pool = tmp_path / "pool.jsonl"
    texts = [
        "=1+1 is how some reports say every Chinese citizen gets a single score.",
        "-The provincial court added three construction firms to its list of defaulters.",
        "@reporters: the local football team won its fourth straight match on Saturday.",
        "'=Quoted already, the city's credit office still relies on spreadsheets.",
    ]
    pool.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "to_label.csv"
    r = run_cli("labels", "suggest", str(pool), "--n", "4", "--out", str(out), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    rows = read_csv_cells(out)
    assert len(rows) == 4
    assert_no_formula_cells(rows, numeric=("myth_probability", "uncertainty"))
    assert {x["text"] for x in rows} == {"'" + t for t in texts}
    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    r = run_cli("labels", "add", str(out), "--annotator", "reviewer", home=home)
    assert r.returncode == 0, r.stderr.decode()
    labels = pd.read_csv(home / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    assert set(texts) <= set(labels["text"])  # exactly the suggested texts, guard removed


def formula_labels(tiny_labels, path, per_label: int = 20):
    """A small label file whose every text starts with '=', with a few myth labels flipped."""
    import pandas as pd

    df = pd.read_csv(tiny_labels, dtype=str, keep_default_na=False).groupby("label").head(per_label).reset_index(drop=True)
    df["text"] = "=" + df["text"]
    flip = df.index[df["label"] == "myth"][:3]
    df.loc[flip, ["label", "category"]] = ["other", ""]
    df.to_csv(path, index=False)
    return path


def test_audit_csv_is_guarded(project_home, tiny_labels, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # speed only: scipy's L-BFGS threads crawl on a busy 2-core machine
    labels = formula_labels(tiny_labels, tmp_path / "labels.csv")
    issues = tmp_path / "issues.csv"
    r = run_cli("labels", "audit", str(labels), "--out", str(issues), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    rows = read_csv_cells(issues)
    assert rows and all(x["text"].startswith("'=") for x in rows)
    assert_no_formula_cells(rows, numeric=("suggested_probability", "label_probability"))


def test_evaluate_errors_csv_is_guarded(project_home, tiny_labels, tmp_path):
    labels = formula_labels(tiny_labels, tmp_path / "labels.csv")
    r = run_cli("evaluate", "--model", "tiny", "--data", str(labels), "--out", str(tmp_path / "rep"), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    rows = read_csv_cells(tmp_path / "rep" / "errors.csv")
    assert rows and all(x["text"].startswith("'=") for x in rows)
    assert_no_formula_cells(rows, numeric=("myth_probability",))


def test_csv_guard_is_reversible_and_spares_numbers():
    import pyarrow as pa

    from mythscan.sanitise import csv_arrow, csv_cell, unguard_csv_cell

    values = ["=1+1", "+x", "-", "- bullet", "@a", "\tx", "\rx", "'=a", "''-b", "'plain", "plain", "", "-3.5", "+2", "-1e5", ".5"]
    guarded = [csv_cell(v) for v in values]
    assert guarded[:9] == ["'=1+1", "'+x", "'-", "'- bullet", "'@a", "'\tx", "'\rx", "''=a", "'''-b"]
    assert guarded[9:] == values[9:]  # no formula start, or a plain number: unchanged
    assert [unguard_csv_cell(g) for g in guarded] == values
    assert csv_arrow(pa.table({"v": values, "n": list(range(-8, 8))})).to_pydict() == {"v": guarded, "n": list(range(-8, 8))}
    assert csv_cell(-3) == -3 and csv_cell(None) is None


# --- labels add: concurrent runs lose nothing -------------------------------------------------------


def label_batch(path, tag: str, n: int):
    import random

    rnd = random.Random(tag)
    words = ["harbour", "bakery", "library", "tram", "orchard", "stadium", "bridge", "museum", "market", "school", "canal", "garden"]
    lines = ["text,label,category"]
    for i in range(n):
        a, b, c = rnd.sample(words, 3)
        lines.append(f'"Run {tag} note {i}: the {a} near the {b} reopened after {rnd.randint(2, 97)} days, and the {c} followed.",other,')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_concurrent_labels_add_keeps_both_batches(project_home, tmp_path):
    import os
    import subprocess
    import sys

    import pandas as pd

    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    before = len(pd.read_csv(home / "labels" / "sentences.csv", dtype=str, keep_default_na=False))
    env = {**os.environ, "MYTHSCAN_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mythscan.cli", "labels", "add", str(label_batch(tmp_path / f"{t}.csv", t, 300)), "--annotator", t],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for t in ("a", "b")
    ]
    results = [(p.wait(timeout=300), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for rc, out, err in results:
        assert rc == 0 and "added 300 rows" in out, (rc, out, err)
    labels = pd.read_csv(home / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    assert len(labels) == before + 600 and labels["annotator"].value_counts()[["a", "b"]].tolist() == [300, 300]
    assert not list((home / "labels").glob(".*.lock"))  # the lock file goes with the lock


def test_labels_add_waits_for_the_lock_then_fails_clearly(project_home, tmp_path, monkeypatch):
    import fcntl

    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    target = home / "labels" / "sentences.csv"
    before = target.read_bytes()
    monkeypatch.setenv("MYTHSCAN_LOCK_TIMEOUT", "1")
    with open(home / "labels" / ".sentences.csv.lock", "w") as held:  # another `labels add` holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        r = run_cli("labels", "add", str(label_batch(tmp_path / "c.csv", "c", 5)), home=home)
    err = no_traceback(r)
    assert r.returncode == 1 and "another `mythscan labels add`" in err and len(err.strip().splitlines()) == 1, err
    assert target.read_bytes() == before


# --- batch --out: never delete what mythscan did not write ------------------------------------------


def small_feed(path, n: int = 3):
    from test_batch import MYTH_TEXT

    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"{MYTH_TEXT} Story {i}."}) + "\n" for i in range(n)))
    return path


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_overwrite_refuses_a_directory_that_is_not_a_mythscan_run(project_home, tmp_path):
    feed = small_feed(tmp_path / "feed.jsonl")
    mine = tmp_path / "mine"
    (mine / "_parts").mkdir(parents=True)
    for name in ("report.html", "summary.json", "articles.csv", "errors.jsonl", "_parts/mine.txt"):
        (mine / name).write_text(f"the user's own {name}")
    before = snapshot(mine)
    r = run_cli("batch", str(feed), "--out", str(mine), "--overwrite", home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "holds no mythscan batch run" in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(mine) == before and not (mine / ".lock").exists()  # nothing deleted, no lock left behind
    # a manifest.json that is not mythscan's proves nothing either
    (mine / "manifest.json").write_text(json.dumps({"name": "my web app", "parts": []}))
    before = snapshot(mine)
    r = run_cli("batch", str(feed), "--out", str(mine), "--overwrite", home=project_home)
    assert r.returncode == 1 and "not a mythscan batch manifest" in no_traceback(r)
    assert snapshot(mine) == before and not (mine / ".lock").exists()


def test_refused_out_leaves_no_lock_and_a_file_is_one_clear_line(project_home, tmp_path):
    feed = small_feed(tmp_path / "feed.jsonl")
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    r = run_cli("batch", str(feed), "--out", str(afile), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "is not a directory" in err and "unexpected" not in err and len(err.strip().splitlines()) == 1, err
    assert afile.read_text() == "mine"
    r = run_cli("batch", str(feed), "--out", str(afile / "sub"), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "unexpected" not in err and len(err.strip().splitlines()) == 1, err
    full = tmp_path / "full"
    full.mkdir()
    (full / "thesis.docx").write_text("mine")
    for extra in ([], ["--overwrite"], ["--resume"]):
        r = run_cli("batch", str(feed), "--out", str(full), *extra, home=project_home)
        assert r.returncode == 1 and not (full / ".lock").exists(), (extra, r.stderr.decode())
    had_root_lock = __import__("os").path.exists("/.lock")
    r = run_cli("batch", str(feed), "--out", "/", home=project_home)
    assert r.returncode == 1 and "holds no mythscan batch run" in no_traceback(r)
    assert had_root_lock or not __import__("os").path.exists("/.lock")


def test_overwrite_deletes_only_what_the_manifest_names(project_home, tmp_path):
    feed = small_feed(tmp_path / "feed.jsonl", 5)
    out = tmp_path / "run"
    r = run_cli("batch", str(feed), "--out", str(out), "--chunk-size", "2", "--format", "csv", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"sentences.csv", "articles.csv", "errors.jsonl", "summary.json", "report.html"} <= set(manifest["files"])
    assert len(list((out / "_parts").glob("part-*"))) == 9  # 3 parts x 3 files
    (out / "_parts" / "mine.txt").write_text("mine")
    (out / "_parts" / "part-000099.articles.parquet.notes").write_text("mine")
    (out / "notes.md").write_text("mine")
    (out / "articles.parquet").write_text("not mythscan's: this run wrote csv")
    r = run_cli("batch", str(small_feed(tmp_path / "other.jsonl", 1)), "--out", str(out), "--overwrite", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    assert (out / "_parts" / "mine.txt").read_text() == "mine" and (out / "notes.md").read_text() == "mine"
    assert (out / "_parts" / "part-000099.articles.parquet.notes").exists()
    assert not (out / "sentences.csv").exists() and not (out / "articles.csv").exists()  # the old run's outputs went
    assert len(list((out / "_parts").glob("part-*.parquet"))) == 2  # the new run's one part
    import pandas as pd

    assert pd.read_parquet(out / "articles.parquet").article_id.tolist() == ["a0"]


# --- models: one notion of "current" -------------------------------------------------------------------


def test_name_current_follows_the_default_through_train_promote_and_rollback(project_home, tiny_labels, tmp_path, monkeypatch):
    """`--model cand` means cand/CURRENT: it stays on the default while a version of cand is the
    default (a new version that is not promoted does not move it), promote and rollback move it."""
    import mythscan.models.registry as registry
    from mythscan.training import TrainConfig, train

    home = tmp_path / "home"
    shutil.copytree(project_home, home)
    models = home / "models"
    monkeypatch.setenv("MYTHSCAN_HOME", str(home))
    versions = iter(f"v2026010{i}-000000" for i in range(1, 9))
    monkeypatch.setattr(registry, "new_version", lambda: next(versions))  # two trainings in one second would share a name
    quick = {"kind": "tfidf", "tune_threshold": False, "calibrate": False, "params": {"C": 5.0}}  # no cross-validation

    def train_version(name):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # speed only: L-BFGS threads crawl on a busy 2-core machine
            return train(TrainConfig.from_dict({"name": name, **quick}), labels_path=tiny_labels, evaluate_test=False)[1].name

    v1 = train_version("cand")
    assert run_cli("models", "promote", f"cand/{v1}", home=home).returncode == 0  # as `train` does when it promotes
    assert (models / "cand" / "CURRENT").read_text().strip() == v1
    v2 = train_version("cand")  # not promoted (regressed, or --no-promote)
    assert (models / "cand" / "CURRENT").read_text().strip() == v1
    r = run_cli("models", "show", "cand", home=home)
    assert r.returncode == 0 and v1 in r.stdout.decode() and v2 not in r.stdout.decode()
    assert run_cli("models", "promote", f"cand/{v2}", home=home).returncode == 0
    assert (models / "cand" / "CURRENT").read_text().strip() == v2
    r = run_cli("models", "rollback", home=home)
    assert r.returncode == 0 and (models / "DEFAULT").read_text().strip() == f"cand/{v1}"
    assert (models / "cand" / "CURRENT").read_text().strip() == v1
    # a name with no version as the default: CURRENT is its newest version, as before
    v3 = train_version("other")
    assert (models / "other" / "CURRENT").read_text().strip() == v3 and (models / "DEFAULT").read_text().strip() == f"cand/{v1}"


def test_a_directory_named_like_a_model_does_not_replace_it(project_home, tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text("{not a model")  # someone's folder that happens to be called tiny
    env = {**os.environ, "MYTHSCAN_HOME": str(project_home)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mythscan.cli", *args], cwd=tmp_path, env=env, capture_output=True, timeout=300)

    for args in ([], ["--model", "tiny"]):  # the default (models/DEFAULT says tiny) and the name
        r = cli("score", str(MYTHS), "--format", "json", *args)
        assert r.returncode == 0, (args, r.stderr.decode())
        assert json.loads(r.stdout)["summary"]["sentences"] > 0
    r = cli("score", str(MYTHS), "--model", "./tiny")  # a path is a path
    assert r.returncode == 1 and "not valid JSON" in no_traceback(r)
    r = cli("score", str(MYTHS), "--model", "nosuch")
    err = no_traceback(r)
    assert r.returncode == 1 and "not found" in err and "./nosuch" in err


# --- batch: syndicated copies are dropped before classification ---------------------------------------


def test_batch_skips_duplicates_before_classifying_them(project_home, tmp_path, monkeypatch):
    """Copies (byte-identical, or identical after normalising case and spacing) cost their extraction
    at most: the model sees each distinct article once, and the rows are those of a run that
    classified everything and dropped the copies afterwards (test_batch checks workers and Ray)."""
    import pandas as pd
    from test_batch import MYTH_TEXT

    import mythscan.batch.local as batch
    from mythscan.batch import BatchOptions, run_batch
    from mythscan.scoring import Scorer

    monkeypatch.setenv("MYTHSCAN_HOME", str(project_home))
    other = "Beijing's court blacklists list companies that ignore judgments. The social credit system is not one score."
    texts = [MYTH_TEXT, MYTH_TEXT, other, MYTH_TEXT, "  " + MYTH_TEXT.upper() + " ", other, MYTH_TEXT]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    classified, extracted = [], []
    real_classify, real_analyse = Scorer.classify, batch.analyse
    monkeypatch.setattr(Scorer, "classify", lambda self, xs, *a, **k: classified.extend(xs) or real_classify(self, xs, *a, **k))
    monkeypatch.setattr(batch, "analyse", lambda item, pf: extracted.append(item.item_idx) or real_analyse(item, pf))
    summary = run_batch(BatchOptions(inputs=[str(feed)], out=tmp_path / "run", chunk_size=1, all_sentences=True))
    t = summary["totals"]
    assert (t["items"], t["articles"], t["duplicates"]) == (7, 2, 5)
    assert len(classified) == t["candidates"] > 0  # nothing classified for a copy
    assert len(extracted) < len(texts)  # a byte-identical copy after a finished part is not even extracted
    arts = pd.read_parquet(tmp_path / "run" / "articles.parquet")
    assert arts.article_id.tolist() == [f"{feed}#1", f"{feed}#3"]


# --- messages that say what is wrong ----------------------------------------------------------------


def test_unsupported_type_hint_lists_what_the_command_reads(project_home, tmp_path):
    (tmp_path / "x.txt").write_text("text,label\n")
    r = run_cli("evaluate", "--model", "tiny", "--data", str(tmp_path / "x.txt"), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "unsupported" in err and "'.txt'" in err and "use .csv, .jsonl or .parquet" in err, err
    (tmp_path / "x.docx").write_text("a sentence")
    r = run_cli("classify", str(tmp_path / "x.docx"), home=project_home)  # classify does read .txt
    err = no_traceback(r)
    assert r.returncode == 1 and "use .txt, .csv, .jsonl or .parquet" in err, err


@pytest.mark.parametrize(
    "name,content",
    [
        ("notes.txt", "Just one line of prose, not a label file.\n"),
        ("header.csv", "id,text,label,category,group,register,split\n"),
        ("other.csv", "headline,outlet\nA story,Daily\n"),
        ("empty.jsonl", "\n"),
    ],
)
def test_labels_validate_fails_on_a_file_that_holds_no_labels(project_home, tmp_path, name, content):
    (tmp_path / name).write_text(content)
    r = run_cli("labels", "validate", str(tmp_path / name), home=project_home)
    out = r.stdout.decode() + no_traceback(r)
    assert r.returncode == 1 and "ok:" not in out, out
    assert "missing column" in out or "no label rows" in out, out


def test_batch_exits_1_when_no_article_could_be_read(project_home, tmp_path):
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "empty.txt").write_bytes(b"")
    (d / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    out = tmp_path / "run"
    r = run_cli("batch", str(d), "--out", str(out), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "no article could be read" in err and "errors.jsonl" in err, err
    assert len((out / "errors.jsonl").read_text().splitlines()) == 2 and (out / "report.html").exists()  # outputs still written
    (d / "ok.txt").write_text("Social credit in China\n\nThe social credit system gives every citizen a single score.")
    r = run_cli("batch", str(d), "--out", str(tmp_path / "run2"), home=project_home)
    assert r.returncode == 0, r.stderr.decode()  # one readable article: errors are per input, as before


@pytest.mark.parametrize(
    "toml,needle",
    [
        ('name = "s"\nkind = "stack"\n[params.base]\n[params.base.params]\nC = 1.0\n', "params.base"),
        ('name = "s"\nkind = "stack"\n[params]\nbase = "tfidf"\n', "params.base"),
        ('name = "e"\nkind = "ensemble"\n[params]\nmembers = ["embed", "tfidff"]\n', "tfidff"),
        ('name = "s"\nkind = "stack"\n[params.base]\nkind = "ensemble"\n[params.base.params]\nmembers = ["svm"]\n', "svm"),
        ('name = "k"\nkind = "forest"\n', "forest"),
    ],
)
def test_bad_training_configs_name_the_file_and_the_key(project_home, tmp_path, toml, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    r = run_cli("train", "--config", str(cfg), "--out", str(tmp_path / "m"), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "unexpected" not in err and str(cfg) in err and needle in err, err
    assert len(err.strip().splitlines()) == 1


def test_broken_model_dirs_name_the_file_and_the_key(tiny_model, tmp_path):
    from mythscan.errors import ModelError
    from mythscan.models import load_model

    for key in ("fine_classes", "kind"):
        d = tmp_path / f"no-{key}"
        shutil.copytree(tiny_model, d)
        config = json.loads((d / "config.json").read_text())
        del config[key]
        (d / "config.json").write_text(json.dumps(config))
        with pytest.raises(ModelError, match=rf"config\.json.*{key}"):
            load_model(d)
    for name in ("heads.safetensors", "vectorizer.safetensors"):
        d = tmp_path / f"bad-{name}"
        shutil.copytree(tiny_model, d)
        (d / name).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}" + bytes(40))
        with pytest.raises(ModelError, match=name.replace(".", r"\.")):
            load_model(d)


def test_corrupt_weights_are_one_clear_line_naming_the_file(project_home, tiny_model, tmp_path):
    d = tmp_path / "broken"
    shutil.copytree(tiny_model, d)
    (d / "heads.safetensors").write_bytes(b"garbage")
    r = run_cli("score", str(MYTHS), "--model", str(d), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and str(d / "heads.safetensors") in err and "unexpected" not in err, err
