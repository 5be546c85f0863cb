"""Inputs of `mythscan batch`: find the files, check tables up front, stream raw articles.

Every input becomes a `Source` (an article file, a table, or a WARC file). `iter_items` streams
`RawItem`s: undecoded article bytes plus metadata, or an error/skip marker. Each item has a stable
position (file index, item index in the file) so a killed run can continue exactly where it
stopped. Extraction (decoding, trafilatura) happens later, in the workers.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from .errors import InputError
from .reading import HTML_SUFFIXES, MAX_BYTES

ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".text"} | HTML_SUFFIXES
TABLE_SUFFIXES = {".csv", ".csv.gz", ".tsv", ".jsonl", ".jsonl.gz", ".ndjson", ".parquet"}
WARC_SUFFIXES = {".warc", ".warc.gz"}
TEXT_COLUMNS = ("text", "html", "content", "body", "article")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def suffix_of(path: str | Path) -> str:
    p = Path(path)
    low = p.name.lower()
    for s in sorted(TABLE_SUFFIXES | WARC_SUFFIXES, key=len, reverse=True):
        if low.endswith(s):
            return s
    return p.suffix.lower()


@dataclass(frozen=True)
class Source:
    path: str
    kind: str  # "file" | "table" | "warc"
    size: int
    mtime_ns: int
    text_column: str | None = None
    id_column: str | None = None
    open_as: str | None = None  # where to open it when the path as given is not valid here (Ray workers)

    @property
    def file(self) -> str:
        return self.open_as or self.path


@dataclass
class RawItem:
    file_idx: int
    item_idx: int
    article_id: str
    input: str
    data: bytes | None = None
    html: bool | None = None  # None: sniff
    meta: dict = field(default_factory=dict)
    url: str | None = None
    charset: str | None = None
    error: str | None = None  # the input could not be read: goes to errors.jsonl
    skip: str | None = None  # not an article (non-HTML WARC record, HTTP error): counted only
    pos: int = 0  # bytes of input consumed, for the progress bar

    def as_row(self) -> dict:
        row = asdict(self)
        row["meta"] = json.dumps(self.meta, ensure_ascii=False)
        row["html"] = -1 if self.html is None else int(self.html)
        return row

    @classmethod
    def from_row(cls, row: dict) -> "RawItem":
        row = dict(row)
        row["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
        h = row.get("html")
        row["html"] = None if h is None or int(h) < 0 else bool(h)
        for k in ("file_idx", "item_idx", "pos"):
            row[k] = int(row[k])
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


# --- discovery ------------------------------------------------------------------------------------

def _walk(root: Path, exclude: Path | None) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and (exclude is None or (d / n).resolve() != exclude))
        for name in sorted(filenames):
            if not name.startswith(".") and (suffix_of(name) in ARTICLE_SUFFIXES or suffix_of(name) in WARC_SUFFIXES):
                out.append(d / name)
    return out


def _expand(inp: str, exclude: Path | None) -> list[Path]:
    if any(ch in inp for ch in "*?["):
        matches = sorted(glob.glob(inp, recursive=True))
        if not matches:
            raise InputError(f"{inp}: the pattern matches no files", hint="check the pattern; quote it so the shell leaves it to mythscan")
        out: list[Path] = []
        for m in matches:
            p = Path(m)
            if p.is_dir():
                out += _walk(p, exclude)
            elif exclude is None or exclude not in p.resolve().parents:
                out.append(p)
        return out
    p = Path(inp)
    if not p.exists():
        raise InputError(f"{inp}: no such file or directory", hint="check the path")
    if p.is_dir():
        files = _walk(p, exclude)
        if not files:
            raise InputError(f"{inp}: the directory holds no .txt, .md, .html or .warc(.gz) files",
                             hint="pass tables (.csv/.jsonl/.parquet) by name")
        return files
    return [p]


def _sniff_encoding(path: Path) -> str:
    """utf-8 unless the first MB says otherwise (then the detected code page)."""
    import codecs

    from .reading import decode_bytes

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(1 << 20)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        return decode_bytes(head, str(path))[1]


def table_columns(path: Path) -> list[str] | None:
    """Column names from the header alone; None when the file is empty or unreadable (reported later)."""
    suffix = suffix_of(path)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if suffix in (".csv", ".csv.gz", ".tsv"):
            import pandas as pd

            return list(pd.read_csv(path, nrows=0, sep="\t" if suffix == ".tsv" else ",", encoding=_sniff_encoding(path)).columns)
        opener = gzip.open if suffix.endswith(".gz") else open
        cols: dict[str, None] = {}
        with opener(path, "rb") as fh:
            for k, line in enumerate(fh):
                if k >= 50:
                    break
                try:
                    row = json.loads(line) if line.strip() else None
                except ValueError:  # reported per line later
                    continue
                if isinstance(row, dict):
                    cols.update(dict.fromkeys(row))
        return list(cols) or None
    except Exception:
        return None


def discover(inputs: list[str], *, text_column: str | None = None, id_column: str | None = None,
             exclude: Path | None = None) -> list[Source]:
    """Expand INPUTs into sources; every table's columns are checked here, before any work."""
    if not inputs:
        raise InputError("no inputs given", hint="give files, directories, globs, tables or WARC files")
    exclude = exclude.resolve() if exclude else None
    seen: set[Path] = set()
    sources: list[Source] = []
    for inp in inputs:
        for p in _expand(inp, exclude):
            rp = p.resolve()
            if rp in seen:
                continue
            seen.add(rp)
            st = p.stat()
            suffix = suffix_of(p)
            if suffix in WARC_SUFFIXES:
                sources.append(Source(str(p), "warc", st.st_size, st.st_mtime_ns))
            elif suffix in TABLE_SUFFIXES:
                cols = table_columns(p) if st.st_size else None
                tcol, icol = text_column, id_column
                if cols is not None:
                    if tcol is None:
                        tcol = next((c for c in TEXT_COLUMNS if c in cols), None)
                        if tcol is None:
                            raise InputError(f"{p}: no text column (looked for {', '.join(TEXT_COLUMNS)}); found {cols[:20]}",
                                             hint="pass --text-column NAME")
                    elif tcol not in cols:
                        raise InputError(f"{p}: no column {tcol!r}; found {cols[:20]}", hint="pass --text-column NAME")
                    if icol is not None and icol not in cols:
                        raise InputError(f"{p}: no id column {icol!r}; found {cols[:20]}", hint="pass --id-column NAME or leave it out")
                    if icol is None and "id" in cols and tcol != "id":
                        icol = "id"
                sources.append(Source(str(p), "table", st.st_size, st.st_mtime_ns, tcol or "text", icol))
            elif suffix == ".json":
                raise InputError(f"{p}: JSON arrays are not read; give JSON Lines (.jsonl), one article object per line",
                                 hint="convert with: jq -c '.[]' FILE.json > FILE.jsonl")
            else:
                sources.append(Source(str(p), "file", st.st_size, st.st_mtime_ns))
    if not sources:
        raise InputError("the inputs hold no files to read")
    return sources


def fingerprint(sources: list[Source]) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(f"{s.path}\t{s.kind}\t{s.size}\t{s.mtime_ns}\t{s.text_column}\t{s.id_column}\n".encode())
    return h.hexdigest()


# --- streaming ------------------------------------------------------------------------------------

def _meta_value(v) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    s = str(v)
    return s if s.strip() else None


def outlet_of(url: str | None) -> str | None:
    if not url:
        return None
    host = (urlparse(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else (host or None)


def _read_file(src: Source, fi: int, base: int) -> RawItem:
    item = RawItem(fi, 0, src.path, src.path, pos=base + src.size)
    try:
        if src.size > MAX_BYTES:
            item.error = f"{src.size / 1e6:.0f} MB is larger than the {MAX_BYTES // (1024 * 1024)} MB limit for one article"
        else:
            with open(src.file, "rb") as fh:
                item.data = fh.read(MAX_BYTES + 1)
            item.html = True if suffix_of(src.path) in HTML_SUFFIXES else None
    except OSError as exc:
        item.error = f"could not read the file ({exc.strerror or exc})"
    return item


def _table_rows(src: Source) -> Iterator[tuple[dict, float]]:
    """(row, fraction of the file read) for each row; raises on a malformed file."""
    suffix = suffix_of(src.path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(src.file)
        total, done = max(pf.metadata.num_rows, 1), 0
        for batch in pf.iter_batches(batch_size=512):
            for row in batch.to_pylist():
                done += 1
                yield row, done / total
    elif suffix in (".csv", ".csv.gz", ".tsv"):
        import pandas as pd

        enc = _sniff_encoding(Path(src.file))
        with open(src.file, "rb") as fh:
            reader = pd.read_csv(fh, dtype=str, keep_default_na=False, chunksize=512, sep="\t" if suffix == ".tsv" else ",",
                                 encoding=enc, encoding_errors="replace", compression="gzip" if suffix.endswith(".gz") else None)
            for chunk in reader:
                frac = fh.tell() / max(src.size, 1)
                for row in chunk.to_dict("records"):
                    yield row, frac
    else:
        with open(src.file, "rb") as raw:
            fh = gzip.GzipFile(fileobj=raw) if suffix.endswith(".gz") else raw
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    row = {"__error__": f"line {lineno}: not valid JSON ({exc})"}
                if not isinstance(row, dict):
                    row = {"__error__": f"line {lineno}: not a JSON object"}
                yield row, raw.tell() / max(src.size, 1)


def _iter_table(src: Source, fi: int, base: int, skip: int) -> Iterator[RawItem]:
    n = 0
    try:
        for row, frac in _table_rows(src):
            if n < skip:
                n += 1
                continue
            pos = base + int(frac * src.size)
            rid = _meta_value(row.get(src.id_column)) if src.id_column else None
            item = RawItem(fi, n, rid or f"{src.path}#{n + 1}", src.path, pos=pos)
            if "__error__" in row:
                item.error = row["__error__"]
            else:
                value = row.get(src.text_column)
                text = value if isinstance(value, (bytes, bytearray)) else _meta_value(value)
                if not text or not text.strip():
                    item.error = f"row {n + 1}: the {src.text_column!r} column is empty"
                else:
                    item.data = bytes(text) if isinstance(text, (bytes, bytearray)) else text.encode("utf-8", errors="replace")
                item.meta = {str(k): v for k, v in ((k, _meta_value(v)) for k, v in row.items()
                                                      if k not in (src.text_column, src.id_column)) if v is not None}
                item.url = item.meta.get("url")
            n += 1
            yield item
    except Exception as exc:  # truncated gzip, malformed CSV/Parquet: report, keep what was read
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        yield RawItem(fi, n, f"{src.path}#{n + 1}", src.path, pos=base + src.size,
                      error=f"could not read past row {n}: {type(exc).__name__}: {reason}")


def _iter_warc(src: Source, fi: int, base: int, skip: int) -> Iterator[RawItem]:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    try:
        with open(src.file, "rb") as fh:
            it = ArchiveIterator(fh)
            for rec in it:
                if not rec.rec_headers.get_header("WARC-Record-ID"):
                    raise ValueError("a record without WARC-Record-ID: not a WARC file")
                if rec.rec_type not in ("response", "resource"):
                    continue
                if n < skip:
                    n += 1
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                rid = (rec.rec_headers.get_header("WARC-Record-ID") or "").strip("<>") or f"{src.path}#{n + 1}"
                item = RawItem(fi, n, rid, src.path, url=url, html=True)
                item.meta = {k: v for k, v in (("url", url), ("warc_date", rec.rec_headers.get_header("WARC-Date")),
                                               ("outlet", outlet_of(url))) if v}
                if rec.rec_type == "response" and rec.http_headers is not None:
                    status = rec.http_headers.get_statuscode()
                    ctype = rec.http_headers.get_header("Content-Type") or ""
                else:
                    status, ctype = "200", rec.rec_headers.get_header("Content-Type") or ""
                mime = ctype.split(";")[0].strip().lower()
                if status and status != "200":
                    item.skip = f"HTTP status {status}"
                elif mime and mime not in _HTML_TYPES:
                    item.skip = f"non-HTML record ({mime})"
                else:
                    data = rec.content_stream().read(MAX_BYTES + 1)
                    if len(data) <= MAX_BYTES and getattr(rec.raw_stream, "limit", 0) > 0:
                        raise EOFError(f"record {n + 1} is cut short")
                    if len(data) > MAX_BYTES:
                        item.error = f"record larger than the {MAX_BYTES // (1024 * 1024)} MB limit"
                    else:
                        item.data = data
                        if "charset=" in ctype.lower():
                            item.charset = ctype.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'") or None
                item.pos = base + min(fh.tell(), src.size)
                n += 1
                yield item
            end = getattr(it, "offset", None)
            if isinstance(end, int) and end < src.size:  # warcio stops quietly at a truncated gzip member
                raise EOFError(f"the last {src.size - end} bytes hold no complete record")
    except Exception as exc:  # truncated gzip, not a WARC: report, keep the records read so far
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        yield RawItem(fi, n, f"{src.path}#{n + 1}", src.path, pos=base + src.size,
                      error=f"truncated or corrupt WARC after {n} record(s): {type(exc).__name__}: {reason}")


def iter_source(src: Source, fi: int, base: int = 0, skip: int = 0) -> Iterator[RawItem]:
    """The items of one source (file index `fi`), skipping the first `skip`; `base`: bytes before it."""
    if src.size == 0:
        if skip == 0:
            yield RawItem(fi, 0, src.path, src.path, error="the file is empty", pos=base)
    elif src.kind == "file":
        if skip == 0:
            yield _read_file(src, fi, base)
    elif src.kind == "table":
        yield from _iter_table(src, fi, base, skip)
    else:
        yield from _iter_warc(src, fi, base, skip)


def iter_items(sources: list[Source], start: tuple[int, int] = (0, 0)) -> Iterator[RawItem]:
    """Every item of every source in order, from position `start` (file index, item index)."""
    base = 0
    for fi, src in enumerate(sources):
        if fi >= start[0]:
            yield from iter_source(src, fi, base, start[1] if fi == start[0] else 0)
        base += src.size
