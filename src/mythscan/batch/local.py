"""The local engine of `mythscan batch`: parts in input order, extraction and classification in
worker processes (`--workers`), copies of earlier articles dropped before they are classified."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Iterator

from .inputs import RawItem, Source, iter_items
from .pipeline import (
    CRASH_ENV,
    BatchOptions,
    PartStore,
    SeenHashes,
    analyse,
    classify_records,
    commit_part,
    limit_threads,
    mark_duplicates,
    part_rows,
    raw_key,
)
from .prefilter import Prefilter

_WORKER: dict = {}


def _exit_with_parent(parent: int) -> None:
    """Worker processes end when the main process dies (even by SIGKILL), instead of idling forever."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(
    model: str | None,
    threshold: float | None,
    prefilter: bool,
    all_sentences: bool,
    home: str | None,
    parent: int | None = None,
    threads: int = 1,
) -> None:
    if parent:
        _exit_with_parent(parent)
    limit_threads(threads)
    if home:
        os.environ["MYTHSCAN_HOME"] = home
    from ..scoring import Scorer

    _WORKER.update(scorer=Scorer(model, threshold=threshold), pf=Prefilter(prefilter), all_sentences=all_sentences)


def _extract_work(items: list[RawItem]) -> list[dict]:
    return [analyse(it, _WORKER["pf"]) for it in items]


def _classify_work(records: list[dict]) -> list[dict]:
    return classify_records(records, _WORKER["scorer"], _WORKER["all_sentences"])


def _chunks(stream: Iterator[RawItem], size: int) -> Iterator[list[RawItem]]:
    buf: list[RawItem] = []
    for item in stream:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _done(value) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


def _maybe_crash(written: int) -> None:
    n = os.environ.get(CRASH_ENV)
    if n and n.isdigit() and written >= int(n):
        os.kill(os.getpid(), signal.SIGKILL)


def run_local(opts: BatchOptions, sources: list[Source], manifest: dict) -> None:
    """Parts in input order. Per part: extract (workers), drop copies of earlier articles by text hash
    (and, before extraction, byte-identical copies of articles of earlier parts), classify the rest
    (workers), write. Copies are never classified; the rows are the same whatever --workers."""
    out, store = Path(opts.out), PartStore(Path(opts.out))
    parts = manifest["parts"]
    start = tuple(parts[-1]["end"]) if parts else (0, 0)
    seen = raw_seen = None
    if opts.dedup:
        seen, raw_seen = SeenHashes(), SeenHashes()
        for h in store.hashes(parts):
            seen.add(h)
    total = sum(s.size for s in sources)
    executor, pf = None, Prefilter(opts.prefilter)
    if opts.workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(
            opts.workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(
                opts.model,
                manifest["run"]["threshold"],
                opts.prefilter,
                opts.all_sentences,
                os.environ.get("MYTHSCAN_HOME"),
                os.getpid(),
                max(1, (os.cpu_count() or 1) // opts.workers),
            ),
        )
        scorer = None
    else:
        from ..scoring import Scorer

        scorer = Scorer(opts.model, threshold=manifest["run"]["threshold"])
    written, clock = 0, time.perf_counter()

    def submit(fn, work: list) -> list[Future]:
        if not work:
            return []
        if executor is None:
            return [_done([analyse(it, pf) for it in work] if fn is _extract_work else classify_records(work, scorer, opts.all_sentences))]
        step = max(8, -(-len(work) // (opts.workers * 4)))
        return [executor.submit(fn, work[i : i + step]) for i in range(0, len(work), step)]

    def finish(pending) -> None:
        nonlocal written, clock
        items_first, items_last, futs, pos, copies, keys = pending
        records = sorted([r for f in futs for r in f.result()] + copies, key=lambda r: (r["file_idx"], r["item_idx"]))
        if seen is not None:
            mark_duplicates(records, seen)
            for r in records:
                key = keys.get((r["file_idx"], r["item_idx"])) if r["status"] == "article" else None
                if key:
                    raw_seen.add(key)
        records = [r for f in submit(_classify_work, records) for r in f.result()]
        articles, sentences, errors, stats = part_rows(records, None)
        now = time.perf_counter()
        commit_part(out, manifest, store, articles, sentences, errors, stats, start=items_first, end=items_last, elapsed=now - clock)
        clock, written = now, written + 1
        if opts.progress:
            opts.progress(stats["items"], stats["articles"], pos, total)
        _maybe_crash(written)

    try:
        pending = None
        for items in _chunks(iter_items(sources, start), opts.chunk_size):
            todo, copies, keys = items, [], {}
            if raw_seen is not None:  # byte-identical copies of articles of earlier parts: not even extracted
                keys = {(it.file_idx, it.item_idx): raw_key(it) for it in items}
                copy = {pos for pos, key in keys.items() if key and key in raw_seen}
                todo = [it for it in items if (it.file_idx, it.item_idx) not in copy]
                copies = [
                    {
                        "file_idx": it.file_idx,
                        "item_idx": it.item_idx,
                        "article_id": it.article_id,
                        "input": it.input,
                        "status": "duplicate",
                    }
                    for it in items
                    if (it.file_idx, it.item_idx) in copy
                ]
            futs = submit(_extract_work, todo)
            first, last = items[0], items[-1]
            if pending:
                finish(pending)
            pending = ((first.file_idx, first.item_idx), (last.file_idx, last.item_idx + 1), futs, last.pos, copies, keys)
        if pending:
            finish(pending)
    finally:
        if executor:
            executor.shutdown(wait=True, cancel_futures=True)
