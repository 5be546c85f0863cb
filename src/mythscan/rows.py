"""Bounded reading of line- and row-based inputs: text lines, JSON Lines, CSV/TSV, each optionally gzip.

A hostile or careless file must cost bounded memory and time: one 200 MB JSON line, a CSV field of
100 MB, or a 10 MB `.jsonl.gz` that inflates to 10 GB without a newline once took 8 GB and a minute
before the kernel killed the run. So nothing here reads a line, field or row without a limit:
lines are read with `readline(limit)`, an over-long row is skipped to its end in 1 MB pieces and
reported (the caller turns it into one errors.jsonl line, or one error), and gzip input that
inflates far more than text ever does (a "bomb") is stopped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import stat
from pathlib import Path
from typing import Iterator

from .errors import InputError

GZIP_MAX_RATIO = 200  # text and HTML inflate 3-20 fold; all zeros inflate 1,000 fold
GZIP_RATIO_AFTER = 64 * 1024 * 1024  # ... so the ratio is checked once 64 MB have been inflated
_PIECE = 1 << 20


def mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:,.0f} KB"


def check_regular(path: str | Path, where: str | None = None) -> None:
    """Refuse named pipes, devices and sockets before opening them: opening a FIFO blocks forever."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{where or path}: no such file", hint="check the path") from None
    except OSError as exc:
        raise InputError(f"{where or path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{where or path}: is a directory")
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise InputError(f"{where or path}: is {kind}, not a regular file", hint="save the data to a file first, or pipe it to `-` (stdin)")


class _Inflate(io.RawIOBase):
    """A gzip stream that stops once it has inflated GZIP_MAX_RATIO times the compressed bytes read."""

    def __init__(self, raw, where: str):
        self.raw, self.where, self.out = raw, where, 0
        self.gz = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self.gz.read1(len(b))  # one member's worth at most: what was inflated before damage is kept
        except EOFError:  # a truncated member; not EOFError, which readers (warcio) take for a clean end
            raise InputError(f"{self.where}: the gzip data is cut short (truncated file)") from None
        n = len(data)
        b[:n] = data
        self.out += n
        if self.out > GZIP_RATIO_AFTER and self.out > GZIP_MAX_RATIO * max(self.raw.tell(), 1):
            raise InputError(
                f"{self.where}: inflates more than {GZIP_MAX_RATIO}-fold ({mb(self.raw.tell())} to over {mb(self.out)}): "
                "not text, the rest is not read",
                hint="a gzip bomb? check how the file was made",
            )
        return n

    def close(self) -> None:
        self.gz.close()
        super().close()


class _RunGuard(io.RawIOBase):
    """Stops a stream once it goes on for `limit` bytes without a line break. For readers that read
    whole lines themselves (warcio between WARC records: 1 GB of junk there took 4 GB and 80 s)."""

    def __init__(self, inner, limit: int, where: str):
        self.inner, self.limit, self.where, self.run = inner, limit, where, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.inner.readinto(b)
        if n:
            data = bytes(memoryview(b)[:n])
            i = data.rfind(b"\n")
            self.run = self.run + n if i < 0 else n - 1 - i
            if self.run > self.limit:
                raise InputError(f"{self.where}: {mb(self.run)} without a line break: not text or web records, the rest is not read")
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_binary(path: str | Path, where: str | None = None, *, raw=None, max_run: int | None = None, buffered: bool = True):
    """A binary stream of the file, inflated (with the bomb guard) when its name ends in .gz; with
    `max_run`, it also stops after that many bytes without a line break. Unbuffered, each read
    returns what one underlying read gave, so data read before a truncated gzip member is kept."""
    where = where or str(path)
    if raw is None:
        check_regular(path, where)
        raw = open(path, "rb")
    stream = _Inflate(raw, where) if str(path).lower().endswith(".gz") else raw
    if max_run:
        stream = _RunGuard(stream, max_run, where)
    return io.BufferedReader(stream, buffer_size=_PIECE) if buffered and stream is not raw else stream


def _skip_rest(fh, first, ended) -> None:
    """Read and drop the rest of an over-long line/record, up to its end (`ended(piece)`), 1 MB at a
    time: memory stays flat, and time is that of reading the file (gzip bombs are stopped by _Inflate)."""
    piece = first
    while not ended(piece):
        piece = fh.readline(_PIECE)
        if not piece:
            return


def iter_lines(fh, limit: int, where: str) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line of a binary stream; None for a line longer than `limit`
    bytes, which is skipped."""
    lineno = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            _skip_rest(fh, line, lambda p: p.endswith(b"\n"))
            yield lineno, None
        else:
            yield lineno, line


def parse_json_line(line: bytes, lineno: int) -> dict | str:
    """The object on one JSONL line, or the reason it is not one."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested beyond Python's stack
        return f"line {lineno}: not valid JSON ({str(exc)[:120] or type(exc).__name__})"
    return row if isinstance(row, dict) else f"line {lineno}: not a JSON object"


def iter_jsonl(fh, limit: int, where: str) -> Iterator[tuple[int, dict | str]]:
    """(line number, object or error reason) for each non-blank line."""
    for lineno, line in iter_lines(fh, limit, where):
        if line is None:
            yield lineno, f"line {lineno}: longer than the {mb(limit)} limit for one row (skipped)"
        elif line.strip():
            yield lineno, parse_json_line(line, lineno)


class _TooLong(Exception):
    pass


class _CsvLines:
    """Physical lines for csv.reader, each read with a limit; raises _TooLong once the record being
    read passes `limit` characters, after skipping it to its end (a line end outside quotes)."""

    def __init__(self, fh, limit: int, where: str, quotechar: str = '"'):
        self.fh, self.limit, self.where, self.q = fh, limit, where, quotechar
        self.used = self.quotes = 0
        self.line, self.eof = 0, False

    def __iter__(self):
        return self

    def reset(self) -> None:
        self.used = self.quotes = 0

    def __next__(self) -> str:
        line = self.fh.readline(self.limit - self.used + 1)
        if not line:
            self.eof = True
            raise StopIteration
        self.line += 1
        self.used += len(line)
        self.quotes += line.count(self.q)
        if self.used > self.limit:

            def ended(piece):
                if piece is not line:
                    self.quotes += piece.count(self.q)
                return piece[-1:] in ("\n", "\r") and self.quotes % 2 == 0

            _skip_rest(self.fh, line, ended)
            self.reset()
            raise _TooLong()
        return line


def iter_csv(fh, limit: int, where: str, *, sep: str = ",") -> Iterator[tuple[int, list[str] | str]]:
    """(first line number, fields or error reason) for each non-blank record of a text stream
    (opened with newline=""). The csv module's own field limit is raised to `limit` (a process-wide
    setting), since the records themselves are bounded here."""
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    lines = _CsvLines(fh, limit, where)
    reader = csv.reader(lines, delimiter=sep)
    while True:
        start = lines.line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _TooLong:
            yield start, f"longer than the {mb(limit)} limit for one row (skipped)"
            continue
        except csv.Error as exc:
            lines.reset()
            yield start, f"malformed CSV ({exc})"
            continue
        if lines.eof and lines.quotes % 2:  # the csv module (not strict) ends an unclosed quote at the end of the file
            yield start, "a quoted field is not closed before the end of the file"
            return
        lines.reset()
        if fields and fields != [""]:
            yield start, fields


def csv_text(fh, encoding: str, errors: str = "replace"):
    return io.TextIOWrapper(fh, encoding=encoding, errors=errors, newline="")


def csv_records(fh, limit: int, where: str, *, sep: str = ",") -> tuple[list[str] | str, Iterator[tuple[int, dict | str]]]:
    """The header (or why there is none) and an iterator of (row number, row dict or error reason)
    for the data rows, numbered from 1."""
    it = iter_csv(fh, limit, where, sep=sep)
    first = next(it, None)
    if first is None:
        return "no header row", iter(())
    if isinstance(first[1], str):
        return f"header row: {first[1]}", iter(())
    header = [h.lstrip("\ufeff").strip() if i == 0 else h.strip() for i, h in enumerate(first[1])]

    def rows():
        for k, (line, fields) in enumerate(it, 1):
            if isinstance(fields, str):
                yield k, f"row {k} (line {line}): {fields}"
            elif len(fields) > len(header):
                yield k, f"row {k} (line {line}): {len(fields)} fields, the header has {len(header)}"
            else:
                yield k, dict(zip(header, fields))

    return header, rows()
