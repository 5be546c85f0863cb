"""Reading inputs: files (.txt/.md/.html), http(s) URLs and stdin, into a plain-text Document."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urljoin, urlparse

from .errors import InputError

MAX_BYTES = 10 * 1024 * 1024  # 10 MB: far above any article; a 50 MB file is refused
URL_TIMEOUT = 15.0  # seconds for the whole fetch (every redirect, the headers and the body), not per read
MAX_REDIRECTS = 5
MAX_TABLE_BYTES = 200 * 1024 * 1024  # tables read whole (evaluate --data) are held in memory: 200 MB of rows at most
MAX_SENTENCE_INPUT = 100_000  # characters of one sentence given to classify/suggest; longer is not a sentence
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


# Publication dates are taken from the page's metadata only (meta tags, JSON-LD, <time pubdate>):
# trafilatura's dates come from htmldate, which falls back to dates found in the text, even with
# extensive_search=False (that only skips the slowest search), so a 2026 capture got 2000 or 2008.
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "dc.date.created",
    "dcterms.date",
    "dcterms.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "publish_date",
    "publish-date",
    "published_time",
    "published-date",
    "publication_date",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
    "citation_publication_date",
    "citation_date",
    "originalpublicationdate",
    "og:pubdate",
    "rnews:datepublished",
    "displaydate",
)
_ISO_DATE = re.compile(r"^\s*((?:19|20)\d\d)[-/.]?(0[1-9]|1[0-2])[-/.]?(0[1-9]|[12]\d|3[01])(?!\d)")


def parse_date(value) -> str | None:
    """A publication date as YYYY-MM-DD, from ISO-like or RFC 2822 strings; None when it is not one
    (or is before 1990 or after tomorrow, which a news page's metadata cannot mean)."""
    import datetime as dt
    from email.utils import parsedate_to_datetime

    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    m = _ISO_DATE.match(value)
    try:
        if m:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            d = parsedate_to_datetime(value.strip()).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return d.isoformat() if dt.date(1990, 1, 1) <= d <= dt.date.today() + dt.timedelta(days=1) else None


def metadata_date(html: str) -> str | None:
    """The publication date the page's metadata states (JSON-LD datePublished/dateCreated, meta tags,
    <time pubdate> or itemprop=datePublished), never one guessed from the text."""
    import json

    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, TypeError, lxml.etree.ParserError, lxml.etree.XMLSyntaxError):
        return None
    found: dict[str, str] = {}
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]')[:20]:
        try:
            stack = [json.loads(script.text_content()[:1_000_000])]
        except (ValueError, RecursionError):
            continue
        while stack and len(stack) < 10_000:
            obj = stack.pop()
            if isinstance(obj, list):
                stack += obj
            elif isinstance(obj, dict):
                for key in ("datePublished", "dateCreated"):
                    d = parse_date(obj.get(key))
                    if d:
                        found.setdefault(key, d)
                stack += [v for v in obj.values() if isinstance(v, (dict, list))]
    for key in ("datePublished", "dateCreated"):
        if key in found:
            return found[key]
    metas = {}
    for el in tree.xpath("//meta[@content]")[:500]:
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if name in _DATE_META and name not in metas:
            metas[name] = el.get("content")
    for name in _DATE_META:
        d = parse_date(metas.get(name))
        if d:
            return d
    for el in tree.xpath('//time[@datetime][@pubdate or @itemprop="datePublished"] | //*[@itemprop="datePublished"][@datetime]')[:20]:
        d = parse_date(el.get("datetime"))
        if d:
            return d
    return None


def extract_html(html: str, where: str, url: str | None = None) -> Document:
    import trafilatura

    # date search cut to the cheap part (its result is not used: see metadata_date)
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        favor_precision=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    text = (data.get("text") or "").strip()
    if len(text.split()) < 4:  # navigation crumbs are not an article
        raise InputError(
            f"{where}: no article text found in the HTML", hint="check that the page holds an article, not only navigation or scripts"
        )
    title = data.get("title")
    # keep the headline as the first line so it is scored too
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    date = metadata_date(html)
    return Document(
        text=text,
        source=where,
        title=title,
        author=data.get("author"),
        date=date,
        site=data.get("sitename") or data.get("hostname"),
        url=url or data.get("url"),
        metadata={"date_source": "metadata"} if date else {},
    )


_CAPTION = re.compile(
    r"^\(?(photo|image|picture|illustration|video|credit|caption|file photo)\b\s*[:/(-]|getty images|\bvia getty\b|"
    r"\b(photo|image|picture)\s*(:|/|by\b)|©|\bafp\b\s*(/|$)|\breuters\s*/",
    re.I,
)
# page furniture that copy-pasted or scraped text often starts with (tracker and widget names, menus)
_FURNITURE = {
    "clicky",
    "advertisement",
    "advert",
    "ad",
    "sponsored",
    "skip to content",
    "skip to main content",
    "menu",
    "search",
    "share",
    "share this",
    "subscribe",
    "sign in",
    "log in",
    "login",
    "close",
    "home",
    "print",
    "email",
    "newsletter",
    "cookie settings",
    "accept cookies",
    "loading",
    "related",
    "most read",
    "listen",
    "watch",
}


def text_title(text: str, *, lines: int = 5) -> str | None:
    """The headline of a plain-text article: the first of its first few lines that reads like one,
    under 200 characters and not page furniture ("Clicky", "Advertisement", "Share") or a photo
    caption or credit ("Photo: ...", "... / Getty Images"). None when the body starts first (a long
    sentence or paragraph) or no line qualifies."""
    for line in [ln.strip() for ln in text.split("\n") if ln.strip()][:lines]:
        words = line.split()
        if len(line) >= 200 or len(words) > 30 or (line.endswith(".") and len(words) > 15):
            return None  # the body has started: the text has no headline line
        if line.lower().strip(" .:|-") in _FURNITURE or _CAPTION.search(line) or not re.search(r"[^\W\d_]", line):
            continue
        return line
    return None


def document_from_bytes(
    data: bytes, where: str, *, html: bool | None = None, url: str | None = None, declared_charset: str | None = None
) -> Document:
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
        doc = Document(text=text, source=where, title=text_title(text), url=url)
    doc.encoding = enc
    warn = english_warning(doc.text)
    if warn:
        doc.warnings.append(warn)
    if enc not in ("utf-8", "utf-8-sig", "ascii"):
        doc.warnings.append(f"decoded as {enc}")
    return doc


def read_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Document:
    from .rows import check_regular

    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InputError(f"{where}: no such file", hint="check the path")
    if p.is_dir():
        raise InputError(f"{where}: is a directory", hint="score files one by one, or use `mythscan batch` for directories")
    check_regular(p, where)  # a named pipe would block forever
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


class _Deadline:
    """The time left of one fetch; a watchdog shuts the socket when it runs out, so a server that
    sends a byte a second (each read well inside any per-read timeout) cannot hold the fetch."""

    def __init__(self, seconds: float, url: str):
        import time

        self.seconds, self.url, self.end, self.expired = seconds, url, time.monotonic() + seconds, False

    def left(self) -> float:
        import time

        left = self.end - time.monotonic()
        if left <= 0:
            self.fail()
        return left

    def fail(self):
        raise InputError(f"{self.url}: timed out after {self.seconds:g} s", hint="try again, or save the page and score the file")

    def watch(self, sock):
        import socket
        import threading

        def expire():
            self.expired = True
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

        timer = threading.Timer(max(self.left(), 0.0), expire)
        timer.daemon = True
        timer.start()
        return timer


def _check_address(ip: str, host: str, allow_private: bool, where: str) -> None:
    import ipaddress

    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    mapped = getattr(addr, "ipv4_mapped", None)
    addr = mapped or addr
    if allow_private:
        return
    if not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified or addr.is_loopback or addr.is_link_local:
        kind = (
            "loopback"
            if addr.is_loopback
            else "link-local"
            if addr.is_link_local
            else "multicast"
            if addr.is_multicast
            else "unspecified"
            if addr.is_unspecified
            else "private"
            if addr.is_private
            else "reserved or non-global"
        )
        raise InputError(
            f"{where}: {addr} is a {kind} address: not fetched"
            if host.strip("[]") == str(addr)
            else f"{where}: {host} resolves to {addr}, a {kind} address: not fetched",
            hint="pass --allow-private to fetch from this machine or a private network",
        )


def _resolve(host: str, port: int, deadline: _Deadline, allow_private: bool, where: str) -> list:
    """Every address of `host`, each checked; in a thread, since getaddrinfo has no timeout."""
    import socket
    import threading

    box: dict = {}

    def run():
        try:
            box["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(deadline.left())
    if t.is_alive():
        deadline.fail()
    if "error" in box:
        raise InputError(f"{where}: could not resolve {host} ({box['error']})", hint="check the address and your network")
    addrs = box["addrs"]
    for *_, sockaddr in addrs:
        _check_address(sockaddr[0], host, allow_private, where)
    return addrs


def _connect(url: str, deadline: _Deadline, allow_private: bool):
    """An open HTTP(S) connection to a checked address of the URL's host (never re-resolved, so the
    name cannot point elsewhere between the check and the connection), and its deadline watchdog."""
    import http.client
    import socket
    import ssl

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"{url}: not an http(s) URL", hint="only http:// and https:// pages are fetched")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise InputError(f"{url}: not a valid port") from None
    host = parsed.hostname
    addrs = _resolve(host, port, deadline, allow_private, url)
    last: OSError | None = None
    for family, socktype, proto, _, sockaddr in addrs:
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(max(0.01, deadline.left()))
        timer = deadline.watch(sock)
        try:
            sock.connect(sockaddr)
            break
        except OSError as exc:
            timer.cancel()
            sock.close()
            last = exc
            deadline.left()
    else:
        raise InputError(f"{url}: could not connect ({last})", hint="check the address and your network")
    cls = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    kw = {"context": ssl.create_default_context()} if parsed.scheme == "https" else {}
    conn = cls(host, port, timeout=sock.gettimeout(), **kw)
    try:
        conn.sock = kw["context"].wrap_socket(sock, server_hostname=host) if kw else sock
    except (OSError, ssl.SSLError) as exc:
        timer.cancel()
        sock.close()
        if deadline.expired:
            deadline.fail()
        raise InputError(f"{url}: TLS failed ({exc})") from None
    return conn, timer


def _read_body(resp, url: str, max_bytes: int) -> bytes:
    """The body, inflated when the server sent it gzip-encoded; both sizes capped at `max_bytes`."""
    import zlib

    enc = (resp.getheader("Content-Encoding") or "identity").strip().lower()
    if enc not in ("identity", "gzip", "x-gzip"):
        raise InputError(f"{url}: unsupported content encoding {enc!r}")
    too_big = InputError(
        f"{url}: larger than the {max_bytes // (1024 * 1024)} MB limit", hint="split it into articles, or use `mythscan batch` for archives"
    )
    raw = bytearray()
    out = bytearray()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if enc != "identity" else None
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        raw += chunk
        if len(raw) > max_bytes:
            raise too_big
        while inflate is not None and chunk:
            out += inflate.decompress(chunk, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise too_big
            chunk = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:  # another gzip member
                chunk, inflate = inflate.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
    if inflate is not None and not inflate.eof:
        raise InputError(f"{url}: the gzip-encoded body is cut short")
    return bytes(out if inflate is not None else raw)


def fetch_url(
    url: str, *, timeout: float = URL_TIMEOUT, max_bytes: int = MAX_BYTES, allow_private: bool = False, max_redirects: int = MAX_REDIRECTS
) -> Document:
    """Fetch one article page. `timeout` is a deadline for the whole fetch. Only http(s), to global
    addresses (every address the host name resolves to is checked, at every redirect) unless
    `allow_private`; at most `max_redirects` redirects; gzip-encoded bodies are inflated, and both
    the body and its inflated size are capped at `max_bytes`."""
    import http.client
    import socket
    import ssl

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"{url}: not a valid http(s) URL")
    deadline = _Deadline(timeout, url)
    current = url
    for _hop in range(max_redirects + 1):
        conn = timer = None
        try:
            conn, timer = _connect(current, deadline, allow_private)
            p = urlparse(current)
            path = (p.path or "/") + (f"?{p.query}" if p.query else "")
            conn.request(
                "GET",
                path,
                headers={
                    "User-Agent": "mythscan/0.1 (+article scoring)",
                    "Accept": "text/html,text/plain;q=0.9",
                    "Accept-Encoding": "gzip",
                },
            )
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                if not location:
                    raise InputError(f"{current}: HTTP {resp.status} redirect without a Location")
                nxt = urljoin(current, location.strip())
                if urlparse(nxt).scheme not in ("http", "https"):
                    raise InputError(f"{current}: redirects to {nxt[:200]}, not an http(s) URL: not followed")
                current = nxt
                continue
            if resp.status >= 400:
                raise InputError(f"{current}: HTTP {resp.status} {resp.reason}", hint="check the address")
            if resp.status != 200:
                raise InputError(f"{current}: HTTP {resp.status} {resp.reason}: no page to read")
            ctype = resp.headers.get_content_type()
            charset = resp.headers.get_content_charset()
            if ctype not in _ALLOWED_TYPES:
                raise InputError(
                    f"{current}: content type {ctype} is not an article (expected HTML or text)",
                    hint="PDFs and other documents: convert them to text first",
                )
            length = resp.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise InputError(f"{current}: {int(length) / 1e6:.0f} MB is larger than the {max_bytes // (1024 * 1024)} MB limit")
            data = _read_body(resp, current, max_bytes)
            if deadline.expired:  # the watchdog shut the socket: what was read is only part of the page
                deadline.fail()
            break
        except InputError:
            if deadline.expired:
                deadline.fail()
            raise
        except (socket.timeout, TimeoutError):
            deadline.fail()
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            if deadline.expired:
                deadline.fail()
            raise InputError(
                f"{current}: connection failed ({exc or type(exc).__name__})", hint="check the address and your network"
            ) from None
        finally:
            if timer is not None:
                timer.cancel()
            if conn is not None:
                conn.close()
    else:
        raise InputError(f"{url}: more than {max_redirects} redirects", hint="open the final address instead")
    doc = document_from_bytes(data, url, html=ctype != "text/plain" and ctype != "text/markdown", url=current, declared_charset=charset)
    if not doc.site:
        doc.site = urlparse(current).hostname
    return doc


def read_source(source: str, *, max_bytes: int = MAX_BYTES, timeout: float = URL_TIMEOUT, allow_private: bool = False) -> Document:
    """Read one SOURCE as the CLI understands it: a path, an http(s) URL, or '-' for stdin."""
    if source == "-":
        return read_stdin(max_bytes=max_bytes)
    if is_url(source):
        return fetch_url(source, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private)
    return read_file(source, max_bytes=max_bytes)


def _table_suffix(p: Path) -> str:
    return "".join(p.suffixes[-2:]).lower() if p.suffix.lower() == ".gz" else p.suffix.lower()


def _parse_error(p: Path, exc: Exception) -> InputError:
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"{p}: not UTF-8 ({exc.reason})", hint="re-save the file as UTF-8")
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return InputError(f"{p}: could not parse as {_table_suffix(p).lstrip('.')} ({type(exc).__name__}{': ' + detail if detail else ''})")


def iter_table_rows(
    path: str | Path, *, what: str = "table", max_row_bytes: int = MAX_BYTES, columns: list[str] | None = None, also: tuple[str, ...] = ()
) -> tuple[list[str], Iterator[dict]]:
    """The columns and a stream of the rows of a .csv/.tsv/.jsonl(.gz)/.parquet file, each row
    bounded (`max_row_bytes`); anything wrong (a malformed or over-long row, damaged gzip, bad
    encoding) is a clear InputError. JSONL columns are those of the first row. Parquet is read in
    small batches (only `columns`, when given). ``also``: the other types the caller reads itself
    (e.g. ``.txt``), named in the hint for an unsupported type."""
    import itertools

    p = Path(path)

    def guarded(rows: Iterator[dict]) -> Iterator[dict]:
        try:
            yield from rows
        except Exception as exc:  # noqa: BLE001 - pandas, pyarrow, gzip, csv: one clear message
            raise _parse_error(p, exc) from None

    try:
        columns_found, rows = _table_rows(p, what, max_row_bytes, columns, also)
        first = next(rows, None)
    except Exception as exc:  # noqa: BLE001
        raise _parse_error(p, exc) from None
    if first is None and columns_found is None:
        raise InputError(f"{p}: holds no rows")
    cols = columns_found if columns_found is not None else [str(k) for k in first]
    return cols, guarded(itertools.chain([first] if first is not None else [], rows))


def _table_rows(
    p: Path, what: str, max_row_bytes: int, columns: list[str] | None, also: tuple[str, ...] = ()
) -> tuple[list[str] | None, Iterator[dict]]:
    from .rows import check_regular, csv_records, csv_text, iter_jsonl, mb, open_binary

    check_regular(p)
    suffix = _table_suffix(p)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(p)
        names = list(pf.schema_arrow.names)

        def parquet_rows():
            for batch in pf.iter_batches(batch_size=256, columns=[c for c in (columns or names) if c in names]):
                for row in batch.to_pylist():
                    big = next((k for k, v in row.items() if isinstance(v, (str, bytes)) and len(v) > max_row_bytes), None)
                    if big is not None:
                        raise InputError(f"{p}: a {big!r} value is larger than the {mb(max_row_bytes)} limit for one row")
                    yield row

        return names, parquet_rows()
    if suffix in (".csv", ".csv.gz", ".tsv"):
        fh = csv_text(open_binary(p), "utf-8-sig", errors="strict")
        header, rows = csv_records(fh, max_row_bytes, str(p), sep="\t" if suffix == ".tsv" else ",")
        if isinstance(header, str):
            fh.close()
            raise InputError(f"{p}: could not parse as {suffix.lstrip('.')} ({header})")

        def csv_rows():
            with fh:
                for _, row in rows:
                    if isinstance(row, str):
                        raise InputError(f"{p}: {row}")
                    yield {h: row.get(h, "") for h in header}

        return header, csv_rows()
    if suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
        fh = open_binary(p)

        def json_rows():
            with fh:
                for _, row in iter_jsonl(fh, max_row_bytes, str(p)):
                    if isinstance(row, str):
                        raise InputError(f"{p}: could not parse as {suffix.lstrip('.')}: {row}")
                    yield row

        return None, json_rows()
    raise InputError(f"{p}: unsupported {what} type {suffix!r}", hint=f"use {', '.join(also + ('.csv', '.jsonl'))} or .parquet")


def read_table(path: str | Path, *, what: str = "table", also: tuple[str, ...] = (), max_bytes: int = MAX_TABLE_BYTES):
    """A .csv/.jsonl/.parquet file as a pandas DataFrame of strings, with clear errors. Rows are
    read bounded (10 MB each) and the table must fit in `max_bytes`: it is held in memory.
    ``also``: the other types the caller reads itself (e.g. ``.txt``), named in the hint for an
    unsupported type."""
    import pandas as pd

    from .rows import check_regular, mb

    p = Path(path)
    check_regular(p)
    try:
        suffix = _table_suffix(p)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            try:
                size = pq.ParquetFile(p).metadata
                size = sum(size.row_group(i).total_byte_size for i in range(size.num_row_groups))
            except Exception:
                size = 0  # reported below, by pandas
            if size > max_bytes:
                raise InputError(
                    f"{p}: {mb(size)} of data, over the {mb(max_bytes)} limit for a {what}",
                    hint="split it, or use `mythscan batch` for archives",
                )
            return pd.read_parquet(p)
        columns, rows = iter_table_rows(p, what=what, also=also)
        out, used = [], 0
        for row in rows:
            used += sum(len(v) if isinstance(v, str) else 8 for v in row.values())
            if used > max_bytes:
                raise InputError(f"{p}: over the {mb(max_bytes)} limit for a {what}", hint="split it, or use `mythscan batch` for archives")
            out.append(row)
        return pd.DataFrame(out, columns=columns if suffix in (".csv", ".csv.gz", ".tsv") else None)
    except InputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise _parse_error(p, exc) from None


def iter_sentences(
    source: str, *, text_column: str = "text", max_chars: int = MAX_SENTENCE_INPUT, max_bytes: int = 200 * 1024 * 1024
) -> Iterator[str]:
    """Sentences to classify as given, streamed: the lines of a text file (or stdin), or a table's
    text column. A sentence over `max_chars` (a whole article or a runaway line, which once cost
    6 GB) is a clear InputError, as is a text file over `max_bytes`. Problems found in the header
    (missing column, binary or empty file) are raised before the first sentence is yielded."""
    from .rows import check_regular

    if source == "-" or Path(source).suffix.lower() in (".txt", ".text", ""):
        if source == "-":
            fh = getattr(sys.stdin, "buffer", None)
            if fh is None:
                raise InputError("stdin: not readable")
        else:
            p = Path(source)
            if not p.exists():
                raise InputError(f"{p}: no such file", hint="check the path")
            check_regular(p, source)
            fh = p.open("rb", buffering=1 << 20)
        head = fh.peek(1 << 20)[: 1 << 20] if hasattr(fh, "peek") else b""
        if looks_binary(head):
            raise InputError(f"{source}: looks like a binary file", hint="give one sentence per line as text")
        try:
            head.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError as exc:
            enc = "utf-8" if exc.start > len(head) - 4 else None  # cut mid-character, or another code page
        if enc is None or head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
            enc = decode_bytes(head, source)[1]
        return _text_lines(fh, source, enc, max_chars, max_bytes)
    return (text for text, _, _ in iter_sentence_rows(source, text_column=text_column, max_chars=max_chars))


def iter_sentence_rows(
    source: str,
    *,
    text_column: str = "text",
    context_column: str | None = None,
    article_column: str | None = None,
    max_chars: int = MAX_SENTENCE_INPUT,
) -> Iterator[tuple[str, str | None, str | None]]:
    """(sentence, context, article) of each row of a table, streamed: ``context`` is the
    ``context_column`` value (the sentence before it), ``article`` the ``article_column`` value,
    None when the column is not asked for. Column problems are raised before the first row."""
    wanted = [c for c in (text_column, context_column, article_column) if c]
    columns, rows = iter_table_rows(source, columns=wanted, also=(".txt",))
    for name, option in ((text_column, "--text-column"), (context_column, "--context-column"), (article_column, "--article-column")):
        if name and name not in columns:
            raise InputError(f"{source}: no column {name!r}; found {list(columns)[:20]}", hint=f"pass {option} NAME")

    def cell(row, name):
        v = row.get(name) if name else None
        return None if name is None else ("" if v is None or v != v else str(v))

    def generate():
        n = 0
        for i, row in enumerate(rows, 1):
            t = cell(row, text_column)
            ctx = cell(row, context_column)
            for value in (t, ctx or ""):
                if len(value) > max_chars:
                    raise InputError(
                        f"{source}: row {i}: {len(value):,} characters is not a sentence (limit {max_chars:,})",
                        hint="classify takes sentences; score whole articles with `mythscan score` or `mythscan batch`",
                    )
            n += 1
            yield t, ctx, cell(row, article_column)
        if not n:
            raise InputError(f"{source}: holds no rows")

    return generate()


def _text_lines(fh, source: str, enc: str, max_chars: int, max_bytes: int) -> Iterator[str]:
    import io

    from .rows import mb

    n = used = lineno = 0
    with io.TextIOWrapper(fh, encoding=enc, errors="replace") as tf:
        while line := tf.readline(max_chars + 2):  # bounded: a 100 MB line is never read whole
            lineno += 1
            text = line.strip()
            if len(text) > max_chars:
                raise InputError(
                    f"{source}: line {lineno} is longer than {max_chars:,} characters: not a sentence",
                    hint="classify takes one sentence per line; score whole articles with `mythscan score` or `mythscan batch`",
                )
            used += len(line)
            if used > max_bytes:
                raise InputError(f"{source}: larger than the {mb(max_bytes)} limit", hint="split it into several files")
            if text:
                n += 1
                yield text
    if not n:
        raise InputError(f"{source}: holds no sentences", hint="give one sentence per line")


def read_sentences(source: str, *, text_column: str = "text", max_sentences: int | None = None) -> tuple[list[str], None]:
    """Sentences to classify as given (see `iter_sentences`), as a list; at most `max_sentences`."""
    import itertools

    it = iter_sentences(source, text_column=text_column)
    texts = list(itertools.islice(it, max_sentences) if max_sentences else it)
    return texts, None
