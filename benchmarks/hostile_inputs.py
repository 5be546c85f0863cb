"""Hostile and careless inputs (issue 18): generate each one in a temporary directory, run the
`mythscan` command on it as a user would, and print a Markdown table of the outcome, the peak
memory (maximum resident set size of the mythscan process, from os.wait4; the same figure as
`/usr/bin/time -v`) and the wall time.

    python benchmarks/hostile_inputs.py                 # every case, the default model
    python benchmarks/hostile_inputs.py --only batch    # the cases whose name contains "batch"
    python benchmarks/hostile_inputs.py --model tfidf

A watchdog kills a run whose resident memory passes --kill-mb (default 3000), so a regression
cannot take the machine down; the table then says so. Inputs take ~600 MB of disk at most.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

GOOD = (
    "China's social credit system is mostly a set of blacklists for companies that ignore court orders. "
    "There is no single national score for every citizen."
)
MB = 1 << 20


def zeros_gz(n_mb: int) -> bytes:
    """A gzip member of n_mb MB of zeros (~1 KB per MB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MB
    return b"".join([c.compress(block) for _ in range(n_mb)] + [c.flush()])


def write_repeated(path: Path, head: bytes, byte: bytes, n_mb: int, tail: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        block = byte * MB
        for _ in range(n_mb):
            fh.write(block)
        fh.write(tail)


def row(i, text) -> bytes:
    return (json.dumps({"id": i, "text": text}) + "\n").encode()


def warc(records: list[tuple[str, bytes]]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, payload in records:
        h = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=h, warc_headers_dict={"WARC-Date": "2026-01-05T10:00:00Z"}
            )
        )
    return buf.getvalue()


# --- a local web server for the URL cases ---------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/drip":  # one byte a second, for ten minutes
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif self.path == "/gzip-bomb":  # 1 MB on the wire, 1 GB inflated
            body = self.server.bomb
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/to-ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/etc/passwd")
            self.end_headers()
        elif self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            body = f"<html><head><title>Credit</title></head><body><article><p>{GOOD}</p></article></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)


def start_server() -> str:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.bomb = zeros_gz(1024)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


# --- the cases ------------------------------------------------------------------------------------
# (name, what it is, setup(dir, url) -> CLI arguments)


def case_score_text(d, url):
    p = d / "big.txt"
    p.write_text((GOOD + " ") * (9_500_000 // (len(GOOD) + 1)))
    return ["score", str(p), "--format", "json", "--out", str(d / "out.json")]


def case_score_line(d, url):
    p = d / "line.txt"
    words = GOOD.replace(".", "").replace(";", "") + " "
    p.write_text(words * (9_500_000 // len(words)))
    return ["score", str(p), "--format", "json", "--out", str(d / "out.json")]


def case_score_html(d, url):
    p = d / "big.html"
    paras = "".join(f"<p>Paragraph {i}: {GOOD}</p>\n" for i in range(9_400_000 // (len(GOOD) + 30)))  # distinct: trafilatura drops repeats
    p.write_text("<html><head><title>Big</title></head><body><article>" + paras + "</article></body></html>")
    return ["score", str(p), "--format", "json", "--out", str(d / "out.json")]


def case_score_nested_html(d, url):
    p = d / "nested.html"
    p.write_text("<html><body>" + "<div>" * 800_000 + f"<p>{GOOD}</p>" + "</div>" * 800_000 + "</body></html>")
    return ["score", str(p), "--format", "json", "--out", str(d / "out.json")]


def case_score_fifo(d, url):
    os.mkfifo(d / "fifo.txt")
    return ["score", str(d / "fifo.txt")]


def case_url_drip(d, url):
    return ["score", f"{url}/drip", "--allow-private"]


def case_url_loopback(d, url):
    return ["score", f"{url}/article"]


def case_url_ftp(d, url):
    return ["score", f"{url}/to-ftp", "--allow-private"]


def case_url_loop(d, url):
    return ["score", f"{url}/loop", "--allow-private"]


def case_url_gzip(d, url):
    return ["score", f"{url}/gzip-bomb", "--allow-private"]


def long_line_file(d) -> Path:
    p = d / "sentences.txt"
    write_repeated(p, (GOOD + "\n").encode(), b"x", 100, b"\nA last, normal sentence about credit.\n")
    return p


def case_classify_line(d, url):
    return ["classify", str(long_line_file(d))]


def case_suggest_line(d, url):
    return ["labels", "suggest", str(long_line_file(d)), "--out", str(d / "to_label.csv")]


def case_labels_field(d, url):
    p = d / "labels.csv"
    write_repeated(p, b'id,text,label,category\n1,"', b"y", 40, b'",myth,M-single-score\n')
    return ["labels", "validate", str(p)]


def batch_out(d):
    return ["--out", str(d / "run"), "--no-progress"]


def case_batch_gz10g(d, url):
    member = zeros_gz(1024)  # 1 GB of zeros, no newline; ten members: 10 GB from a 10 MB file
    (d / "bomb.jsonl.gz").write_bytes(gzip.compress(row("ok", GOOD)) + gzip.compress(b'{"id": "bomb", "text": "') + member * 10)
    return ["batch", str(d / "bomb.jsonl.gz"), *batch_out(d)]


def case_batch_line200(d, url):
    write_repeated(d / "long.jsonl", row("before", GOOD) + b'{"id": "big", "text": "', b"a", 200, b'"}\n' + row("after", GOOD + " Later."))
    return ["batch", str(d / "long.jsonl"), *batch_out(d)]


def case_batch_csv100(d, url):
    write_repeated(d / "field.csv", f'id,text\nbefore,"{GOOD}"\nbig,"'.encode(), b"b", 100, f'"\nafter,"{GOOD} Later."\n'.encode())
    return ["batch", str(d / "field.csv"), *batch_out(d)]


def case_batch_row20(d, url):
    write_repeated(d / "row20.jsonl", b'{"id": "big", "text": "', b"credit ", 3, b'"}\n' + row("after", GOOD))
    return ["batch", str(d / "row20.jsonl"), *batch_out(d)]


def case_batch_row95(d, url):
    text = (GOOD + " ") * (9_500_000 // (len(GOOD) + 1))
    (d / "row95.jsonl").write_bytes(row("big", text))
    return ["batch", str(d / "row95.jsonl"), *batch_out(d)]


def case_batch_parquet(d, url):
    import pandas as pd

    pd.DataFrame({"id": ["before", "big", "after"], "text": [GOOD, "p" * (100 * MB), GOOD + " Later."]}).to_parquet(
        d / "cell.parquet", row_group_size=1
    )
    return ["batch", str(d / "cell.parquet"), *batch_out(d)]


def case_batch_warc(d, url):
    page = f"<html><head><title>Credit</title></head><body><article><p>{GOOD}</p></article></body></html>".encode()
    (d / "bomb.warc.gz").write_bytes(warc([("https://n.example/1", page)]) + zeros_gz(1024) * 10)
    return ["batch", str(d / "bomb.warc.gz"), *batch_out(d)]


def case_batch_links(d, url):
    tree = d / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text(GOOD)
    (tree / "dangling.txt").symlink_to(d / "gone.txt")
    (tree / "loop.txt").symlink_to(tree / "loop.txt")
    (tree / "passwd.txt").symlink_to("/etc/passwd")
    (tree / "up").symlink_to(tree)
    os.mkfifo(tree / "pipe.txt")
    return ["batch", str(tree), *batch_out(d)]


def case_batch_url(d, url):
    return ["batch", "http://example.com/news", *batch_out(d)]


CASES = [
    ("score 9.5 MB text", "`score` on a 9.5 MB text file (~120,000 sentences; the cap is 10 MB)", case_score_text),
    ("score 9.5 MB line", "`score` on 9.5 MB of words without a stop or a line break", case_score_line),
    ("score 9.5 MB HTML", "`score` on a 9.5 MB HTML page (~70,000 distinct paragraphs)", case_score_html),
    ("score nested HTML", "`score` on 800,000 nested `<div>`s (8.8 MB)", case_score_nested_html),
    ("score named pipe", "`score fifo.txt` (a named pipe)", case_score_fifo),
    ("score URL drip", "`score URL`: the server sends one byte a second", case_url_drip),
    ("score URL loopback", "`score http://127.0.0.1/...` without `--allow-private`", case_url_loopback),
    ("score URL ftp redirect", "`score URL` redirected to `ftp://`", case_url_ftp),
    ("score URL redirect loop", "`score URL` redirected to itself", case_url_loop),
    ("score URL gzip bomb", "`score URL`: 1 MB gzip-encoded body inflating to 1 GB", case_url_gzip),
    ("classify 100 MB line", "`classify` on a text file with a 100 MB line", case_classify_line),
    ("suggest 100 MB line", "`labels suggest` on the same file", case_suggest_line),
    ("labels 40 MB field", "`labels validate` on a label CSV with a 40 MB field (the file cap is 50 MB)", case_labels_field),
    ("batch gzip 10 GB", "`batch` on a 10 MB `.jsonl.gz` inflating to 10 GB without a newline", case_batch_gz10g),
    ("batch 200 MB line", "`batch` on a JSONL with one 200 MB line between good rows", case_batch_line200),
    ("batch CSV 100 MB field", "`batch` on a CSV with a 100 MB field between good rows", case_batch_csv100),
    ("batch 21 MB row", "`batch` on a JSONL with one 21 MB row (over the 10 MB cap)", case_batch_row20),
    ("batch 9.5 MB row", "`batch` on a JSONL with one 9.5 MB row (~120,000 sentences)", case_batch_row95),
    ("batch Parquet 100 MB cell", "`batch` on a Parquet file with a 100 MB cell", case_batch_parquet),
    ("batch WARC gzip 10 GB", "`batch` on a `.warc.gz`: a page, then 10 GB of zeros from 10 MB", case_batch_warc),
    ("batch links and pipe", "`batch DIR`: broken, looping and `/etc/passwd` links, a directory loop, a named pipe", case_batch_links),
    ("batch URL", "`batch http://...`", case_batch_url),
]


# The peak RSS of a child started from this process would include this process's own peak (Linux
# carries the old memory's high-water mark into ru_maxrss at exec), so the command runs under a
# small Python helper that starts it and reports its ru_maxrss: the figure `/usr/bin/time -v` gives.
_HELPER = """import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, from /proc."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(next(x for x in open(f"/proc/{p}/status") if x.startswith("VmRSS")).split()[1]) / 1024
            todo += [int(c) for c in open(f"/proc/{p}/task/{p}/children").read().split()]
        except (OSError, StopIteration, ValueError):
            pass
    return total


def run_measured(
    args: list[str], *, cwd: Path | None = None, timeout: float = 300, kill_mb: float = 3000, env: dict | None = None, preexec_fn=None
) -> dict:
    """Run `mythscan ARGS` as a user would: rc, stdout, stderr, peak RSS (MB) of the mythscan
    process, wall seconds, and `killed` when the watchdog stopped it (over kill_mb, or timeout)."""
    exe = shutil.which("mythscan")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "mythscan.cli", *args]
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "maxrss"
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            t = time.monotonic()
            p = subprocess.Popen(
                [sys.executable, "-c", _HELPER, str(peak), *cmd],
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=env,
                preexec_fn=preexec_fn,
                start_new_session=True,
            )
            killed: list[str] = []

            def watch():
                while p.poll() is None:
                    rss = _tree_rss_mb(p.pid)
                    if rss > kill_mb or time.monotonic() - t > timeout:
                        killed.append(f"killed at {rss:,.0f} MB" if rss > kill_mb else f"killed after {timeout:.0f} s")
                        os.killpg(p.pid, 9)
                        return
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            p.wait()
            watcher.join()
            seconds = time.monotonic() - t
            out.seek(0)
            err.seek(0)
            rss = int(peak.read_text()) / 1024 if peak.exists() else float("nan")
            return {
                "rc": p.returncode,
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"),
                "rss_mb": rss,
                "seconds": seconds,
                "killed": killed[0] if killed else None,
            }


def outcome(r: dict, d: Path) -> str:
    if r["killed"]:
        return r["killed"]
    errors = [line for line in r["stderr"].splitlines() if line.startswith("mythscan: error:")]
    warnings = [line.removeprefix("mythscan: warning: ") for line in r["stderr"].splitlines() if line.startswith("mythscan: warning:")]
    if errors:
        return f"exit {r['rc']}: {errors[0].removeprefix('mythscan: error: ')}"
    if "Traceback" in r["stderr"]:
        return f"exit {r['rc']}: TRACEBACK"
    text = f"exit {r['rc']}"
    if r["rc"] and r["stdout"].strip():  # labels validate: file:line: message on stdout
        text += ": " + r["stdout"].strip().splitlines()[0]
    if (d / "run" / "summary.json").exists():
        t = json.loads((d / "run" / "summary.json").read_text())["totals"]
        reasons = [json.loads(x)["reason"] for x in (d / "run" / "errors.jsonl").read_text().splitlines()]
        text += f"; {t['articles']} article(s) scored, {len(reasons)} errors.jsonl line(s)"
        if reasons:
            text += ": " + " / ".join(sorted({x for x in reasons}))
        arts = d / "run" / "articles.parquet"
        if arts.exists():
            import pandas as pd

            w = [x for x in pd.read_parquet(arts, columns=["warnings"]).warnings.dropna() if "sentences" in x]
            if w:
                text += f"; warning: {w[0]}"
    elif (d / "out.json").exists():
        art = json.loads((d / "out.json").read_text())
        text += f"; {art['summary']['sentences']:,} sentences scored, longest {max((len(s['text']) for s in art['sentences']), default=0):,} characters"
    if warnings:
        text += "; warning: " + warnings[0]
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", help="run the cases whose name contains this (repeatable)")
    ap.add_argument("--model", help="model name (default: the default model)")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--kill-mb", type=float, default=3000)
    ap.add_argument("--json", type=Path, help="also write the measurements to this JSON file")
    args = ap.parse_args()
    url = start_server()
    env = dict(os.environ)
    rows = []
    for name, what, setup in CASES:
        if args.only and not any(o in name for o in args.only):
            continue
        with tempfile.TemporaryDirectory(prefix="mythscan-hostile-") as tmp:
            d = Path(tmp)
            cli = setup(d, url)
            if args.model and cli[0] in ("score", "classify", "batch") or args.model and cli[:2] == ["labels", "suggest"]:
                cli += ["--model", args.model]
            r = run_measured(cli, cwd=d, timeout=args.timeout, kill_mb=args.kill_mb, env=env)
            if r["rc"] == 0 and "Traceback" in r["stderr"] or r["rc"] not in (0, 1):
                print(r["stderr"][-3000:], file=sys.stderr)
            r.update(name=name, what=what, outcome=outcome(r, d).replace(str(d), "DIR").replace(url, "http://127.0.0.1:PORT"))
            rows.append(r)
            print(f"{name}: {r['outcome'][:160]} ({r['rss_mb']:,.0f} MB, {r['seconds']:.1f} s)", file=sys.stderr, flush=True)
    print("| input | outcome | peak RSS | time |\n|---|---|---:|---:|")
    for r in rows:
        cell = r["outcome"].replace("|", "\\|")
        print(f"| {r['what']} | {cell} | {r['rss_mb']:,.0f} MB | {r['seconds']:.1f} s |")
    if args.json:
        args.json.write_text(
            json.dumps([{k: r[k] for k in ("name", "what", "rc", "rss_mb", "seconds", "outcome")} for r in rows], indent=1)
        )


if __name__ == "__main__":
    main()
