"""`mythscan batch --engine ray`: the same pipeline on Ray Data (optional extra: mythscan[ray]).

    sources -> flat_map(read: one row per raw article)            Ray tasks
            -> map_batches(extract, split, prefilter)              Ray tasks
            -> map_batches(Classifier)                              Ray actors, the model loaded once each
            -> write_parquet(DIR/_ray_stage)
    driver:  stage -> deduplicate (first copy in input order) -> parts -> the same outputs as the local engine

The per-article functions are the local engine's (batch.analyse / batch.classify_records), so the
rows are the same. Inputs, the model and --out must be readable at the same paths on every node
(a shared filesystem) when running on a cluster. Resuming: a completed Ray stage is reused; an
interrupted one is run again from the start (Ray Data has no checkpoints).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

from ..errors import InputError
from .inputs import RawItem, Source, iter_source
from .pipeline import (
    RAY_STAGE,
    BatchOptions,
    PartStore,
    _now,
    analyse,
    classify_records,
    clear_stage,
    commit_part,
    part_rows,
    write_manifest,
)
from .prefilter import Prefilter

_STAGE_DONE = "_DONE.json"


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray Data, which is not installed", hint='pip install "mythscan[ray]"') from None
    return ray


def _stage_schema():
    import pyarrow as pa

    return pa.schema(
        [("file_idx", pa.int64()), ("item_idx", pa.int64()), ("status", pa.string()), ("hash", pa.string()), ("record", pa.string())]
    )


def _table(records: list[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(
        [
            {
                "file_idx": r["file_idx"],
                "item_idx": r["item_idx"],
                "status": r["status"],
                "hash": (r.get("article") or {}).get("text_hash") or r.get("hash"),
                "record": json.dumps(r, ensure_ascii=False),
            }
            for r in records
        ],
        schema=_stage_schema(),
    )


def read_source(row: dict, sources: list[dict]):
    """flat_map: one input file -> its raw items (as rows)."""
    fi = int(row["file_idx"])
    for item in iter_source(Source(**sources[fi]), fi):
        yield item.as_row()


def extract_batch(batch, prefilter: bool):
    """map_batches (tasks): decode, extract, split and prefilter each raw item."""
    pf = Prefilter(prefilter)
    return _table([analyse(RawItem.from_row(r), pf) for r in batch.to_pylist()])


class Classifier:
    """map_batches (actors): the model is loaded once per actor."""

    def __init__(self, model: str | None, threshold: float | None, all_sentences: bool, home: str | None):
        if home:
            os.environ["MYTHSCAN_HOME"] = home
        from ..scoring import Scorer
        from .pipeline import limit_threads

        limit_threads(1)  # one CPU per actor

        self.scorer = Scorer(model, threshold=threshold)
        self.all_sentences = all_sentences

    def __call__(self, batch):
        records = [json.loads(r) for r in batch.column("record").to_pylist()]
        return _table(classify_records(records, self.scorer, self.all_sentences))


def _init(ray, opts: BatchOptions) -> bool:
    if ray.is_initialized():
        return False
    home = os.environ.get("MYTHSCAN_HOME")
    kw = {"ignore_reinit_error": True, "logging_level": logging.WARNING, "log_to_driver": False}
    if home:
        kw["runtime_env"] = {"env_vars": {"MYTHSCAN_HOME": home}}
    if opts.address:
        ray.init(address=opts.address, **kw)
    else:
        # one logical CPU more than the actors take, so the read/extract tasks always have room
        ray.init(num_cpus=max(os.cpu_count() or 1, opts.workers + 1), include_dashboard=False, **kw)
    return True


def run_stage(opts: BatchOptions, sources: list[Source], stage: Path, run: dict) -> float:
    """Run the Ray Data pipeline into STAGE; returns its wall time."""
    ray = _require_ray()
    from ray.data import ActorPoolStrategy, DataContext

    started = _init(ray, opts)
    t0 = time.perf_counter()
    try:
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = bool(opts.progress)
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        from ..models import resolve_model_path

        model = str(resolve_model_path(opts.model).resolve())
        srcs = [{**asdict(s), "open_as": str(Path(s.path).resolve())} for s in sources]
        ds = ray.data.from_items([{"file_idx": i} for i in range(len(srcs))], override_num_blocks=max(1, min(len(srcs), 256)))
        ds = ds.flat_map(read_source, fn_kwargs={"sources": srcs})
        ds = ds.map_batches(extract_batch, fn_kwargs={"prefilter": opts.prefilter}, batch_size=64, batch_format="pyarrow")
        ds = ds.map_batches(
            Classifier,
            fn_constructor_kwargs={
                "model": model,
                "threshold": run["threshold"],
                "all_sentences": opts.all_sentences,
                "home": os.environ.get("MYTHSCAN_HOME"),
            },
            compute=ActorPoolStrategy(min_size=1, max_size=opts.workers),
            batch_size=256,
            batch_format="pyarrow",
        )
        ds.write_parquet(str(stage))
    finally:
        if started:
            ray.shutdown()
    seconds = time.perf_counter() - t0
    (stage / _STAGE_DONE).write_text(json.dumps({"run": run, "seconds": seconds, "finished": _now()}))
    return seconds


def _stage_files(stage: Path) -> list[tuple[Path, tuple]]:
    """Stage files ordered by their first (file_idx, item_idx), so the output follows the input order."""
    import pyarrow.parquet as pq

    out = []
    for p in sorted(stage.rglob("*.parquet")):
        t = pq.read_table(p, columns=["file_idx", "item_idx"])
        if t.num_rows:
            out.append((p, min(zip(t.column(0).to_pylist(), t.column(1).to_pylist()))))
    return sorted(out, key=lambda x: x[1])


def _duplicates(files: list[Path]) -> set[tuple[int, int]]:
    """Keys of articles whose text was already seen at an earlier input position."""
    import pyarrow.parquet as pq

    first: dict[str, tuple[int, int]] = {}
    dup: set[tuple[int, int]] = set()
    for p in files:
        t = pq.read_table(p, columns=["file_idx", "item_idx", "status", "hash"]).to_pylist()
        for r in t:
            if r["status"] != "article":
                continue
            key = (r["file_idx"], r["item_idx"])
            prev = first.get(r["hash"])
            if prev is None:
                first[r["hash"]] = key
            elif key < prev:
                dup.add(prev)
                first[r["hash"]] = key
            else:
                dup.add(key)
    return dup


def run_ray(opts: BatchOptions, sources: list[Source], manifest: dict) -> None:
    import pyarrow.parquet as pq

    out = Path(opts.out)
    stage = out / RAY_STAGE
    done = stage / _STAGE_DONE
    if done.exists() and json.loads(done.read_text()).get("run") == manifest["run"]:
        seconds = json.loads(done.read_text())["seconds"]
    else:
        clear_stage(stage)
        seconds = run_stage(opts, sources, stage, manifest["run"])
    # the driver phase is quick: redo it from the start if it was interrupted
    store = PartStore(out)
    store.remove(manifest["parts"])
    manifest["parts"], manifest["seconds"] = [], round(seconds, 3)
    write_manifest(out, manifest)
    files = [p for p, _ in _stage_files(stage)]
    dup = _duplicates(files) if opts.dedup else set()
    clock, total = time.perf_counter(), sum(s.size for s in sources)
    buf: list[dict] = []

    def flush():
        nonlocal clock, buf
        if not buf:
            return
        keep = [r for r in buf if (r["file_idx"], r["item_idx"]) not in dup or r["status"] != "article"]
        articles, sentences, errors, stats = part_rows(keep, None)
        stats["items"], stats["duplicates"] = len(buf), len(buf) - len(keep)
        now = time.perf_counter()
        commit_part(
            out,
            manifest,
            store,
            articles,
            sentences,
            errors,
            stats,
            start=(buf[0]["file_idx"], buf[0]["item_idx"]),
            end=(buf[-1]["file_idx"], buf[-1]["item_idx"] + 1),
            elapsed=now - clock,
        )
        if opts.progress:
            opts.progress(stats["items"], stats["articles"], total, total)
        clock, buf = now, []

    for p in files:
        t = pq.read_table(p).sort_by([("file_idx", "ascending"), ("item_idx", "ascending")])
        for rec in t.column("record").to_pylist():
            buf.append(json.loads(rec))
            if len(buf) >= opts.chunk_size:
                flush()
    flush()
