"""The `mythscan` application: the typer app and its groups, error handling (one line, exit 1; exit 2
only for a myth found with --fail-on-myth) and the option choices shared by the commands."""

from __future__ import annotations

import os
import sys
from enum import Enum
from functools import wraps
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ..errors import MythscanError

EXIT_ERROR, EXIT_MYTH = 1, 2


def _usage_errors() -> tuple[type, ...]:
    """click's UsageError: typer >= 0.22 ships its own copy of click (typer._click), older ones use click."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).UsageError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_USAGE_ERRORS = _usage_errors()


class MythscanGroup(TyperGroup):
    """Usage errors (bad option values, unknown options or commands) exit 1 like every other error:
    click's default, 2, is the code `--fail-on-myth` gives a pipeline for "myth found". Parsing of
    the subcommands happens inside the root group's `invoke`, so these two methods see them all;
    click still prints its usage message on stderr."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except _USAGE_ERRORS as exc:
            exc.exit_code = EXIT_ERROR
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _USAGE_ERRORS as exc:
            exc.exit_code = EXIT_ERROR
            raise


app = typer.Typer(
    cls=MythscanGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Flag likely misconceptions about China's Social Credit System in English news text.",
)
labels_app = typer.Typer(no_args_is_help=True, help="The labelled data: validate, count, add a batch, suggest what to label next, audit.")
models_app = typer.Typer(no_args_is_help=True, help="The trained models and the default.")
app.add_typer(labels_app, name="labels")
app.add_typer(models_app, name="models")


def _err(msg: str) -> None:
    typer.echo(f"mythscan: error: {msg}", err=True)


def cli_errors(fn):
    """One clear line on stderr and exit 1 for every error; tracebacks only with MYTHSCAN_DEBUG=1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MythscanError as exc:
            if os.environ.get("MYTHSCAN_DEBUG"):
                raise
            _err(str(exc))
            raise typer.Exit(EXIT_ERROR) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as exc:  # last resort: never a traceback for users
            if os.environ.get("MYTHSCAN_DEBUG"):
                raise
            _err(f"unexpected {type(exc).__name__}: {exc} (set MYTHSCAN_DEBUG=1 for details)")
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


class ScoreFormat(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    html = "html"


class Precision(str, Enum):
    balanced = "balanced"
    high = "high"


class TableFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


class StatsFormat(str, Enum):
    table = "table"
    json = "json"


def _write(out: Optional[Path], content: str) -> None:
    if out:
        from ..fileio import atomic_write_text

        atomic_write_text(out, content if content.endswith("\n") else content + "\n")
        typer.echo(f"wrote {out}", err=True)
    else:
        sys.stdout.write(content if content.endswith("\n") else content + "\n")


# options that several commands share, with one wording
MODEL_HELP = "Model name under models/ (e.g. context, stack/v20261204-203907) or a model directory (default: models/DEFAULT)."


def model_option(help: str = MODEL_HELP):
    return typer.Option(None, "--model", "-m", help=help)


def threshold_option(help: str = "Myth threshold on P(myth) (default: the model's, chosen by cross-validation)."):
    return typer.Option(None, "--threshold", "-t", min=0.0, max=1.0, help=help)


def precision_option(
    help: str = "balanced (the model's threshold) or high (its high-precision operating point, chosen on labelled real coverage: fewer, surer flags).",
):
    return typer.Option(Precision.balanced, "--precision", help=help)
