"""`mythscan batch`: mixed inputs, bad inputs, outputs, dedup, resume after SIGKILL, prefilter, Ray parity."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_archive import html_page, write_jsonl  # noqa: E402

MYTH_TEXT = (
    "China's social credit system gives every citizen a single score. Everyone in China is assigned a citizen score by the state. "
    "Officials in Beijing said the weather would be fine on Sunday. The football team won its match 3-1."
)
RECORD_TEXT = (
    "There is no single national social credit score in China. Most blacklists target companies that ignore court orders.\n\n"
    "The bakery on the high street won a prize for its bread."
)


def no_traceback(r) -> str:
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return err


def page(title: str, body: str, site: str = "example.org") -> str:
    return html_page({"title": title, "text": f"{title}\n\n{body}", "outlet": site, "date": "2020-01-01"})


def write_warc(path: Path, records: list[tuple[str, str, bytes, str]]) -> Path:
    """records: (kind, url, payload, content type) with kind response | request | 404."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for kind, url, payload, ctype in records:
            date = "2021-06-01T10:00:00Z"
            if kind == "request":
                h = StatusAndHeaders("GET / HTTP/1.1", [("Host", "news.example")], is_http_request=True)
                w.write_record(w.create_warc_record(url, "request", http_headers=h, warc_headers_dict={"WARC-Date": date}))
                continue
            status = "404 Not Found" if kind == "404" else "200 OK"
            h = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(url, "response", payload=BytesIO(payload), http_headers=h, warc_headers_dict={"WARC-Date": date})
            )
    return path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """A directory of articles, a JSONL, a cp1252 CSV, a Parquet of HTML, WARCs (good, truncated, junk)."""
    d = tmp_path_factory.mktemp("mixed")
    arts = d / "saved"
    (arts / "2019").mkdir(parents=True)
    (arts / "myths.txt").write_text("Social credit explained\n\n" + MYTH_TEXT)
    (arts / "2019" / "record.html").write_text(page("What social credit is", RECORD_TEXT, "record.example"))
    (arts / "2019" / "notes.md").write_text("# Weekend\n\nThe weather will be dry and the market opens at nine on Saturday morning.")
    (arts / "empty.txt").write_bytes(b"")
    (arts / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (arts / "cp1252.txt").write_bytes(
        (
            "Beijing’s “blacklist” is not a score: it lists court-judgment defaulters, "
            "and every citizen in China is watched by the social credit system. " * 2
        ).encode("cp1252")
    )
    rows = [
        {"id": "j1", "outlet": "Daily Herald", "date": "2018-03-04", "text": MYTH_TEXT},
        {"id": "j2", "outlet": "Morning Post", "date": "2019-07-08", "text": RECORD_TEXT},
        {"id": "j3", "outlet": "Morning Post", "date": "2019-07-09", "text": "  " + MYTH_TEXT.upper() + "  "},  # syndicated copy
        {"id": "j4", "outlet": "Morning Post", "date": "2020-01-01", "text": ""},
    ]
    with open(d / "feed.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
        fh.write("{not json\n")
    (d / "wire.csv").write_bytes(
        pd.DataFrame(
            {
                "id": ["c1"],
                "outlet": ["Wire"],
                "date": ["2017"],
                "content": ["Café owners in Shanghai say the “social credit score” rates everyone in China."],
            }
        )
        .to_csv(index=False)
        .encode("cp1252")
    )
    pd.DataFrame({"id": ["p1"], "outlet": ["Parquet Times"], "html": [page("Credit in China", MYTH_TEXT)]}).to_parquet(d / "pages.parquet")
    html = page("China credit lists", RECORD_TEXT, "www.news.example").encode()
    write_warc(
        d / "crawl.warc.gz",
        [
            ("request", "https://www.news.example/a", b"", ""),
            ("response", "https://www.news.example/a", html, "text/html; charset=utf-8"),
            ("response", "https://www.news.example/logo.png", b"\x89PNG" + bytes(100), "image/png"),
            ("404", "https://www.news.example/gone", b"<html>gone</html>", "text/html"),
            ("response", "https://other.example/b", page("Scores", MYTH_TEXT, "other.example").encode(), "text/html"),
        ],
    )
    good = write_warc(
        d / "tmp.warc.gz",
        [("response", f"https://t.example/{i}", page(f"Page {i}", MYTH_TEXT + f" Item {i}.").encode(), "text/html") for i in range(4)],
    ).read_bytes()
    (d / "tmp.warc.gz").unlink()
    (d / "truncated.warc.gz").write_bytes(good[: int(len(good) * 0.6)])
    (d / "junk.warc.gz").write_bytes(gzip.compress(b"this is not a WARC file at all\r\n\r\n" * 10)[:-5])
    return d


def mixed_inputs(d: Path) -> list[str]:
    return [str(d / "saved"), str(d / "feed.jsonl"), str(d / "wire.csv"), str(d / "pages.parquet"), str(d / "*.warc.gz")]


@pytest.fixture(scope="module")
def mixed_run(mixed, project_home, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mixed"
    r = run_cli("batch", *mixed_inputs(mixed), "--out", str(out), "--all-sentences", "--chunk-size", "4", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    assert "articles scored" in r.stdout.decode()
    return out


def test_mixed_inputs_outputs_and_metadata(mixed_run):
    out = mixed_run
    for name in ("sentences.parquet", "articles.parquet", "errors.jsonl", "summary.json", "report.html", "manifest.json"):
        assert (out / name).exists(), name
    arts = pd.read_parquet(out / "articles.parquet").set_index("article_id")
    sents = pd.read_parquet(out / "sentences.parquet")
    summary = json.loads((out / "summary.json").read_text())
    t = summary["totals"]
    # 4 saved articles that read (myths, record, notes, cp1252), 2 JSONL (j3 is a duplicate of j1), CSV, Parquet, WARC 2 + truncated >= 0
    assert {"j1", "j2", "c1", "p1"} <= set(arts.index) and "j3" not in arts.index
    assert t["duplicates"] >= 1 and t["articles"] == len(arts) and t["items"] >= len(arts) + t["errors"] + t["duplicates"]
    assert arts.loc["j1", "outlet"] == "Daily Herald" and arts.loc["j1", "year"] == 2018
    assert arts.loc["c1", "outlet"] == "Wire" and "Café" in sents[sents.article_id == "c1"].text.str.cat()
    warc = arts[arts.url == "https://www.news.example/a"].iloc[0]
    assert warc["outlet"] == "news.example" and warc["warc_date"].startswith("2021-06-01") and warc["year"] in (2020, 2021)
    # every sentence kept (--all-sentences); offsets are consistent; filtered sentences are 'other' with p=0
    assert len(sents) == t["sentences"] == arts["sentences"].sum()
    assert ((sents["end"] - sents["start"]) == sents["text"].str.len()).all()
    filt = sents[sents.filtered]
    assert len(filt) and (filt.label == "other").all() and (filt.myth_probability == 0).all()
    assert not sents[sents.article_id == "j1"].filtered.iloc[:2].any()  # the on-topic sentences reach the model
    assert t["myths"] == (sents.label == "myth").sum() == arts["myths"].sum() > 0
    notes = arts[arts.input.str.endswith("notes.md")].iloc[0]
    assert not notes["topical"] and notes["candidates"] == 0  # plainly off topic: never reaches the model
    # errors: one line per unreadable input, with the reason; none of them stopped the run
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()]
    reasons = " | ".join(f"{e['input']}: {e['reason']}" for e in errors)
    for needle in (
        "empty.txt: the file is empty",
        "photo.html",
        "binary",
        "feed.jsonl",
        "not valid JSON",
        "is empty",
        "truncated.warc.gz: truncated or corrupt WARC",
        "junk.warc.gz: truncated or corrupt WARC",
    ):
        assert needle in reasons, (needle, reasons)
    assert t["errors"] == len(errors)
    assert any("non-HTML record (image/png)" in k for k in summary["skipped_by_reason"])
    assert any("404" in k for k in summary["skipped_by_reason"])
    cp = arts[arts.input.str.endswith("cp1252.txt")].iloc[0]
    assert "decoded as cp125" in (cp["warnings"] or "")  # detected single-byte code page, with a warning
    assert "“blacklist”" in sents[sents.article_id == cp.name].text.str.cat()
    # report: self-contained, with plots and tables
    page_ = (out / "report.html").read_text()
    assert page_.startswith("<!doctype html>") and "data:image/png;base64," in page_
    assert "http" not in page_.split("<body>")[0] and "Most myth-dense articles" in page_
    assert summary["top_articles"] and summary["top_articles"][0]["flagged"]


def test_other_formats_reuse_the_finished_run(mixed_run, mixed, project_home):
    from mythscan.batch.pipeline import SENTENCE_FIELDS
    from mythscan.batch.report import merge_table

    base = pd.read_parquet(mixed_run / "sentences.parquet")
    r = run_cli(
        "batch", *mixed_inputs(mixed), "--out", str(mixed_run), "--all-sentences", "--chunk-size", "4", "--format", "csv", home=project_home
    )
    assert r.returncode == 0, r.stderr.decode()  # same run, other format: the parts are merged again, nothing is rescored
    df = pd.read_csv(mixed_run / "sentences.csv")
    assert len(df) == len(base) and list(df["text"]) == list(base["text"]) and (mixed_run / "articles.csv").exists()
    parts = sorted((mixed_run / "_parts").glob("*.sentences.parquet"))
    assert merge_table(parts, mixed_run / "check.jsonl", "jsonl", SENTENCE_FIELDS) == len(base)
    df = pd.read_json(mixed_run / "check.jsonl", lines=True)
    (mixed_run / "check.jsonl").unlink()
    assert list(df["text"]) == list(base["text"]) and ((df["myth_probability"] - base["myth_probability"]).abs() < 1e-9).all()
    r = run_cli("batch", *mixed_inputs(mixed), "--out", str(mixed_run), "--all-sentences", "--chunk-size", "4", home=project_home)
    assert r.returncode == 0 and "already complete" in r.stderr.decode()


def test_bad_invocations_fail_before_any_work(project_home, tmp_path, mixed, ref_run):
    pd.DataFrame({"headline": ["a"], "outlet": ["b"]}).to_csv(tmp_path / "nocol.csv", index=False)
    out = tmp_path / "out"
    r = run_cli("batch", str(tmp_path / "nocol.csv"), "--out", str(out), home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1 and "no text column" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    r = run_cli("batch", str(mixed / "feed.jsonl"), "--text-column", "body", "--out", str(out), home=project_home)
    assert r.returncode == 1 and "no column 'body'" in no_traceback(r)
    r = run_cli("batch", str(tmp_path / "missing.jsonl"), "--out", str(out), home=project_home)
    assert r.returncode == 1 and "no such file" in no_traceback(r)
    r = run_cli("batch", str(tmp_path / "*.nothing"), "--out", str(out), home=project_home)
    assert r.returncode == 1 and "matches no files" in no_traceback(r)
    # a directory with someone else's files, and an output directory of a different run
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.docx").write_text("mine")
    r = run_cli("batch", str(mixed / "feed.jsonl"), "--out", str(tmp_path / "foreign"), home=project_home)
    assert r.returncode == 1 and "not empty" in no_traceback(r)
    r = run_cli("batch", str(mixed / "wire.csv"), "--out", str(tmp_path / "new"), "--resume", home=project_home)
    assert r.returncode == 1 and "nothing to resume" in no_traceback(r)

    shutil.copytree(ref_run, out)
    r = run_cli("batch", str(mixed / "wire.csv"), "--out", str(out), home=project_home)
    assert r.returncode == 1 and "different run" in no_traceback(r) and "inputs" in r.stderr.decode()
    manifest = json.loads((ref_run / "manifest.json").read_text())
    r = run_cli("batch", *manifest["inputs"], *BATCH_ARGS, "--out", str(out), "--threshold", "0.99", home=project_home)
    assert r.returncode == 1 and "threshold" in no_traceback(r)
    r = run_cli("batch", str(mixed / "wire.csv"), "--out", str(out), "--overwrite", home=project_home)
    assert r.returncode == 0 and pd.read_parquet(out / "articles.parquet").article_id.tolist() == ["c1"]
    assert len(list((out / "_parts").iterdir())) == 3  # one part: the other run's parts are gone


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("archive") / "news.jsonl", 250, seed=3)


BATCH_ARGS = ["--chunk-size", "40"]


@pytest.fixture(scope="module")
def ref_run(archive, project_home, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ref"
    r = run_cli("batch", str(archive), *BATCH_ARGS, "--out", str(out), home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    return out


def _rows(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    arts = pd.read_parquet(out / "articles.parquet").sort_values(["input", "article_id"]).reset_index(drop=True)
    sents = pd.read_parquet(out / "sentences.parquet").sort_values(["article_id", "sentence"]).reset_index(drop=True)
    return arts, sents


def test_resume_after_sigkill_loses_and_duplicates_nothing(archive, ref_run, project_home, tmp_path):
    out = tmp_path / "killed"
    args = ["batch", str(archive), *BATCH_ARGS, "--out", str(out)]
    env = {**os.environ, "MYTHSCAN_HOME": str(project_home), "MYTHSCAN_BATCH_CRASH_AFTER": "3"}
    p = subprocess.run([sys.executable, "-m", "mythscan.cli", *args, "--workers", "2"], env=env, capture_output=True, timeout=300)
    assert p.returncode == -9, p.stderr.decode()  # SIGKILL, mid-run (the worker processes end with it)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["parts"]) == 3 and not manifest["complete"] and not (out / "articles.parquet").exists()
    r = run_cli(*args, home=project_home)  # the same command again
    assert r.returncode == 0, r.stderr.decode()
    assert "continuing" in r.stderr.decode()
    (a1, s1), (a2, s2) = _rows(ref_run), _rows(out)
    assert a1["article_id"].is_unique and not s1[["article_id", "sentence"]].duplicated().any()
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(s1, s2)
    m1, m2 = (json.loads((d / "summary.json").read_text())["totals"] for d in (ref_run, out))
    assert m1 == m2 and m1["items"] == 250 and m1["duplicates"] > 0


def test_prefilter_recall_and_effect(archive, ref_run, project_home, tmp_path):
    from mythscan.batch.prefilter import prefilter_recall

    rec = prefilter_recall(ROOT / "labels" / "sentences.csv", split="test")
    assert rec["myth"]["n"] > 200 and rec["myth"]["sentence"] >= 0.99
    off = tmp_path / "off"
    r = run_cli("batch", str(archive), *BATCH_ARGS, "--out", str(off), "--no-prefilter", home=project_home)
    assert r.returncode == 0, r.stderr.decode()
    t_on, t_off = (json.loads((d / "summary.json").read_text())["totals"] for d in (ref_run, off))
    assert t_off["candidates"] == t_off["sentences"] == t_on["sentences"]
    assert t_on["candidates"] < 0.3 * t_on["sentences"]  # most sentences of general news never reach the model
    labelled = set(pd.read_csv(ROOT / "labels" / "sentences.csv", dtype=str, keep_default_na=False).text)
    found = []
    for out in (ref_run, off):
        s = _rows(out)[1]
        s = s[(s.label == "myth") & s.text.isin(labelled)]
        found.append(set(zip(s.article_id, s.sentence)))
    # the labelled sentences the model flags without the prefilter are (nearly all) flagged with it too
    assert found[0] <= found[1] and len(found[0]) >= 0.98 * len(found[1]) > 20


def test_dedup_hash_and_seen_set():
    from mythscan.batch.pipeline import SeenHashes, text_hash

    assert text_hash("China's  social credit.\n") == text_hash("CHINA'S social credit") != text_hash("China social credits")
    seen = SeenHashes()
    hashes = [text_hash(str(i)) for i in range(120_000)]
    assert all(seen.add(h) for h in hashes)
    assert not any(seen.add(h) for h in hashes[::1000])


def test_stream_positions_resume_exactly(mixed):
    from mythscan.batch.inputs import discover, iter_items

    sources = discover([str(mixed / "feed.jsonl"), str(mixed / "crawl.warc.gz"), str(mixed / "saved")])
    items = [(i.file_idx, i.item_idx) for i in iter_items(sources)]
    assert len(items) == len(set(items)) and items == sorted(items)
    for k in (1, 4, len(items) - 1):
        rest = [(i.file_idx, i.item_idx) for i in iter_items(sources, (items[k - 1][0], items[k - 1][1] + 1))]
        assert rest == items[k:]


def test_ray_engine_gives_the_same_rows(mixed_run, mixed, project_home, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    r = run_cli("batch", *mixed_inputs(mixed), "--out", str(out), "--all-sentences", "--engine", "ray", home=project_home, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    (a1, s1), (a2, s2) = _rows(mixed_run), _rows(out)
    assert len(a1) > 10
    pd.testing.assert_frame_equal(a1, a2[a1.columns])
    pd.testing.assert_frame_equal(s1, s2)
    e1, e2 = ((d / "errors.jsonl").read_text().splitlines() for d in (mixed_run, out))
    assert sorted(e1) == sorted(e2)
    t1, t2 = (json.loads((d / "summary.json").read_text())["totals"] for d in (mixed_run, out))
    assert t1 == t2
