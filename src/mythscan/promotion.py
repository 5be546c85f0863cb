"""Promotion: compare a newly trained model with the default, in one run, on the data that decides
(real coverage: a config's selection files and `train --gate-data`) and on the project's test
split (a regression report), and say which metrics regressed beyond their tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .evaluation import evaluate_model, headline
from .models import default_name, load_model
from .paths import models_dir

# A new model may not be worse than the default by more than this on any headline metric.
TOLERANCE = {"myth_f1": 0.01, "macro_f1": 0.01, "contrast_pair_accuracy": 0.02, "ece": 0.02}
LOWER_IS_BETTER = {"ece"}
# Extra gate files (`train --gate-data`, e.g. a sample of real coverage) are judged on the label
# metrics only: calibration error on a few hundred sentences moves too much from run to run.
GATE_METRICS = ("myth_f1", "macro_f1", "contrast_pair_accuracy")
# Real coverage decides (a config's `selection` files and --gate-data: unambiguous rows, read in
# their articles): myth AP (ranking, whatever the threshold), myth F1 and macro-F1.
REAL_TOLERANCE = {"myth_ap": 0.01, "myth_f1": 0.02, "macro_f1": 0.02}
REAL_METRICS = tuple(REAL_TOLERANCE)
# With real coverage to decide, the project's own test split is a regression report: only a sharp
# drop (something broke) keeps the default.
SHARP_DROP = {"myth_f1": 0.25, "macro_f1": 0.25}


@dataclass
class Comparison:
    candidate: dict
    default: dict | None
    regressions: list[str]

    @property
    def ok(self) -> bool:
        return not self.regressions

    metrics: tuple[str, ...] = tuple(TOLERANCE)
    tolerance: dict | None = None

    def table(self) -> str:
        lines = [f"{'metric':<24}{'new':>8}{'default':>9}  tolerance"]
        for k in self.metrics:
            tol = (self.tolerance or TOLERANCE)[k]
            new = self.candidate.get(k)
            old = (self.default or {}).get(k)
            flag = "  REGRESSED" if k in self.regressions else ""
            lines.append(f"{k:<24}{_f(new):>8}{_f(old):>9}  {tol}{flag}")
        return "\n".join(lines)


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


def compare_many(candidate_dir: Path, datasets) -> list[Comparison]:
    """Evaluate the candidate and the current default on each (data, metrics) pair (the test split,
    gate files), in this run, loading both models once; a metric regresses when it is worse than the
    default's beyond TOLERANCE."""
    candidate = load_model(candidate_dir)
    default = default_name()
    old_model = load_model(models_dir() / default) if default and (models_dir() / default / "config.json").exists() else None
    out = []
    for df, metrics, *rest in datasets:  # (data, metrics or {metric: tolerance}[, rows counted])
        rows = rest[0] if rest else None
        tolerance = metrics if isinstance(metrics, dict) else {k: TOLERANCE[k] for k in metrics}
        cand = headline(evaluate_model(candidate, df, rows=rows)[0])
        if old_model is None:
            out.append(Comparison(cand, None, [], tuple(tolerance), tolerance))
            continue
        old = headline(evaluate_model(old_model, df, rows=rows)[0])
        regressions = []
        for k, tol in tolerance.items():
            a, b = cand.get(k), old.get(k)
            if a is None or b is None:
                continue
            worse = (a - b) if k in LOWER_IS_BETTER else (b - a)
            if worse > tol:
                regressions.append(k)
        out.append(Comparison(cand, old, regressions, tuple(tolerance), tolerance))
    return out
