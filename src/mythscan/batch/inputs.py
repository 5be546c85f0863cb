"""Inputs of `mythscan batch`: find the files, check tables up front, stream raw articles.

Every input becomes a `Source` (an article file, a table, or a WARC file). `iter_items` streams
`RawItem`s: undecoded article bytes plus metadata, or an error/skip marker. Each item has a stable
position (file index, item index in the file) so a killed run can continue exactly where it
stopped. Extraction (decoding, trafilatura) happens later, in the workers.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import math
import os
import stat
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from ..errors import InputError
from ..reading import HTML_SUFFIXES, MAX_BYTES, is_url
from ..rows import check_regular, csv_records, csv_text, iter_jsonl, mb, open_binary

ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".text"} | HTML_SUFFIXES
TABLE_SUFFIXES = {".csv", ".csv.gz", ".tsv", ".jsonl", ".jsonl.gz", ".ndjson", ".parquet"}
WARC_SUFFIXES = {".warc", ".warc.gz"}
TEXT_COLUMNS = ("text", "html", "content", "body", "article")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
WARC_MAX_RUN = 32 * 1024 * 1024  # a WARC file that goes on this long without a line break holds no web records


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
    kind: str  # "file" | "table" | "warc" | "error" (found but not readable: one errors.jsonl line)
    size: int
    mtime_ns: int
    text_column: str | None = None
    id_column: str | None = None
    open_as: str | None = None  # where to open it when the path as given is not valid here (Ray workers)
    error: str | None = None

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
# A directory is walked without following symbolic links out of it: a link to /etc/passwd or to
# another disk is reported (one errors.jsonl line) and skipped unless --follow-symlinks; so are broken
# or looping links, directories that cannot be listed, and anything that is not a regular file (a
# named pipe would block the run forever). None of these stops the run.


def _wanted(name: str) -> bool:
    return not name.startswith(".") and (suffix_of(name) in ARTICLE_SUFFIXES or suffix_of(name) in WARC_SUFFIXES)


def _link_problem(p: Path, base: Path, follow: bool) -> str | None:
    """Why the symbolic link `p` is not read (broken, looping, or leading out of `base`), or None."""
    try:
        target = p.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        why = "a loop" if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP else "broken"
        return f"symbolic link to {os.readlink(p) if p.is_symlink() else '?'}: {why}, not read"
    if not follow and not target.is_relative_to(base):
        return f"symbolic link to {target}, outside {base}: skipped (pass --follow-symlinks to read it)"
    return None


def _walk(root: Path, exclude: Path | None, follow: bool = False) -> list:
    """The article and WARC files under `root`, and (path, why it is not read) for what is skipped."""
    base, out, seen = root.resolve(), [], set()

    def unreadable(exc: OSError) -> None:
        out.append((Path(exc.filename or root), f"could not list the directory ({exc.strerror or exc}): its files are not read"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=follow):
        d = Path(dirpath)
        if follow:  # followed links can lead back up the tree: visit each directory once
            try:
                st = d.stat()
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
        keep = []
        for n in sorted(dirnames):
            p = d / n
            if n.startswith(".") or (exclude is not None and p.resolve() == exclude):
                continue
            if p.is_symlink():
                why = _link_problem(p, base, follow)
                if why or not follow:  # a link inside the tree: its files are reached where they are
                    if why:
                        out.append((p, why))
                    continue
            keep.append(n)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not _wanted(name):
                continue
            p = d / name
            why = _link_problem(p, base, follow) if p.is_symlink() else None
            out.append((p, why) if why else p)
    return out


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = [x for x in parts[: next((i for i, x in enumerate(parts) if any(ch in x for ch in "*?[")), len(parts))]]
    return Path(*fixed).resolve() if fixed else Path.cwd().resolve()


def _expand(inp: str, exclude: Path | None, follow: bool = False) -> list:
    if is_url(inp):
        raise InputError(
            f"{inp}: batch reads files, directories and globs, not URLs",
            hint="score a page with `mythscan score URL`, or fetch the pages first (curl, wget, a crawler's WARC files) and batch the files",
        )
    if any(ch in inp for ch in "*?["):
        matches = sorted(glob.glob(inp, recursive=True))
        if not matches:
            raise InputError(f"{inp}: the pattern matches no files", hint="check the pattern; quote it so the shell leaves it to mythscan")
        out: list = []
        base = _glob_base(inp)
        for m in matches:
            p = Path(m)
            why = _link_problem(p, base, follow) if p.is_symlink() else None
            if why:
                out.append((p, why))
            elif p.is_dir():
                out += _walk(p, exclude, follow)
            elif exclude is None or exclude not in p.resolve().parents:
                out.append(p)
        return out
    p = Path(inp)
    if not p.exists():
        raise InputError(f"{inp}: no such file or directory", hint="check the path")
    if p.is_dir():
        try:
            os.scandir(p).close()
        except OSError as exc:
            raise InputError(f"{inp}: could not list the directory ({exc.strerror or exc})") from None
        files = _walk(p, exclude, follow)
        if not files:
            raise InputError(
                f"{inp}: the directory holds no .txt, .md, .html or .warc(.gz) files", hint="pass tables (.csv/.jsonl/.parquet) by name"
            )
        return files
    check_regular(p, inp)  # named as an input: a pipe or device is an error up front
    return [p]


def _sniff_encoding(path: Path) -> str:
    """utf-8 unless the first MB says otherwise (then the detected code page)."""
    import codecs

    from ..reading import decode_bytes

    with open_binary(path) as fh:
        head = fh.read(1 << 20)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        return decode_bytes(head, str(path))[1]


def table_columns(path: Path) -> list[str] | None:
    """Column names from the header alone; None when the file is empty or unreadable (reported later).
    Reads at most the header row (CSV) or the first 50 lines (JSONL), each bounded."""
    suffix = suffix_of(path)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if suffix in (".csv", ".csv.gz", ".tsv"):
            with csv_text(open_binary(path), _sniff_encoding(path)) as fh:
                header, _ = csv_records(fh, MAX_BYTES, str(path), sep="\t" if suffix == ".tsv" else ",")
            return header if isinstance(header, list) else None
        cols: dict[str, None] = {}
        try:
            with open_binary(path) as fh:
                for k, (_, row) in enumerate(iter_jsonl(fh, MAX_BYTES, str(path))):
                    if k >= 50:
                        break
                    if isinstance(row, dict):
                        cols.update(dict.fromkeys(str(c) for c in row))
        except Exception:  # damage after the first rows is reported when the rows are read
            pass
        return list(cols) or None
    except Exception:
        return None


def discover(
    inputs: list[str],
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    exclude: Path | None = None,
    follow_symlinks: bool = False,
) -> list[Source]:
    """Expand INPUTs into sources; every table's columns are checked here, before any work."""
    if not inputs:
        raise InputError("no inputs given", hint="give files, directories, globs, tables or WARC files")
    exclude = exclude.resolve() if exclude else None
    seen: set[Path] = set()
    sources: list[Source] = []
    for inp in inputs:
        for found in _expand(inp, exclude, follow_symlinks):
            p, why = found if isinstance(found, tuple) else (found, None)
            if why is None:
                try:
                    st = p.stat()
                    if not stat.S_ISREG(st.st_mode):
                        why = "not a regular file (a named pipe, socket or device): not read"
                except OSError as exc:
                    why = f"could not read the file ({exc.strerror or exc})"
            if why is not None:
                if p not in seen:
                    seen.add(p)
                    sources.append(Source(str(p), "error", 0, 0, error=why))
                continue
            rp = p.resolve()
            if rp in seen:
                continue
            seen.add(rp)
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
                            raise InputError(
                                f"{p}: no text column (looked for {', '.join(TEXT_COLUMNS)}); found {cols[:20]}",
                                hint="pass --text-column NAME",
                            )
                    elif tcol not in cols:
                        raise InputError(f"{p}: no column {tcol!r}; found {cols[:20]}", hint="pass --text-column NAME")
                    if icol is not None and icol not in cols:
                        raise InputError(f"{p}: no id column {icol!r}; found {cols[:20]}", hint="pass --id-column NAME or leave it out")
                    if icol is None and "id" in cols and tcol != "id":
                        icol = "id"
                sources.append(Source(str(p), "table", st.st_size, st.st_mtime_ns, tcol or "text", icol))
            elif suffix == ".json":
                raise InputError(
                    f"{p}: JSON arrays are not read; give JSON Lines (.jsonl), one article object per line",
                    hint="convert with: jq -c '.[]' FILE.json > FILE.jsonl",
                )
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
    """(row, fraction of the file read) for each row; a row that cannot be read (too long, malformed)
    is {"__error__": reason}. Every row is bounded by MAX_BYTES; raises on a malformed file."""
    suffix = suffix_of(src.path)
    if suffix == ".parquet":
        yield from _parquet_rows(src)
        return
    with open(src.file, "rb") as raw:
        frac = lambda: raw.tell() / max(src.size, 1)  # noqa: E731
        if suffix in (".csv", ".csv.gz", ".tsv"):
            enc = _sniff_encoding(Path(src.file))
            with csv_text(open_binary(src.file, src.path, raw=raw), enc) as fh:
                header, rows = csv_records(fh, MAX_BYTES, src.path, sep="\t" if suffix == ".tsv" else ",")
                if isinstance(header, str):
                    raise InputError(header)
                for _, row in rows:
                    yield (row if isinstance(row, dict) else {"__error__": row}), frac()
        else:
            for _, row in iter_jsonl(open_binary(src.file, src.path, raw=raw), MAX_BYTES, src.path):
                yield (row if isinstance(row, dict) else {"__error__": row}), frac()


def _parquet_rows(src: Source) -> Iterator[tuple[dict, float]]:
    """Parquet rows in batches small enough that a batch holds ~64 MB, whatever the rows' size; a row
    group whose rows average over MAX_BYTES (one 100 MB cell) is reported, not read."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(src.file)
    meta = pf.metadata
    total, done = max(meta.num_rows, 1), 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        per_row = rg.total_byte_size / max(rg.num_rows, 1)
        if per_row > MAX_BYTES:
            done += rg.num_rows
            yield (
                {
                    "__error__": f"row group {g + 1} ({rg.num_rows} rows): rows average {mb(int(per_row))}, over the "
                    f"{mb(MAX_BYTES)} limit for one row (skipped)"
                },
                done / total,
            )
            continue
        size = max(1, min(512, int(64 * 1024 * 1024 // max(per_row, 1))))
        for batch in pf.iter_batches(batch_size=size, row_groups=[g]):
            for row in batch.to_pylist():
                done += 1
                big = next((k for k, v in row.items() if isinstance(v, (str, bytes)) and len(v) > MAX_BYTES), None)
                yield (
                    (
                        {"__error__": f"row {done}: the {big!r} value is over the {mb(MAX_BYTES)} limit for one row"}
                        if big is not None
                        else row
                    ),
                    done / total,
                )


def _reason(exc: Exception) -> str:
    if isinstance(exc, InputError):  # ours: already says what and where
        return str(exc)
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
                item.meta = {
                    str(k): v
                    for k, v in ((k, _meta_value(v)) for k, v in row.items() if k not in (src.text_column, src.id_column))
                    if v is not None
                }
                item.url = item.meta.get("url")
            n += 1
            yield item
    except Exception as exc:  # truncated gzip, malformed CSV/Parquet: report, keep what was read
        yield RawItem(fi, n, f"{src.path}#{n + 1}", src.path, pos=base + src.size, error=f"could not read past row {n}: {_reason(exc)}")


def _iter_warc(src: Source, fi: int, base: int, skip: int) -> Iterator[RawItem]:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    try:
        # warcio is given the inflated stream, so that the gzip bomb guard applies, and it stops after
        # 32 MB without a line break: warcio reads junk between records as one line, in memory, in
        # quadratic time (1 GB took 4 GB and 80 s); 1 MB blocks keep that to a few dozen appends
        with open(src.file, "rb") as fh, open_binary(src.file, src.path, raw=fh, max_run=WARC_MAX_RUN, buffered=False) as stream:
            it = ArchiveIterator(stream, block_size=1 << 20)
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
                item.meta = {
                    k: v for k, v in (("url", url), ("warc_date", rec.rec_headers.get_header("WARC-Date")), ("outlet", outlet_of(url))) if v
                }
                if rec.rec_type == "response" and rec.http_headers is not None:
                    status = rec.http_headers.get_statuscode()
                    ctype = rec.http_headers.get_header("Content-Type") or ""
                    for key, header in (("http_last_modified", "Last-Modified"), ("http_date", "Date")):
                        if rec.http_headers.get_header(header):
                            item.meta[key] = rec.http_headers.get_header(header)[:100]
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
    except Exception as exc:  # truncated gzip, not a WARC: report, keep the records read so far
        yield RawItem(
            fi,
            n,
            f"{src.path}#{n + 1}",
            src.path,
            pos=base + src.size,
            error=f"truncated or corrupt WARC after {n} record(s): {_reason(exc)}",
        )


def iter_source(src: Source, fi: int, base: int = 0, skip: int = 0) -> Iterator[RawItem]:
    """The items of one source (file index `fi`), skipping the first `skip`; `base`: bytes before it."""
    if src.kind == "error":
        if skip == 0:
            yield RawItem(fi, 0, src.path, src.path, error=src.error, pos=base)
    elif src.size == 0:
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
