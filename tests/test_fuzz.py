"""Fuzzing every reader with random bytes and damaged valid files (seeded, so every run tries the
same cases): only MythscanError subclasses (clear messages) or clean results may come out, never
another exception; and the CLI answers with one clear line and exit 1, never a traceback."""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, run_cli

from mythscan.errors import MythscanError

TEXT = (
    "China's social credit system is mostly a set of blacklists for companies that ignore court orders.\n\n"
    "There is no single national score for every citizen. Sesame Credit is a private loyalty scheme."
)
PAGE = (
    f'<!doctype html><html><head><title>Credit lists</title><meta name="date" content="2020-01-02"></head>'
    f"<body><article><h1>Credit lists</h1><p>{TEXT}</p><p>{TEXT}</p></article></body></html>"
)


def _warc(gz: bool) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    for i in range(3):
        h = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Last-Modified", "Tue, 05 Jan 2021 10:00:00 GMT")],
            protocol="HTTP/1.1",
        )
        w.write_record(
            w.create_warc_record(
                f"https://n.example/{i}",
                "response",
                payload=io.BytesIO(PAGE.encode()),
                http_headers=h,
                warc_headers_dict={"WARC-Date": "2026-01-05T10:00:00Z"},
            )
        )
    return buf.getvalue()


def valid_files() -> dict[str, bytes]:
    """One small valid file of every kind the readers take."""
    rows = pd.DataFrame({"id": ["a", "b", "c"], "date": ["2019-01-02", "2020-03-04", ""], "text": [TEXT, PAGE, "Short text here."]})
    parquet = io.BytesIO()
    rows.to_parquet(parquet)
    csv_bytes = rows.to_csv(index=False).encode()
    jsonl = rows.to_json(orient="records", lines=True).encode()
    return {
        "a.txt": TEXT.encode(),
        "a.html": PAGE.encode(),
        "t.csv": csv_bytes,
        "t.csv.gz": gzip.compress(csv_bytes),
        "t.jsonl": jsonl,
        "t.jsonl.gz": gzip.compress(jsonl),
        "t.parquet": parquet.getvalue(),
        "w.warc": _warc(False),
        "w.warc.gz": _warc(True),
        "labels.csv": (DATA / "labels_ok.csv").read_bytes(),
        "labels.jsonl": b"".join(
            json.dumps(r).encode() + b"\n" for r in pd.read_csv(DATA / "labels_ok.csv", dtype=str, keep_default_na=False).to_dict("records")
        ),
        "labels.json": json.dumps(
            [
                {
                    "data": {"text": TEXT.split("\n")[0]},
                    "annotations": [
                        {
                            "result": [
                                {"from_name": "label", "value": {"choices": ["accurate"]}},
                                {"from_name": "category", "value": {"choices": ["A-blacklists"]}},
                            ]
                        }
                    ],
                }
            ]
        ).encode(),
    }


def mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Truncations, flipped bytes, inserted junk, random bytes; plus the edge cases every parser should survive."""
    out = [
        b"",
        b"\n",
        b"\x00" * 64,
        b"\xff\xfe" + b"\x00" * 10,
        data[:1],
        data[: len(data) // 2],
        data + b"\x00junk",
        b'"' * 100,
        b"[" * 5000,
        b'{"text": ' + b"[" * 5000 + b"\n",
        b"\x1f\x8b\x08" + bytes(20),
    ]
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(data[: rng.randrange(1, max(2, len(data)))])
        elif kind == 1:
            b = bytearray(data)
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            out.append(bytes(b))
        elif kind == 2:
            i = rng.randrange(len(data))
            out.append(data[:i] + rng.randbytes(rng.randrange(1, 200)) + data[i:])
        else:
            out.append(rng.randbytes(rng.randrange(1, 3000)))
    return out


def readers(path: Path, name: str):
    """(what, callable) for every reader that takes this kind of file."""
    from mythscan.batch.inputs import discover, iter_items
    from mythscan.batch.pipeline import analyse
    from mythscan.batch.prefilter import Prefilter
    from mythscan.data import read_rows
    from mythscan.reading import document_from_bytes, read_file, read_sentences, read_table

    pf = Prefilter(True)

    def batch():
        sources = discover([str(path)], text_column="text" if name.startswith("t.") else None)
        return [analyse(item, pf) for item in iter_items(sources)]

    out = []
    if name.endswith((".txt", ".html")):
        out += [
            ("read_file", lambda: read_file(path)),
            ("document_from_bytes", lambda: document_from_bytes(path.read_bytes(), name)),
            ("batch", batch),
        ]
    if name.endswith(".txt"):
        out.append(("read_sentences", lambda: read_sentences(str(path))))
    if name.startswith("t."):
        out += [("read_table", lambda: read_table(path)), ("batch", batch)]
        if not name.endswith(".gz"):
            out.append(("read_sentences", lambda: read_sentences(str(path))))
    if name.startswith("w."):
        out.append(("batch", batch))
    if name.startswith("labels."):
        from mythscan.labelling import read_batch

        out.append(("read_batch", lambda: read_batch(path)))
        if not name.endswith(".json"):
            out.append(("read_rows", lambda: read_rows(path)))
    return out


def test_readers_raise_only_mythscan_errors(tmp_path):
    rng = random.Random(18)
    tried, errors = 0, 0
    for name, data in valid_files().items():
        for k, blob in enumerate([data, *mutations(data, rng, 14)]):
            path = tmp_path / f"{k}-{name}"
            path.write_bytes(blob)
            for what, call in readers(path, name):
                tried += 1
                try:
                    result = call()
                except MythscanError:
                    errors += 1
                except Exception as exc:  # noqa: BLE001 - the point of the test
                    pytest.fail(f"{what}({name}, case {k}, {len(blob)} bytes: {blob[:60]!r}) raised {type(exc).__name__}: {exc}")
                else:
                    if what == "batch":  # clean results: every record is an article, an error or a skip, with a reason
                        assert all(
                            r["status"] in ("article", "error", "skip") and (r["status"] == "article" or r["reason"]) for r in result
                        )
            path.unlink()
    assert tried > 500 and 0 < errors < tried


CLI_CASES = [  # (file name, bytes, command)
    ("page.html", PAGE.encode()[:60], ["score"]),
    ("junk.txt", random.Random(1).randbytes(2000), ["score"]),
    ("rows.jsonl", b'{"text": "ok sentence here"}\n{"text": ' + b"[" * 100_000 + b"\n", ["classify"]),
    ("rows.csv", b'text\n"unclosed quote ' + b"x" * 200 + b"\n", ["classify"]),
    ("labels.csv", b"id,text,label\n1,\x00\x01\x02,myth\n" + b"\xff" * 50, ["labels", "validate"]),
]


@pytest.mark.parametrize("name,blob,command", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_answers_damaged_files_with_one_clear_line(project_home, tmp_path, name, blob, command):
    path = tmp_path / name
    path.write_bytes(blob)
    r = run_cli(*command, str(path), home=project_home, timeout=60)
    err = r.stderr.decode()
    assert "Traceback" not in err and "unexpected" not in err, err
    if command == ["labels", "validate"]:
        assert r.returncode == 1 and r.stdout.decode().startswith(f"{path}:")  # file:line: message, one per problem
        return
    lines = [x for x in err.strip().splitlines() if not x.startswith("mythscan: warning")]
    assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith("mythscan: error: "), (r.returncode, err)
