import http.server
import threading
import time
from pathlib import Path

import pytest

from mythscan.errors import InputError
from mythscan.reading import read_file, read_source, read_sentences

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
    text = {"latin-1": "Café owners in Zürich read that the système has no single score. " * 3,
            "cp1252": "The “blacklist” is not a score — it lists court-judgment defaulters. " * 3,
            "gb18030": "The report quoted 社会信用体系 and said there is no single national score. " * 3}[encoding]
    p = tmp_path / "a.txt"
    p.write_bytes(text.encode(encoding))
    doc = read_file(p)
    assert doc.text.strip() == text.strip()


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"   \n\t  ", "is empty"),
    (b"\x00\x01\x02binary\x00" * 50, "binary"),
    (b"%PDF-1.7\n%binary", "binary"),
])
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
    p.write_text("Das chinesische Sozialkreditsystem ist vor allem eine Sammlung von schwarzen Listen für Unternehmen und säumige Schuldner, die Gerichtsurteile ignorieren.")
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
    doc = read_source(f"{server}/article")
    assert "no national social credit score" in doc.text
    assert doc.url.endswith("/article")


def test_url_errors(server):
    with pytest.raises(InputError, match="HTTP 404"):
        read_source(f"{server}/missing")
    with pytest.raises(InputError, match="application/pdf"):
        read_source(f"{server}/paper.pdf")
    with pytest.raises(InputError, match="timed out"):
        read_source(f"{server}/slow", timeout=0.5)
    with pytest.raises(InputError, match="could not connect|connection"):
        read_source("http://127.0.0.1:9/nothing", timeout=2)


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
