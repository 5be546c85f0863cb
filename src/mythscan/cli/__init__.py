"""The `mythscan` command line (typer): `app` with its commands; `main` is the console script."""

from . import batch, commands  # noqa: F401  (each module adds its commands to the app)
from .app import app


def main() -> None:  # console-script entry point
    app()


__all__ = ["app", "main"]
