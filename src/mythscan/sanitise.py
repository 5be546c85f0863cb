"""Outputs that are safe to open: links in HTML reports and cells of CSV files for spreadsheets.

The text mythscan reports comes from the articles it reads, so it is the article author's (or a
crawler's) text, not mythscan's: a `javascript:` URL in a table or a WARC record must not become a
live link in report.html, and a cell starting with `=` must not become a spreadsheet formula.
"""

from __future__ import annotations

import html
import re

SAFE_SCHEMES = ("http", "https")
# OWASP "CSV injection": a cell starting with =, +, -, @, tab or carriage return is read as a
# formula by spreadsheets
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_RISKY = re.compile(r"'*[=+\-@\t\r]")  # also text that already starts with quotes before one: the guard stays reversible
_GUARDED = re.compile(r"'+[=+\-@\t\r]")


def safe_url(url) -> str | None:
    """``url`` when it is an absolute http(s) URL that a browser reads as written, else None.

    Browsers drop leading spaces and control characters and ignore tabs and newlines inside a URL
    (`java\\tscript:` is `javascript:`), so any of those, or any other scheme, makes it unsafe."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    scheme, sep, rest = url.partition(":")
    return url if sep and scheme.lower() in SAFE_SCHEMES and rest.startswith("//") and len(rest) > 2 else None


def link(url, text: str) -> str:
    """``<a href>`` for a safe URL; otherwise the escaped text (and the URL as plain text, not a link)."""
    ok = safe_url(url)
    if ok:
        return f'<a href="{html.escape(ok, quote=True)}" rel="noopener noreferrer">{html.escape(text)}</a>'
    return html.escape(text) if not url or url == text else f"{html.escape(text)} ({html.escape(str(url))})"


def csv_cell(value):
    """A string cell that a spreadsheet would run as a formula, prefixed with a single quote (OWASP's
    advice); other values, and strings that are plain numbers (``-3.5``), are returned unchanged.
    A string that already starts with quotes before a formula character gets one more, so that
    `unguard_csv_cell` restores every string exactly."""
    if isinstance(value, str) and _RISKY.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unguard_csv_cell(value):
    """The inverse of `csv_cell`, for CSV files mythscan wrote and reads back (`labels suggest` ->
    `labels add`): one leading quote before quotes and a formula character is dropped."""
    return value[1:] if isinstance(value, str) and _GUARDED.match(value) else value


def csv_frame(df):
    """A copy of a pandas DataFrame with every string cell passed through `csv_cell` (numbers stay numbers)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or str(out[c].dtype) in ("string", "str"):
            out[c] = out[c].map(csv_cell)
    return out


def csv_arrow(table):
    """The same for a pyarrow Table: string columns get the quote prefix; other types are unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.and_(
                pc.match_substring_regex(col, "^" + _RISKY.pattern), pc.invert(pc.match_substring_regex(col, "^(" + _NUMBER.pattern + ")$"))
            )
            col = pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=table.schema)
