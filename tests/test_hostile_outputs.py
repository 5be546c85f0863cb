"""Issue 18, output side: outputs that attack their reader, data loss, honest exit codes and messages.

Every fixture is generated here, small; the CLI is run as a user runs it (tests.conftest.run_cli)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import ROOT, run_cli

MYTHS = ROOT / "examples" / "myths_article.txt"


def no_traceback(r) -> str:
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return err


# --- exit codes: 1 for every error, 2 only for "myth found" ---------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["score", str(MYTHS), "--threshold", "-1"], "--threshold"),
    (["score", str(MYTHS), "--threshold", "2"], "--threshold"),
    (["score", str(MYTHS), "--threshold", "abc"], "--threshold"),
    (["score", str(MYTHS), "--format", "xml"], "--format"),
    (["score", str(MYTHS), "--no-such-option"], "No such option"),
    (["classify", "x.txt", "--format", "parquet"], "--format"),
    (["batch", str(MYTHS)], "--out"),
    (["labels", "stats", "--format", "xml"], "--format"),
    (["models", "promote"], "Missing argument"),
    (["no-such-command"], "No such command"),
    ([], "Usage:"),
])
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
        w.write_record(w.create_warc_record(url, "resource", payload=BytesIO(html), warc_content_type="text/html",
                                            warc_headers_dict={"WARC-Date": "2021-06-01T10:00:00Z"}))
    return path


def test_batch_report_links_only_http_urls(project_home, tmp_path):
    from tests.test_batch import MYTH_TEXT, page

    rows = [{"id": "evil", "title": "Evil", "url": "javascript:alert(document.cookie)", "text": MYTH_TEXT},
            {"id": "tab", "title": "Tab", "url": "java\tscript:alert(1)", "text": MYTH_TEXT + " Another copy."},
            {"id": "data", "title": "Data", "url": "data:text/html,<script>alert(1)</script>", "text": MYTH_TEXT + " A third."},
            {"id": "quote", "title": "Quote\"><script>x()</script>", "url": "https://news.example/a?b=1&c=\"x\"", "text": MYTH_TEXT + " A fourth."}]
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
