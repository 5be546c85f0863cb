"""Reading inputs: files (.txt/.md/.html), http(s) URLs and stdin, into a plain-text Document."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .errors import InputError

MAX_BYTES = 10 * 1024 * 1024  # 10 MB: far above any article; a 50 MB file is refused
URL_TIMEOUT = 15.0
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ""}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_ALLOWED_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown")
_HTML_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|article|div|p)\b", re.I | re.S)
_ENGLISH = frozenset(
    "the of and to in is that for it on was with as by be are this from at or an has have not which but they its their".split()
)


@dataclass
class Document:
    text: str
    source: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    site: str | None = None
    url: str | None = None
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def meta(self) -> dict:
        out = {k: getattr(self, k) for k in ("source", "title", "author", "date", "site", "url", "encoding")}
        out.update(self.metadata)
        return out


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head and not (head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        return True
    if head.startswith((b"%PDF", b"\x89PNG", b"PK\x03\x04", b"\x1f\x8b", b"GIF8", b"\xff\xd8\xff")):
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and control / len(head) > 0.05


def decode_bytes(data: bytes, where: str, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes to text: BOM/UTF-8 first, then a declared charset, then detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared), declared.lower()
        except (LookupError, UnicodeDecodeError):
            pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[: 2 * 1024 * 1024]))
    if not matches:
        raise InputError(f"{where}: could not detect the text encoding", hint="save the file as UTF-8")
    best = min(matches, key=lambda m: m.chaos)
    # Western single-byte code pages often tie; English news is far likelier to be Windows-1252.
    tied = {m.encoding for m in matches if m.chaos <= best.chaos + 0.01}
    enc = "cp1252" if tied & {"cp1252", "latin_1", "iso8859_15"} else best.encoding
    return data.decode(enc, errors="replace"), enc


def english_warning(text: str) -> str | None:
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 12:
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        return "the text looks non-English; the model is English-only" if cjk > len(text) * 0.3 else None
    share = sum(w in _ENGLISH for w in words) / len(words)
    if share < 0.06:
        return f"the text looks non-English ({share:.0%} common English words); the model is English-only, results are unreliable"
    return None


def _read_limited(fh, where: str, max_bytes: int) -> bytes:
    data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(
            f"{where}: larger than the {max_bytes // (1024 * 1024)} MB limit",
            hint="split it into articles, or use `mythscan batch` for archives",
        )
    return data


def extract_html(html: str, where: str, url: str | None = None) -> Document:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, favor_precision=False)
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    text = (data.get("text") or "").strip()
    if len(text.split()) < 4:  # navigation crumbs are not an article
        raise InputError(f"{where}: no article text found in the HTML", hint="check that the page holds an article, not only navigation or scripts")
    title = data.get("title")
    # keep the headline as the first line so it is scored too
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return Document(
        text=text,
        source=where,
        title=title,
        author=data.get("author"),
        date=data.get("date"),
        site=data.get("sitename") or data.get("hostname"),
        url=url or data.get("url"),
    )


def document_from_bytes(data: bytes, where: str, *, html: bool | None = None, url: str | None = None,
                        declared_charset: str | None = None) -> Document:
    if not data.strip():
        raise InputError(f"{where}: is empty", hint="give a file or page with article text")
    if looks_binary(data):
        raise InputError(f"{where}: looks like a binary file, not text or HTML", hint="give a .txt, .md or .html article")
    text, enc = decode_bytes(data, where, declared_charset)
    if html is None:
        html = bool(_HTML_SNIFF.match(data[:2048]))
    if html:
        doc = extract_html(text, where, url=url)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            raise InputError(f"{where}: holds only whitespace", hint="give a file with article text")
        first = text.split("\n", 1)[0].strip()
        doc = Document(text=text, source=where, title=first[:200] if len(first) < 200 else None, url=url)
    doc.encoding = enc
    warn = english_warning(doc.text)
    if warn:
        doc.warnings.append(warn)
    if enc not in ("utf-8", "utf-8-sig", "ascii"):
        doc.warnings.append(f"decoded as {enc}")
    return doc


def read_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Document:
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InputError(f"{where}: no such file", hint="check the path")
    if p.is_dir():
        raise InputError(f"{where}: is a directory", hint="score files one by one, or use `mythscan batch` for directories")
    if p.stat().st_size > max_bytes:
        raise InputError(
            f"{where}: {p.stat().st_size / 1e6:.0f} MB is larger than the {max_bytes // (1024 * 1024)} MB limit",
            hint="split it into articles, or use `mythscan batch` for archives",
        )
    suffix = p.suffix.lower()
    if suffix == ".pdf":
        raise InputError(f"{where}: PDF is not supported", hint="convert it to text or HTML first")
    try:
        with p.open("rb") as fh:
            data = _read_limited(fh, where, max_bytes)
    except PermissionError:
        raise InputError(f"{where}: permission denied", hint="check the file's permissions") from None
    html = True if suffix in HTML_SUFFIXES else (None if suffix in TEXT_SUFFIXES else None)
    return document_from_bytes(data, where, html=html)


def read_stdin(*, max_bytes: int = MAX_BYTES) -> Document:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError("stdin: not readable")
    return document_from_bytes(_read_limited(stream, "stdin", max_bytes), "stdin")


def fetch_url(url: str, *, timeout: float = URL_TIMEOUT, max_bytes: int = MAX_BYTES) -> Document:
    import socket
    import urllib.error
    import urllib.request

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"{url}: not a valid http(s) URL")
    req = urllib.request.Request(url, headers={"User-Agent": "mythscan/0.1 (+article scoring)", "Accept": "text/html,text/plain;q=0.9"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            ctype = resp.headers.get_content_type()
            charset = resp.headers.get_content_charset()
            if ctype not in _ALLOWED_TYPES:
                raise InputError(f"{url}: content type {ctype} is not an article (expected HTML or text)",
                                 hint="PDFs and other documents: convert them to text first")
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise InputError(f"{url}: {int(length) / 1e6:.0f} MB is larger than the {max_bytes // (1024 * 1024)} MB limit")
            data = _read_limited(resp, url, max_bytes)
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}", hint="check the address") from None
    except (socket.timeout, TimeoutError):
        raise InputError(f"{url}: timed out after {timeout:g} s", hint="try again or save the page and score the file") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise InputError(f"{url}: timed out after {timeout:g} s", hint="try again or save the page and score the file") from None
        raise InputError(f"{url}: could not connect ({reason})", hint="check the address and your network") from None
    except (ConnectionError, OSError) as exc:
        raise InputError(f"{url}: connection failed ({exc})") from None
    doc = document_from_bytes(data, url, html=ctype != "text/plain" and ctype != "text/markdown", url=url, declared_charset=charset)
    if not doc.site:
        doc.site = parsed.hostname
    return doc


def read_source(source: str, *, max_bytes: int = MAX_BYTES, timeout: float = URL_TIMEOUT) -> Document:
    """Read one SOURCE as the CLI understands it: a path, an http(s) URL, or '-' for stdin."""
    if source == "-":
        return read_stdin(max_bytes=max_bytes)
    if is_url(source):
        return fetch_url(source, timeout=timeout, max_bytes=max_bytes)
    return read_file(source, max_bytes=max_bytes)


def read_table(path: str | Path, *, what: str = "table", also: tuple[str, ...] = ()):
    """A .csv/.jsonl/.parquet file as a pandas DataFrame of strings, with clear errors. ``also``: the
    other types the caller reads itself (e.g. ``.txt``), named in the hint for an unsupported type."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file", hint="check the path")
    suffix = "".join(p.suffixes[-2:]).lower() if p.suffix.lower() == ".gz" else p.suffix.lower()
    try:
        if suffix in (".csv", ".csv.gz", ".tsv"):
            df = pd.read_csv(p, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",", on_bad_lines="error")
        elif suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
            df = pd.read_json(p, lines=True, dtype=False)
        elif suffix == ".parquet":
            df = pd.read_parquet(p)
        else:
            raise InputError(f"{p}: unsupported {what} type {suffix!r}", hint=f"use {', '.join(also + ('.csv', '.jsonl'))} or .parquet")
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 ({exc.reason})", hint="re-save the file as UTF-8") from None
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise InputError(f"{p}: could not parse as {suffix.lstrip('.')} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    return df


def read_sentences(source: str, *, text_column: str = "text", max_bytes: int = 200 * 1024 * 1024) -> tuple[list[str], "object"]:
    """Sentences to classify as given, and the table they came from (None for plain lines)."""
    if source == "-" or Path(source).suffix.lower() in (".txt", ".text", ""):
        if source == "-":
            data = _read_limited(sys.stdin.buffer, "stdin", max_bytes)
        else:
            p = Path(source)
            if not p.exists():
                raise InputError(f"{p}: no such file", hint="check the path")
            data = _read_limited(p.open("rb"), source, max_bytes)
        if looks_binary(data):
            raise InputError(f"{source}: looks like a binary file", hint="give one sentence per line as text")
        text, _ = decode_bytes(data, source)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            raise InputError(f"{source}: holds no sentences", hint="give one sentence per line")
        return lines, None
    df = read_table(source, also=(".txt",))
    if text_column not in df.columns:
        raise InputError(f"{source}: no column {text_column!r}; found {list(df.columns)[:20]}", hint="pass --text-column NAME")
    texts = ["" if v is None else str(v) for v in df[text_column].tolist()]
    if not texts:
        raise InputError(f"{source}: holds no rows")
    return texts, df
