"""The commands of `mythscan` other than `batch`: score, classify, train, evaluate, labels ..., models ...,
build-encoder. Each is a thin layer over a library function that the tests call directly."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError
from ..wording import count
from .app import (
    EXIT_ERROR,
    EXIT_MYTH,
    Precision,
    ScoreFormat,
    StatsFormat,
    TableFormat,
    _write,
    app,
    cli_errors,
    labels_app,
    model_option,
    models_app,
    precision_option,
    threshold_option,
)


@app.command()
@cli_errors
def score(
    sources: List[str] = typer.Argument(..., help="Article files (.txt/.md/.html), http(s) URLs, or - for stdin."),
    format: ScoreFormat = typer.Option(
        ScoreFormat.text, "--format", "-f", help="text (terminal view), json, jsonl (one object per sentence) or html."
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the output to this file instead of stdout."),
    model: Optional[str] = model_option(),
    threshold: Optional[float] = threshold_option(),
    all_sentences: bool = typer.Option(
        False,
        "--all",
        help="Show every sentence, not only flagged and borderline ones (text output; json, jsonl and html always hold every sentence).",
    ),
    fail_on_myth: bool = typer.Option(False, "--fail-on-myth", help="Exit with status 2 when any myth is found (for editorial pipelines)."),
    allow_private: bool = typer.Option(
        False,
        "--allow-private",
        help="Fetch URLs on this machine or a private network (loopback, private, link-local addresses; refused by default).",
    ),
    precision: Precision = precision_option(),
):
    """Score articles sentence by sentence: which sentences assert a myth, which, how sure, and what the record says."""
    from ..reading import read_source
    from ..scoring import Scorer

    scorer = Scorer(model, threshold=threshold, precision=precision.value)
    results = [scorer.score_document(read_source(src, allow_private=allow_private)) for src in sources]
    if format is ScoreFormat.text:
        from rich.console import Console

        console = Console(file=open(out, "w", encoding="utf-8") if out else sys.stdout, width=None if not out else 100)
        for r in results:
            from ..reports import render_terminal

            render_terminal(r, console, show_all=all_sentences)
    else:
        for r in results:
            for w in r.warnings:
                typer.echo(f"mythscan: warning: {r.source}: {w}", err=True)
        from .. import reports

        if format is ScoreFormat.json:
            _write(out, reports.article_json(results))
        elif format is ScoreFormat.jsonl:
            _write(out, "\n".join(reports.article_jsonl(results, all_sentences=True)))
        else:
            _write(out, reports.render_html(results))
    if fail_on_myth and any(r.summary.myths for r in results):
        raise typer.Exit(EXIT_MYTH)


@app.command()
@cli_errors
def classify(
    file: str = typer.Argument(
        ..., help="Sentences: .txt (one per line), .csv, .jsonl or .parquet with a text column, or - for stdin lines."
    ),
    text_column: str = typer.Option("text", "--text-column", help="Column holding the sentences."),
    format: TableFormat = typer.Option(TableFormat.jsonl, "--format", "-f", help="jsonl (one object per input row) or csv."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    model: Optional[str] = model_option(),
    threshold: Optional[float] = threshold_option(),
    precision: Precision = precision_option(),
    context_column: Optional[str] = typer.Option(
        None, "--context-column", help="Column holding each sentence's previous sentence in its article (tables only)."
    ),
    article_column: Optional[str] = typer.Option(
        None,
        "--article-column",
        help="Column holding an article id: the rows of one article, in reading order, are read together (page stance, myth density; without --context-column the previous row is the context).",
    ),
):
    """Classify sentences as given (no splitting), in input order: label, myth_probability, category, probabilities."""
    from ..reading import iter_sentence_rows, iter_sentences
    from ..reports import sentence_record
    from ..scoring import Scorer

    # streamed in chunks (cut between articles), so memory stays flat however many sentences come;
    # a bad input (missing column, binary file, a "sentence" of 100,000+ characters) fails before
    # the model loads if it is in the first chunk, else mid-way, with one error line (--out is
    # then not written)
    if context_column or article_column:
        if file == "-" or Path(file).suffix.lower() in (".txt", ".text", ""):
            raise InputError(
                f"{file}: --context-column and --article-column need a table (.csv, .jsonl, .parquet)",
                hint="give the sentences as a table with those columns",
            )
        rows = iter_sentence_rows(file, text_column=text_column, context_column=context_column, article_column=article_column)
    else:
        rows = ((t, None, None) for t in iter_sentences(file, text_column=text_column))
    chunks = _article_chunks(rows, CLASSIFY_CHUNK)
    first = next(chunks, [])
    scorer = Scorer(model, threshold=threshold, precision=precision.value)
    with _Output(out) as fh:
        writer = None
        for chunk in itertools.chain([first], chunks):
            texts = [t for t, _, _ in chunk]
            if article_column or context_column:
                results = scorer.classify(
                    texts,
                    context=_contexts(chunk, bool(context_column)),
                    article=[a if article_column else f"#{i}" for i, (_, _, a) in enumerate(chunk)],
                )
            else:
                results = scorer.classify(texts)
            for s in results:
                r = sentence_record(s)
                if format is TableFormat.jsonl:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                    continue
                flat = {**{k: v for k, v in r.items() if k != "probabilities"}, **{f"p_{k}": v for k, v in r["probabilities"].items()}}
                if writer is None:
                    import csv

                    from ..sanitise import csv_cell

                    writer = csv.DictWriter(fh, fieldnames=list(flat), lineterminator="\n")
                    writer.writeheader()
                writer.writerow({k: csv_cell(v) for k, v in flat.items()})  # no spreadsheet formulas


CLASSIFY_CHUNK = 2000


def _article_chunks(rows, size: int):
    """Lists of about ``size`` rows, cut only where the article changes (rows without an article
    are their own), so an article is read whole."""
    chunk: list = []
    for row in rows:
        if len(chunk) >= size and (row[2] is None or row[2] != chunk[-1][2]):
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def _contexts(chunk: list, given: bool) -> list[str]:
    """Each row's context: the context column's value, or the previous row of the same article."""
    if given:
        return [c or "" for _, c, _ in chunk]
    return [chunk[i - 1][0] if i and a is not None and chunk[i - 1][2] == a else "" for i, (_, _, a) in enumerate(chunk)]


class _Output:
    """stdout, or FILE written to a temporary file beside it and renamed when complete."""

    def __init__(self, out: Optional[Path]):
        self.out, self.tmp, self.fh = out, None, None

    def __enter__(self):
        if self.out is None:
            self.fh = sys.stdout
            return self.fh
        import tempfile

        Path(self.out).parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{Path(self.out).name}.", dir=Path(self.out).parent)
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.fh

    def __exit__(self, kind, exc, tb):
        if self.out is None:
            self.fh.flush()
            return False
        self.fh.close()
        if kind is None:
            from ..fileio import _mode_for

            os.chmod(self.tmp, _mode_for(Path(self.out)))
            os.replace(self.tmp, self.out)
            typer.echo(f"wrote {self.out}", err=True)
        else:
            os.unlink(self.tmp)
        return False


@labels_app.command("validate")
@cli_errors
def labels_validate(
    path: Optional[Path] = typer.Argument(None, help="A label file or directory (default: labels/)."),
    taxonomy: Optional[Path] = typer.Option(None, help="Taxonomy file (default: labels/taxonomy.yaml)."),
):
    """Check label files; print every problem as file:line: message and exit 1 if any."""
    from ..data import validate
    from ..taxonomy import load_taxonomy

    problems, n = validate(path, load_taxonomy(taxonomy) if taxonomy else None)
    for p in problems:
        typer.echo(str(p))
    if problems:
        typer.echo(f"{count(len(problems), 'problem')} in {count(n, 'row')}", err=True)
        raise typer.Exit(EXIT_ERROR)
    typer.echo(f"ok: {count(n, 'row')}, no problems")


@labels_app.command("stats")
@cli_errors
def labels_stats(
    path: Optional[Path] = typer.Argument(None, help="A label file or directory (default: labels/)."),
    format: StatsFormat = typer.Option(StatsFormat.table, "--format", "-f", help="table or json."),
):
    """Counts by label, category, register and split."""
    from ..data import load_labels, stats

    st = stats(load_labels(path))
    if format is StatsFormat.json:
        typer.echo(json.dumps(st, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{st['total']}[/] sentences, {st['groups']} groups, {st['contrast_pairs']} contrast pairs")
    for key in ("by_label", "by_category", "by_register", "by_split"):
        t = Table(title=key.replace("_", " "), show_header=False)
        for k, v in st[key].items():
            t.add_row(k, str(v))
        console.print(t)


@app.command()
@cli_errors
def train(
    config: str = typer.Option(
        "context",
        "--config",
        "-c",
        help="Training config: a path or a name in training/ (context: the default model, stack, tfidf, embed, ensemble, ensemble-int8, finetune, attn, stack-attn, stack-mix).",
    ),
    labels: Optional[Path] = typer.Option(None, help="Label file or directory (default: labels/)."),
    out: Optional[Path] = typer.Option(None, help="Model directory to write (default: models/<name>/<version>/)."),
    promote: bool = typer.Option(False, "--promote", help="Make the new model the default even if it is worse than the default."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Never change the default model."),
    gate_data: Optional[List[Path]] = typer.Option(
        None,
        "--gate-data",
        help="Also compare with the default on this labelled sample of real coverage (CSV/JSONL; unambiguous rows, read in their articles when it has article/position/context_before); repeatable.",
    ),
):
    """Train a model version, compare it with the default on real coverage (and the test split), and promote it if it is not worse."""
    from ..data import load_real, load_splits, resolve_data_path
    from ..evaluation_cli import UNAMBIGUOUS
    from ..models import default_name_of, ref_of, set_default
    from ..promotion import REAL_TOLERANCE, SHARP_DROP, TOLERANCE, compare_many
    from ..training import TrainConfig
    from ..training import train as do_train

    cfg = TrainConfig.from_file(config)
    files = [resolve_data_path(f) for f in cfg.selection] + [Path(f) for f in (gate_data or [])]
    gates = []
    for f in files:  # bad gate files fail before training
        if f.exists() or f in [Path(g) for g in (gate_data or [])]:
            df = load_real(f)
            marked = (df["ambiguous"] != "").any()
            gates.append((df, df["ambiguous"].isin(UNAMBIGUOUS).to_numpy(), f.name + (" (unambiguous)" if marked else "")))

    def progress(k, n):
        typer.echo(f"  cross-validation fold {k}/{n}", err=True)

    model, path, meta = do_train(
        cfg, labels_path=labels, out_dir=out, progress=progress, log=lambda msg: typer.echo(f"mythscan: {msg}", err=True)
    )
    tm = meta.get("test_metrics") or {}
    typer.echo(
        f"trained {path} in {meta['training_seconds']} s; threshold {meta['decision']['threshold']}, "
        f"test myth F1 {tm.get('myth_f1')}, macro-F1 {tm.get('macro_f1')}, pairs {tm.get('contrast_pair_accuracy')}, ECE {tm.get('ece')}"
    )
    for name, fig in (meta.get("selection_metrics") or {}).items():
        typer.echo(
            f"  {name}: myth AP {fig['myth_ap']}, F1 {fig['myth_f1']} (P {fig['myth_precision']}, R {fig['myth_recall']}), n={fig['n']}"
        )
    if no_promote or out:
        return
    missing = [f for f in files if not f.exists()]
    if missing and not gates and not promote:
        # without the real-coverage files the config is chosen on, the test split alone would
        # decide, and it disagrees with real coverage (a written-only model scores higher there)
        typer.echo(
            f"kept the default: {', '.join(str(f) for f in missing)} (real coverage, where this config is "
            f"compared with the default) is not here; measure the new model on your own labelled sample with "
            f"`mythscan evaluate --model {ref_of(path)} --data FILE`, then `mythscan models promote {ref_of(path)}`, "
            "or train with --gate-data FILE"
        )
        return
    # real coverage decides; the test split then only guards against a sharp drop
    test_gate = dict(SHARP_DROP) if gates else dict(TOLERANCE)
    cmp, *gated = compare_many(path, [(load_splits(labels)[1], test_gate)] + [(df, dict(REAL_TOLERANCE), rows) for df, rows, _ in gates])
    regressions = list(cmp.regressions)
    if cmp.default is not None:
        typer.echo(
            (
                "compared with the default on the fixed test split (a regression report: only a sharp drop counts):\n"
                if gates
                else "compared with the default on the fixed test split:\n"
            )
            + cmp.table()
        )
        for (_df, rows, name), g in zip(gates, gated):
            typer.echo(f"compared with the default on {name} (n={int(rows.sum())}):\n" + g.table())
            regressions += [f"{name}:{k}" for k in g.regressions]
    if not regressions or promote:
        ref = set_default(path, reason="promote" if not regressions else "forced")
        typer.echo(
            f"default model is now {ref}" + ("" if not regressions else " (forced with --promote despite: " + ", ".join(regressions) + ")")
        )
    else:
        typer.echo(
            f"kept the default: the new model is worse on {', '.join(regressions)} beyond the tolerance; "
            f"promote it anyway with `mythscan models promote {ref_of(path)}`"
            + (
                f" (until then `--model {path.parent.name}` stays the default, use --model {ref_of(path)})"
                if default_name_of(path.parent.name)
                else ""
            )
        )


@labels_app.command("suggest")
@cli_errors
def labels_suggest(
    inputs: List[str] = typer.Argument(
        ..., help="Unlabelled text: articles, URLs, sentence files (.txt/.csv/.jsonl/.parquet) or a batch output directory."
    ),
    n: int = typer.Option(50, "--n", help="How many sentences to suggest."),
    out: Path = typer.Option(Path("to_label.csv"), "--out", "-o", help="CSV to write, ready for `labels add` once checked."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model that ranks the sentences (default: the default model)."),
    text_column: str = typer.Option("text", "--text-column", help="Column with the text in table inputs."),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Fetch URLs on this machine or a private network (refused by default)."
    ),
):
    """Pick the sentences that would teach the model most (uncertain, diverse, not yet labelled)."""
    from ..active import suggest
    from ..fileio import atomic_write_text
    from ..sanitise import csv_frame

    df = suggest(
        inputs,
        n,
        model=model,
        text_column=text_column,
        allow_private=allow_private,
        log=lambda msg: typer.echo(f"mythscan: warning: {msg}", err=True),
    )
    atomic_write_text(out, csv_frame(df).to_csv(index=False))  # `labels add` removes the formula guard again
    typer.echo(
        f"wrote {len(df)} suggestions to {out} with the model's guesses: confirm or correct label/category, then `mythscan labels add {out}`"
    )


@labels_app.command("audit")
@cli_errors
def labels_audit(
    path: Optional[Path] = typer.Argument(None, help="Label file or directory (default: labels/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the list to this CSV."),
    top: int = typer.Option(20, help="How many to print."),
):
    """Likely label errors from out-of-fold predictions (cleanlab), with the model's suggestion."""
    from ..active import audit
    from ..fileio import atomic_write_text
    from ..sanitise import csv_frame

    df = audit(path)
    if out:
        atomic_write_text(out, csv_frame(df).to_csv(index=False))
    typer.echo(f"{len(df)} likely label issues" + (f" (all in {out})" if out else ""))
    for _, r in df.head(top).iterrows():
        typer.echo(f"{r['id']}: {r['label']} -> {r['suggested_label']} ({r['suggested_probability']:.2f}): {r['text'][:110]}")


@app.command()
@cli_errors
def evaluate(
    model: Optional[str] = model_option(),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="A labelled CSV/JSONL/Parquet (text, label[, category, ambiguous, article, position, context_before, stance]); default: the team's real-coverage samples beside the checkout, and the test split.",
    ),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="Evaluate every model in models/ side by side (default data: select.csv's unambiguous rows if present, else the test split).",
    ),
    out: Optional[Path] = typer.Option(None, help="Write reports (metrics.json, report.md, PNG, errors.csv) into this directory."),
    save: bool = typer.Option(False, "--save", help="Write reports into evaluate/reports/<model>/ (a plain run writes nothing)."),
    threshold: Optional[float] = threshold_option("Myth threshold on P(myth) instead of the model's."),
    precision: Precision = precision_option("Measure at the balanced or the high-precision operating point."),
    learning_curve: Optional[str] = typer.Option(
        None,
        "--learning-curve",
        help="Training config: quality when training on 25/50/75/100% of its real pages (or of the written labels).",
    ),
):
    """Evaluate a model on real coverage and the test split: myth P/R/F1, AP, false flags by page stance, keyword alert."""
    from ..evaluation_cli import run_compare, run_evaluate

    if learning_curve:
        from ..active import learning_curve as lc
        from ..paths import reports_dir

        target = out or (reports_dir() / Path(learning_curve).stem / "learning_curve" if save else None)
        res = lc(learning_curve, out_dir=target, log=lambda msg: typer.echo(f"  {msg}", err=True))
        real = bool(res["points"]) and "real_pages" in res["points"][0]
        typer.echo(
            f"{'share':>6}{'real pages' if real else 'sentences':>11}{'AP' if real else '':>7}{'myth_F1':>9}{'macroF1':>9}"
            + ("" if real else f"{'pairs':>7}")
        )
        for p in res["points"]:
            typer.echo(
                f"{p['fraction']:>6.0%}{p['real_pages' if real else 'train_sentences']:>11}"
                + (f"{p['myth_ap'] or 0:>7.3f}" if real else f"{'':>7}")
                + f"{p['myth_f1'] or 0:>9.3f}{p['macro_f1'] or 0:>9.3f}"
                + ("" if real else f"{(p['contrast_pair_accuracy'] or 0):>7.3f}")
            )
        if target:
            typer.echo(f"  report: {target}")
        return
    if compare:
        typer.echo(run_compare(data))
    else:
        typer.echo(run_evaluate(model, data, out, threshold, save=save, precision=precision.value))


@models_app.command("list")
@cli_errors
def models_list():
    """The models under models/, with their test figures; * marks the default."""
    from ..data import current_test_hash
    from ..models import list_models

    typer.echo(list_models(test_hash=current_test_hash()))


@models_app.command("show")
@cli_errors
def models_show(name: Optional[str] = typer.Argument(None, help="Model name, name/version or directory (default: the default).")):
    """Print a model's card."""
    from ..models import show_model

    typer.echo(show_model(name))


@models_app.command("promote")
@cli_errors
def models_promote(name: str = typer.Argument(..., help="Model name, name/version or directory.")):
    """Make a model version the default."""
    from ..models import set_default

    typer.echo(f"default model is now {set_default(Path(name), reason='promote')}")


@models_app.command("rollback")
@cli_errors
def models_rollback():
    """Make the previous default the default again."""
    from ..models import rollback

    typer.echo(f"default model is now {rollback()}")


@labels_app.command("add")
@cli_errors
def labels_add(
    file: Path = typer.Argument(
        ..., help="CSV/JSONL rows (text, label, category[, group, register, notes]) or a Label Studio JSON export."
    ),
    annotator: str = typer.Option("unknown", "--annotator", help="Who labelled the batch (recorded as provenance)."),
    replace: bool = typer.Option(False, "--replace", help="Relabel texts that already exist with another label."),
    target: Optional[Path] = typer.Option(None, help="Label file to add to (default: labels/sentences.csv)."),
):
    """Validate a batch and add it: duplicates skipped, conflicts refused, groups and split assigned, written atomically."""
    from ..labelling import add_labels

    report = add_labels(file, target=target, annotator=annotator, replace=replace)
    for t in report.skipped_duplicates[:20]:
        typer.echo(f"skipped duplicate: {t[:100]}", err=True)
    typer.echo(report.summary())


@app.command("build-encoder")
@cli_errors
def build_encoder(
    quantized: bool = typer.Option(False, help="Also build the int8 variants."),
    all_layers: bool = typer.Option(True, help="Also build the graph that outputs every layer (models with `layers`)."),
):
    """Build the MiniLM ONNX encoders in the cache (done automatically on first use)."""
    from ..models.encoder import build_onnx

    for layered in (False, True) if all_layers else (False,):
        typer.echo(str(build_onnx(False, all_layers=layered)))
        if quantized:
            typer.echo(str(build_onnx(True, all_layers=layered)))
