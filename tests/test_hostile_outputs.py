"""Issue 18, output side: outputs that attack their reader, data loss, honest exit codes and messages.

Every fixture is generated here, small; the CLI is run as a user runs it (tests.conftest.run_cli)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, run_cli

MYTHS = ROOT / "examples" / "myths_article.txt"


def no_traceback(r) -> str:
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return err


# --- exit codes: 1 for every error, 2 only for "myth found" ---------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["score", str(MYTHS), "--threshold", "-1"], "--threshold"),
    (["score", str(MYTHS), "--threshold", "2"], "--threshold"),
    (["score", str(MYTHS), "--threshold", "abc"], "--threshold"),
    (["score", str(MYTHS), "--format", "xml"], "--format"),
    (["score", str(MYTHS), "--no-such-option"], "No such option"),
    (["classify", "x.txt", "--format", "parquet"], "--format"),
    (["batch", str(MYTHS)], "--out"),
    (["labels", "stats", "--format", "xml"], "--format"),
    (["models", "promote"], "Missing argument"),
    (["no-such-command"], "No such command"),
    ([], "Usage:"),
])
def test_usage_errors_exit_1_not_the_myth_found_code(project_home, args, needle):
    r = run_cli(*args, home=project_home)
    err = no_traceback(r)
    assert r.returncode == 1, (args, r.returncode, err)
    assert "Usage:" in err and needle in err, err  # click's usage message stays, on stderr


def test_help_still_exits_0(project_home):
    r = run_cli("score", "--help", home=project_home)
    assert r.returncode == 0 and "--fail-on-myth" in r.stdout.decode()
