"""`run_batch`: check the options and the output directory, run the parts on the local or the Ray
engine (continuing an interrupted run), then merge them into the outputs and the report."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from . import report as batch_report
from .inputs import discover
from .pipeline import FORMATS, BatchOptions, PartStore, _lock, _now, check_out, prepare_output, run_options, write_manifest


def run_batch(opts: BatchOptions) -> dict:
    """Run (or continue) a batch; returns the summary (also in DIR/summary.json)."""
    if opts.format not in FORMATS:
        raise InputError(f"unknown format {opts.format!r}", hint=f"choose one of {', '.join(FORMATS)}")
    if opts.engine not in ("local", "ray"):
        raise InputError(f"unknown engine {opts.engine!r}", hint="choose local or ray")
    if opts.chunk_size < 1 or opts.workers < 1:
        raise InputError("--chunk-size and --workers must be at least 1")
    log = opts.log or (lambda msg: None)
    out = Path(opts.out)
    check_out(opts)
    sources = discover(
        opts.inputs, text_column=opts.text_column, id_column=opts.id_column, exclude=out, follow_symlinks=opts.follow_symlinks
    )
    run = run_options(opts, sources)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{out}: cannot create the directory ({exc.strerror or exc})", hint="give a writable directory for --out"
        ) from None
    with _lock(out):
        manifest = prepare_output(opts, run)
        if manifest.get("complete") and batch_report.outputs_present(out, opts.format):
            log(f"{out}: this run is already complete; nothing to do (--overwrite to redo it)")
            return json.loads((out / "summary.json").read_text(encoding="utf-8"))
        store = PartStore(out)
        missing = [
            p["part"]
            for p in manifest["parts"]
            if not all(store.path(p["part"], k).exists() for k in ("articles.parquet", "sentences.parquet", "errors.jsonl"))
        ]
        if missing and (manifest.get("complete") or opts.engine == "local"):  # ray rebuilds its parts
            raise InputError(
                f"{out}: {len(missing)} of the run's parts are missing from {store.dir}",
                hint="use --overwrite to run it again from the start",
            )
        if manifest["parts"] and not manifest.get("complete"):
            log(f"continuing the run in {out}: {len(manifest['parts'])} part(s) already done")
        if not manifest.get("complete"):
            if opts.engine == "ray":
                from .ray_engine import run_ray

                run_ray(opts, sources, manifest)
            else:
                from .local import run_local

                run_local(opts, sources, manifest)
        # the outputs are listed before they are written: a later --overwrite deletes only listed files
        manifest["files"] = sorted(set(manifest.get("files") or []) | set(batch_report.output_names(opts.format)))
        write_manifest(out, manifest)
        summary = batch_report.finalize(out, manifest, sources, opts)
        manifest.update(complete=True, finished=_now(), format=opts.format)
        write_manifest(out, manifest)
    return summary
