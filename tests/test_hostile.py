"""Hostile and careless inputs (issue 18): bounded memory and time, one clear error, and `batch`
goes on. Every fixture is generated here, small on disk (a 200 MB-inflating gzip is ~200 KB)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT / "benchmarks"))
import hostile_inputs as bench  # noqa: E402

GOOD = (
    "China's social credit system is mostly a set of blacklists for companies that ignore court orders. "
    "There is no single national score for every citizen."
)
GOOD2 = "Beijing's courts keep a list of judgment defaulters who may not buy plane tickets; it is not a citizen score."


def run_measured(*args: str, home: Path, timeout: float = 120, cwd: Path | None = None, preexec_fn=None):
    """Run the installed `mythscan` as a user would; returns (returncode, stdout, stderr, peak RSS in MB,
    seconds). The peak RSS is the mythscan process's own (benchmarks/hostile_inputs.py measures it)."""
    r = bench.run_measured(
        list(args), cwd=cwd, timeout=timeout, kill_mb=2500, env={**os.environ, "MYTHSCAN_HOME": str(home)}, preexec_fn=preexec_fn
    )
    assert not r["killed"], (r["killed"], r["stderr"][-2000:])
    return r["rc"], r["stdout"], r["stderr"], r["rss_mb"], r["seconds"]


def one_clear_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [x for x in err.strip().splitlines() if not x.startswith("mythscan: warning")]
    assert len(lines) == 1 and lines[0].startswith("mythscan: error: "), err
    return lines[0]


def deflate(parts) -> bytes:
    """gzip of the byte strings `parts` (callables are called for big runs, so nothing large is built)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([c.compress(p) for p in parts] + [c.flush()])


def repeat(byte: bytes, n_mb: int):
    block = byte * (1 << 20)
    return (block for _ in range(n_mb))


def write_warc_records(records: list[tuple[str, bytes]]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, payload in records:
        h = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=h, warc_headers_dict={"WARC-Date": "2026-01-05T10:00:00Z"}
            )
        )
    return buf.getvalue()


def html(title: str, text: str) -> bytes:
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>".encode()


@pytest.fixture(scope="module")
def hostile_tables(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    row = lambda i, t: (json.dumps({"id": i, "text": t}) + "\n").encode()  # noqa: E731
    # 1. a ~200 KB .jsonl.gz whose second line inflates to 200 MB
    (d / "bomb.jsonl.gz").write_bytes(
        deflate([row("gz1", GOOD), b'{"id": "gz2", "text": "', *repeat(b"a", 200), b'"}\n', row("gz3", GOOD2)])
    )
    # 2. a plain JSONL with a 12 MB line between two good rows
    with open(d / "long.jsonl", "wb") as fh:
        fh.write(row("j1", GOOD))
        fh.write(b'{"id": "j2", "text": "' + b"b" * (12 << 20) + b'"}\n')
        fh.write(row("j3", GOOD2))
    # 3. a CSV with a 12 MB quoted field spanning many lines (with quotes inside) between two good rows
    with open(d / "long.csv", "w") as fh:
        fh.write(f'id,text\nc1,"{GOOD}"\nc2,"')
        fh.write(('He said ""no"" ' + "c" * 1000 + "\n") * 12_000)
        fh.write(f'"\nc3,"{GOOD2}"\n')
    # 4. Parquet: a 12 MB cell in its own row group between two good rows
    pd.DataFrame({"id": ["p1", "p2", "p3"], "text": [GOOD, "d" * (12 << 20), GOOD2]}).to_parquet(d / "long.parquet", row_group_size=1)
    # 5. a .warc.gz: a good record, then a gzip member that inflates to 1 GB of zeros, then a good record
    hdr = (
        b"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Target-URI: https://bomb.example/x\r\nWARC-Date: 2026-01-05T10:00:00Z\r\nContent-Type: text/html\r\n"
        b"Content-Length: 10\r\n\r\n0123456789\r\n\r\n"
    )
    (d / "bomb.warc.gz").write_bytes(
        write_warc_records([("https://good.example/1", html("Credit lists", GOOD))])
        + deflate([hdr, *repeat(b"\0", 1024)])
        + write_warc_records([("https://good.example/2", html("Defaulters", GOOD2))])
    )
    return d


def test_batch_bounds_hostile_tables_and_warcs(hostile_tables, project_home, tmp_path):
    d, out = hostile_tables, tmp_path / "out"
    assert sum(f.stat().st_size for f in d.iterdir()) < 45 << 20
    rc, stdout, err, rss, seconds = run_measured(
        "batch",
        *(str(d / n) for n in ("bomb.jsonl.gz", "long.jsonl", "long.csv", "long.parquet", "bomb.warc.gz")),
        "--out",
        str(out),
        "--no-dedup",
        home=project_home,
    )
    assert rc == 0, err
    assert rss < 1000 and seconds < 90, (rss, seconds)  # was: 8 GB and killed (10 GB gzip), 6 GB (a 100 MB line)
    errors = {Path(e["input"]).name: e["reason"] for e in map(json.loads, (out / "errors.jsonl").read_text().splitlines())}
    assert "inflates more than 200-fold" in errors.pop("bomb.jsonl.gz")
    assert "line 2: longer than the 10 MB limit for one row (skipped)" in errors.pop("long.jsonl")
    assert "row 2 (line 3): longer than the 10 MB limit for one row (skipped)" in errors.pop("long.csv")
    assert "over the 10 MB limit for one row" in errors.pop("long.parquet")
    assert "without a line break" in errors.pop("bomb.warc.gz")
    assert not errors
    arts = pd.read_parquet(out / "articles.parquet")
    # every good row around the hostile one is scored (after a gzip bomb the rest of that file is not read)
    assert {"gz1", "j1", "j3", "c1", "c3", "p1", "p3"} <= set(arts.article_id)
    assert set(arts.url.dropna()) == {"https://good.example/1"}
    assert arts.chars.max() < 1000


def test_batch_refuses_urls_and_reports_pipes(project_home, tmp_path):
    rc, _, err, _, _ = run_measured("batch", "http://example.com/news", "--out", str(tmp_path / "o1"), home=project_home)
    line = one_clear_line(err)
    assert rc == 1 and "batch reads files, directories and globs, not URLs" in line and "mythscan score" in line
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(GOOD)
    os.mkfifo(src / "pipe.txt")
    rc, _, err, _, seconds = run_measured("batch", str(src / "pipe.txt"), "--out", str(tmp_path / "o2"), home=project_home, timeout=60)
    assert rc == 1 and "is a named pipe, not a regular file" in one_clear_line(err) and seconds < 30
    out = tmp_path / "o3"
    rc, _, err, _, seconds = run_measured("batch", str(src), "--out", str(out), home=project_home, timeout=60)
    assert rc == 0 and seconds < 30, err  # a pipe in a folder: one errors.jsonl line, never a hang
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()]
    assert [(Path(e["input"]).name, e["reason"]) for e in errors] == [
        ("pipe.txt", "not a regular file (a named pipe, socket or device): not read")
    ]
    assert len(pd.read_parquet(out / "articles.parquet")) == 1


def test_score_caps_sentences_and_their_length(project_home, tmp_path):
    big = tmp_path / "big.txt"  # 9.5 MB, under the 10 MB cap: ~120,000 sentences
    big.write_text((GOOD + " ") * (9_500_000 // (len(GOOD) + 1)))
    rc, out, err, rss, seconds = run_measured("score", str(big), "--format", "json", home=project_home)
    assert rc == 0, err
    art = json.loads(out)
    assert art["summary"]["sentences"] == 5000 and len(art["sentences"]) == 5000
    assert any("only the first 5,000 were scored" in w for w in art["warnings"])
    assert "only the first 5,000 were scored" in err  # the warning reaches the terminal too
    assert rss < 1000 and seconds < 60, (rss, seconds)  # was 109 s and 4 GB
    run = tmp_path / "run.txt"  # one 3 MB "sentence" without a stop or a line break
    run.write_text("credit " * 450_000)
    rc, out, err, rss, seconds = run_measured("score", str(run), "--format", "json", home=project_home)
    assert rc == 0, err
    sents = json.loads(out)["sentences"]
    assert len(sents) > 1000 and max(len(s["text"]) for s in sents) <= 2000
    assert sum(len(s["text"]) + 1 for s in sents) == len("credit " * 450_000)  # cut into pieces, nothing dropped


def test_split_caps_in_process():
    from mythscan.splitting import MAX_SENTENCE_CHARS, split_article, split_sentences

    text = "Dr. Li said so. " * 50_000 + "\n" + "x" * 200_000  # a long merge run, then a line without a space
    spans = split_sentences(text)
    assert all(text[s.start : s.end] == s.text and len(s.text) <= MAX_SENTENCE_CHARS for s in spans)
    assert sum(len(s.text) for s in spans if set(s.text) == {"x"}) == 200_000
    spans, warn = split_article("A short article. It has two sentences.")
    assert len(spans) == 2 and warn is None


@pytest.mark.parametrize("command", ["classify", "suggest"])
def test_classify_and_suggest_refuse_a_runaway_line(project_home, tmp_path, command):
    f = tmp_path / "sentences.txt"
    f.write_text(f"{GOOD}\n{GOOD2}\n" + "e" * 3_000_000 + "\nThe last sentence is a normal one about credit.\n")
    args = ["classify", str(f)] if command == "classify" else ["labels", "suggest", str(f), "--n", "2"]
    rc, out, err, rss, seconds = run_measured(*args, home=project_home, cwd=tmp_path)
    line = one_clear_line(err)
    assert rc == 1 and "line 3 is longer than 100,000 characters: not a sentence" in line
    assert rss < 1000 and seconds < 60
    assert not (tmp_path / "to_label.csv").exists()  # suggest wrote nothing (it once wrote a 50 MB to_label.csv)
    t = tmp_path / "s.csv"
    pd.DataFrame({"text": [GOOD, "f" * 200_000]}).to_csv(t, index=False)
    rc, out, err, _, _ = run_measured("classify", str(t), home=project_home)
    assert rc == 1 and "row 2: 200,000 characters is not a sentence" in one_clear_line(err)


def test_classify_streams_many_sentences(project_home, tmp_path):
    f = tmp_path / "many.txt"
    f.write_text("\n".join(f"Sentence {i} says that every citizen of China has one score." for i in range(5000)) + "\n")
    out = tmp_path / "out.csv"
    rc, _, err, _, _ = run_measured("classify", str(f), "--format", "csv", "--out", str(out), home=project_home)
    assert rc == 0, err
    df = pd.read_csv(out)
    assert len(df) == 5000 and df.text.iloc[4321].startswith("Sentence 4321 ") and {"label", "p_myth"} <= set(df.columns)


def batch_errors(out: Path) -> dict[str, str]:
    return {Path(e["input"]).name: e["reason"] for e in map(json.loads, (out / "errors.jsonl").read_text().splitlines())}


def test_batch_symlinks_in_input_trees(project_home, tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "sub").mkdir(parents=True)
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("Outside secret.\n" + GOOD2)
    (outside / "dir" / "more.txt").write_text("Outside folder.\n" + GOOD)
    (tree / "a.txt").write_text("Inside.\n" + GOOD)
    (tree / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (tree / "loop.txt").symlink_to(tree / "loop.txt")
    (tree / "secret.txt").symlink_to(outside / "secret.txt")  # like a link to /etc/passwd
    (tree / "ext").symlink_to(outside / "dir")
    (tree / "sub" / "again.txt").symlink_to(tree / "a.txt")  # inside the tree: read once, no error
    (tree / "up").symlink_to(tree)  # a directory loop
    out = tmp_path / "out"
    rc, _, err, _, seconds = run_measured("batch", str(tree), "--out", str(out), "--no-dedup", home=project_home, timeout=60)
    assert rc == 0 and seconds < 30, err  # a dangling link once aborted the run ("unexpected FileNotFoundError")
    errors = batch_errors(out)
    assert errors.pop("dangling.txt").endswith("broken, not read") and errors.pop("loop.txt").endswith("a loop, not read")
    for name in ("secret.txt", "ext"):
        assert f"outside {tree.resolve()}: skipped (pass --follow-symlinks to read it)" in errors.pop(name)
    assert not errors
    assert list(pd.read_parquet(out / "articles.parquet").title) == ["Inside."]
    out = tmp_path / "followed"
    rc, _, err, _, seconds = run_measured(
        "batch", str(tree), "--out", str(out), "--no-dedup", "--follow-symlinks", home=project_home, timeout=60
    )
    assert rc == 0 and seconds < 30, err
    assert sorted(pd.read_parquet(out / "articles.parquet").title) == ["Inside.", "Outside folder.", "Outside secret."]
    assert sorted(batch_errors(out)) == ["dangling.txt", "loop.txt"]


def _drop_dac_override():
    """Runs in the child before exec: without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH even root obeys mode bits."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone from the bounding set, so gone after exec
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_batch_reports_an_unreadable_directory(project_home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "a.txt").write_text("Inside.\n" + GOOD)
    (tree / "locked" / "b.txt").write_text("Locked.\n" + GOOD2)
    os.chmod(tree / "locked", 0)
    try:
        preexec = None
        if os.geteuid() == 0:  # root reads any directory: run mythscan without the capabilities that allow it
            probe = subprocess.run(
                [sys.executable, "-c", f"import os; os.listdir({str(tree / 'locked')!r})"],
                preexec_fn=_drop_dac_override,
                capture_output=True,
            )
            if b"PermissionError" not in probe.stderr:
                pytest.skip(
                    "running as root and CAP_DAC_OVERRIDE cannot be dropped here, so no directory is unreadable "
                    f"({probe.stderr.decode().strip()[-200:] or 'listing succeeded'})"
                )
            preexec = _drop_dac_override
        out = tmp_path / "out"
        rc, _, err, _, _ = run_measured("batch", str(tree), "--out", str(out), home=project_home, timeout=60, preexec_fn=preexec)
        assert rc == 0, err
        assert batch_errors(out) == {"locked": "could not list the directory (Permission denied): its files are not read"}
        assert list(pd.read_parquet(out / "articles.parquet").title) == ["Inside."]
    finally:
        os.chmod(tree / "locked", 0o755)


def test_batch_dates_come_from_metadata_or_the_crawl_never_the_text(project_home, tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    text = "Published on 12 March 2008. In 2000 the plan began, the officials said. " + GOOD
    pages = [
        (
            "https://n.example/meta",
            '<meta property="article:published_time" content="2019-05-03T08:00:00Z">',
            [("Last-Modified", "Tue, 05 Jan 2021 10:00:00 GMT")],
        ),
        ("https://n.example/lastmod", "", [("Last-Modified", "Tue, 05 Jan 2021 10:00:00 GMT"), ("Date", "Mon, 05 Jan 2026 10:00:00 GMT")]),
        ("https://n.example/crawl", "", []),
    ]
    with open(tmp_path / "crawl.warc.gz", "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for i, (url, head, headers) in enumerate(pages):
            body = (
                f"<html><head><title>Page {i}</title>{head}</head><body><article><p>{text} Item {i}.</p></article></body></html>".encode()
            )
            h = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), *headers], protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=h, warc_headers_dict={"WARC-Date": "2026-01-05T10:00:00Z"}
                )
            )
    (tmp_path / "feed.jsonl").write_text(json.dumps({"id": "t1", "title": "t1", "published": "2017-02-03", "text": GOOD2}) + "\n")
    (tmp_path / "plain.txt").write_text("Plain text.\n" + text)
    out = tmp_path / "out"
    r = run_cli(
        "batch",
        str(tmp_path / "crawl.warc.gz"),
        str(tmp_path / "feed.jsonl"),
        str(tmp_path / "plain.txt"),
        "--out",
        str(out),
        "--format",
        "csv",
        home=project_home,
    )
    assert r.returncode == 0, r.stderr.decode()
    arts = pd.read_csv(out / "articles.csv", dtype=str, keep_default_na=False).set_index("title")
    got = {t: (a["date"], a["date_source"], a["year"]) for t, a in arts.iterrows()}
    assert got == {
        "Page 0": ("2019-05-03", "metadata", "2019"),
        "Page 1": ("2021-01-05", "http", "2021"),
        "Page 2": ("2026-01-05T10:00:00Z", "warc", "2026"),
        "t1": ("2017-02-03", "table", "2017"),
        "Plain text.": ("", "none", ""),
    }, got
    summary = json.loads((out / "summary.json").read_text())
    years = {y["key"]: y["articles"] for y in summary["by_year"]}
    assert years == {"2017": 1, "2019": 1, "unknown": 3}  # no 2000 or 2008 from the text; no crawl years in the chart
    assert summary["totals"]["no_publication_date"] == 3 and summary["date_sources"] == {
        "metadata": 1,
        "http": 1,
        "warc": 1,
        "table": 1,
        "none": 1,
    }
    report = (out / "report.html").read_text()
    assert "3 of 5 articles have no reliable publication date" in report and "2 are dated only by when they were crawled" in report


def test_label_files_with_a_huge_field_are_problems_not_crashes(tmp_path):
    from mythscan.data import read_rows

    p = tmp_path / "labels.csv"
    p.write_text('id,text,label,category\n1,"' + "y" * 200_000 + '",myth,M-single-score\n2,An ordinary sentence here.,other,\n')
    rows, problems = read_rows(p)  # was: csv.Error "field larger than field limit (131072)", an unexpected error
    assert [r["id"] for r in rows] == ["2"]
    assert [str(x) for x in problems] == [f"{p}:2: text of 200,000 characters: a label is one sentence (at most 5,000)"]
