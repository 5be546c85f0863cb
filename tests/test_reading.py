import gzip
import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from mythscan.errors import InputError
from mythscan.reading import read_file, read_sentences, read_source

ROOT = Path(__file__).resolve().parents[1]
TEXT = "There is no single national social credit score. Most lists target companies that ignore court orders."


def test_html_extraction_with_metadata():
    doc = read_file(ROOT / "examples" / "record_article.html")
    assert doc.title == "What China's social credit system really is"
    assert "no national social credit score" in doc.text
    assert "Home | China" not in doc.text  # navigation removed
    assert "Copyright" not in doc.text
    assert doc.author.lower() == "mythscan example desk"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "gb18030"])
def test_other_encodings_are_detected(tmp_path, encoding):
    text = {
        "latin-1": "Café owners in Zürich read that the système has no single score. " * 3,
        "cp1252": "The “blacklist” is not a score — it lists court-judgment defaulters. " * 3,
        "gb18030": "The report quoted 社会信用体系 and said there is no single national score. " * 3,
    }[encoding]
    p = tmp_path / "a.txt"
    p.write_bytes(text.encode(encoding))
    doc = read_file(p)
    assert doc.text.strip() == text.strip()


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty"),
        (b"   \n\t  ", "is empty"),
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"%PDF-1.7\n%binary", "binary"),
    ],
)
def test_bad_files(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_file(p)


def test_missing_pdf_huge_and_html_without_text(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_file(tmp_path / "nope.txt")
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4 whatever")
    with pytest.raises(InputError, match="PDF"):
        read_file(pdf)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(InputError, match="larger than"):
        read_file(huge)
    empty_html = tmp_path / "nav.html"
    empty_html.write_text("<html><body><nav><a href='/'>Home</a></nav><script>var x=1;</script></body></html>")
    with pytest.raises(InputError, match="no article text"):
        read_file(empty_html)


def test_non_english_warning(tmp_path):
    p = tmp_path / "de.txt"
    p.write_text(
        "Das chinesische Sozialkreditsystem ist vor allem eine Sammlung von schwarzen Listen für Unternehmen und säumige Schuldner, die Gerichtsurteile ignorieren."
    )
    assert any("English" in w for w in read_file(p).warnings)
    p.write_text(TEXT)
    assert read_file(p).warnings == []


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/article":
            body = (ROOT / "examples" / "record_article.html").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/paper.pdf":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(b"%PDF-1.4")
        elif self.path == "/slow":
            time.sleep(3)
            self.send_response(200)
            self.end_headers()
        elif self.path == "/drip":  # a byte every 0.2 s, for a minute: each read is quick, the whole is not
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(300):
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif self.path == "/drip-headers":
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(300):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif self.path in ("/gzip", "/gzip-bomb"):
            body = (ROOT / "examples" / "record_article.html").read_bytes() if self.path == "/gzip" else b"\0" * (40 << 20)
            body = gzip.compress(body)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/redirect/"):  # /redirect/N: N more hops, then the article
            n = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/redirect/{n - 1}" if n > 1 else "/article")
            self.end_headers()
        elif self.path in ("/to-ftp", "/to-localhost", "/to-file"):
            target = {
                "/to-ftp": "ftp://127.0.0.1/etc/passwd",
                "/to-file": "file:///etc/passwd",
                "/to-localhost": f"http://localhost:{self.server.server_address[1]}/article",
            }[self.path]
            self.send_response(301)
            self.send_header("Location", target)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_url_fetch(server):
    doc = read_source(f"{server}/article", allow_private=True)
    assert "no national social credit score" in doc.text
    assert doc.url.endswith("/article")


def test_url_errors(server):
    with pytest.raises(InputError, match="HTTP 404"):
        read_source(f"{server}/missing", allow_private=True)
    with pytest.raises(InputError, match="application/pdf"):
        read_source(f"{server}/paper.pdf", allow_private=True)
    with pytest.raises(InputError, match="timed out"):
        read_source(f"{server}/slow", timeout=0.5, allow_private=True)
    with pytest.raises(InputError, match="could not connect|connection"):
        read_source("http://127.0.0.1:9/nothing", timeout=2, allow_private=True)


def test_url_loopback_and_private_addresses_are_refused(server):
    port = server.rsplit(":", 1)[1]
    for url in (f"{server}/article", f"http://localhost:{port}/article", f"http://[::1]:{port}/article", f"http://0.0.0.0:{port}/article"):
        with pytest.raises(InputError, match="address: not fetched.*--allow-private"):
            read_source(url)
    from mythscan.reading import _check_address

    for ip in (
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ):
        with pytest.raises(InputError, match="not fetched"):
            _check_address(ip, "h", False, "u")
    for ip in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"):
        _check_address(ip, "h", False, "u")  # global: fetched
        _check_address(ip, "h", True, "u")
    _check_address("127.0.0.1", "h", True, "u")  # --allow-private


def test_url_redirects_are_limited_checked_and_http_only(server, monkeypatch):
    assert "no national social credit score" in read_source(f"{server}/redirect/3", allow_private=True).text
    with pytest.raises(InputError, match="more than 5 redirects"):
        read_source(f"{server}/redirect/6", allow_private=True)
    for path in ("/to-ftp", "/to-file"):
        with pytest.raises(InputError, match="not an http\\(s\\) URL: not followed"):
            read_source(f"{server}{path}", allow_private=True)
    # every hop is checked: with a policy that lets 127.0.0.1 through but not localhost, the
    # redirect to localhost is refused (the real policy refuses both, see above)
    import mythscan.reading as reading

    real = reading._check_address
    monkeypatch.setattr(reading, "_check_address", lambda ip, host, allow, where: real(ip, host, allow or host == "127.0.0.1", where))
    assert "no national social credit score" in read_source(f"{server}/article").text
    with pytest.raises(InputError, match="localhost resolves to .*loopback address: not fetched"):
        read_source(f"{server}/to-localhost")


def test_url_deadline_is_for_the_whole_fetch(server):
    for path in ("/drip", "/drip-headers"):
        t = time.monotonic()
        with pytest.raises(InputError, match="timed out after 1.5 s"):
            read_source(f"{server}{path}", timeout=1.5, allow_private=True)
        assert time.monotonic() - t < 4, path


def test_url_gzip_encoding_is_decoded_and_capped(server):
    doc = read_source(f"{server}/gzip", allow_private=True)
    assert "no national social credit score" in doc.text
    with pytest.raises(InputError, match="larger than the 10 MB limit"):
        read_source(f"{server}/gzip-bomb", allow_private=True)


def test_named_pipes_and_devices_are_refused(tmp_path):
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    for reader in (read_file, lambda p: read_sentences(str(p))):
        with pytest.raises(InputError, match="named pipe, not a regular file"):
            reader(fifo)
    with pytest.raises(InputError, match="a device, not a regular file"):
        read_file("/dev/zero")


def test_read_sentences_tables(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"sentence": ["One.", "Two."], "outlet": ["a", "b"]})
    df.to_csv(tmp_path / "s.csv", index=False)
    texts, _ = read_sentences(str(tmp_path / "s.csv"), text_column="sentence")
    assert texts == ["One.", "Two."]
    with pytest.raises(InputError, match="no column 'text'"):
        read_sentences(str(tmp_path / "s.csv"))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(InputError, match="could not parse"):
        read_sentences(str(tmp_path / "bad.jsonl"))


def test_a_text_articles_title_skips_captions_and_stray_lines(tmp_path):
    """A .txt article's title is its first headline-like line, not a tracker name or photo caption."""
    f = tmp_path / "a.txt"
    f.write_text(
        "Clicky\nPhoto: Getty Images / a screen in a Shanghai street\nWhat the credit lists in Chinese cities actually do\n\n" + TEXT + "\n"
    )
    assert read_file(f).title == "What the credit lists in Chinese cities actually do"
    f.write_text("How the court blacklist works\n\n" + TEXT + "\n")
    assert read_file(f).title == "How the court blacklist works"
    f.write_text(TEXT + " " + TEXT + "\n\nA second paragraph follows here.\n")  # no headline line at all
    assert read_file(f).title is None
