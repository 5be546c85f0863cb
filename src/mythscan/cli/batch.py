"""The `mythscan batch` command: a thin layer over `mythscan.batch.run_batch`."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from ..wording import count, plural
from .app import Precision, app, cli_errors, model_option, precision_option, threshold_option


class BatchFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def _progress_bar(enabled: bool):
    """A rich progress bar on stderr (bytes of input for the ETA, articles/s alongside); None when off."""
    if not enabled:
        return None, None
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("scoring"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[articles]:,} articles · {task.fields[rate]:.0f} articles/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    state = {"task": None, "t0": time.perf_counter(), "items": 0, "articles": 0, "base": None}

    def update(items: int, articles: int, pos: int, total: int) -> None:
        if state["task"] is None:
            state["task"] = bar.add_task("scoring", total=total or 1, articles=0, rate=0.0)
        state["items"] += items
        state["articles"] += articles
        rate = state["items"] / max(time.perf_counter() - state["t0"], 1e-9)
        bar.update(state["task"], completed=pos, articles=state["articles"], rate=rate)

    return bar, update


@app.command()
@cli_errors
def batch(
    inputs: List[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Directories (recursive: .txt/.md/.html/.warc), globs, .jsonl/.csv/.parquet tables, .warc/.warc.gz files.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created; continues an interrupted run of the same command)."),
    text_column: Optional[str] = typer.Option(
        None, "--text-column", help="Table column with the article text or HTML (default: text, html, content, body or article)."
    ),
    id_column: Optional[str] = typer.Option(
        None, "--id-column", help="Table column with the article id (default: id if present, else file#row)."
    ),
    format: BatchFormat = typer.Option(BatchFormat.parquet, "--format", "-f", help="Format of the sentences and articles tables."),
    all_sentences: bool = typer.Option(
        False, "--all-sentences", help="Keep every sentence in the sentences table, not only myth, accurate and borderline ones."
    ),
    prefilter: bool = typer.Option(
        True, "--prefilter/--no-prefilter", help="Skip sentences plainly off topic (China/social-credit vocabulary) before the model."
    ),
    dedup: bool = typer.Option(True, "--dedup/--no-dedup", help="Skip identical articles (syndicated copies)."),
    model: Optional[str] = model_option(),
    threshold: Optional[float] = threshold_option(),
    precision: Precision = precision_option(),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, help="Processes for extraction and classification (local engine); Ray actors (ray engine)."
    ),
    chunk_size: int = typer.Option(1000, "--chunk-size", min=1, help="Articles per part (the unit that is written and resumed)."),
    resume: bool = typer.Option(False, "--resume", help="Require an interrupted run in --out to continue (same inputs and options)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the results in --out (removes only mythscan's own files)."),
    engine: Engine = typer.Option(
        Engine.local, "--engine", help="local (processes on this machine) or ray (Ray Data; pip install 'mythscan[ray]')."
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster address (e.g. ray://head:10001 or auto); default: a local Ray."
    ),
    top: int = typer.Option(20, "--top", min=1, help="How many of the most myth-dense articles the report lists."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on when stderr is a terminal)."),
    follow_symlinks: bool = typer.Option(
        False, "--follow-symlinks", help="Read symbolic links that lead out of an input directory (skipped and reported by default)."
    ),
):
    """Score an archive of articles: tables of flagged sentences and articles, errors, summary.json and report.html."""
    from ..batch import BatchOptions, run_batch

    if resume and overwrite:
        from ..errors import InputError

        raise InputError("--resume and --overwrite contradict each other", hint="use one of them")
    bar, update = _progress_bar(sys.stderr.isatty() if progress is None else progress)
    opts = BatchOptions(
        inputs=list(inputs),
        out=out,
        text_column=text_column,
        id_column=id_column,
        model=model,
        threshold=threshold,
        precision=precision.value,
        all_sentences=all_sentences,
        prefilter=prefilter,
        dedup=dedup,
        format=format.value,
        chunk_size=chunk_size,
        workers=workers,
        resume=resume,
        overwrite=overwrite,
        engine=engine.value,
        address=address,
        top=top,
        progress=update,
        follow_symlinks=follow_symlinks,
        log=lambda msg: typer.echo(f"mythscan: {msg}", err=True),
    )
    if bar is not None:
        with bar:
            summary = run_batch(opts)
    else:
        summary = run_batch(opts)
    t, run = summary["totals"], summary["run"]
    rate = f", {run['articles_per_s']} articles/s" if run.get("articles_per_s") else ""
    typer.echo(
        f"{count(t['articles'], 'article')} scored ({count(t['duplicates'], 'duplicate')} skipped, {count(t['errors'], 'error')}, "
        f"{count(t['skipped'], 'non-article record')}) in {run['seconds']} s{rate}; {count(t['myths'], 'myth sentence')} in "
        f"{count(t['with_myths'], 'article')}, {t['repeating']:,} of which {plural(t['repeating'], 'repeats', 'repeat')} myths; "
        f"wrote {out}/report.html"
    )
    if t["articles"] == 0 and t["errors"]:  # the outputs (errors.jsonl, report) are written; a script must still see the failure
        from ..errors import InputError

        raise InputError(f"no article could be read: {t['errors']:,} input(s) failed", hint=f"the reasons are in {out / 'errors.jsonl'}")
