"""Training: a TOML config in, a model directory (weights, config, meta.json, card) out.

Thresholds and calibration come from group-aware cross-validation on the train split only; the
fixed test split is used once, after training, to report metrics.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .models import LABELS, Decision, make_model
from .paths import models_dir, training_dir


CV_GROUPS = ("group", "batch")


def fold_groups(cfg: "TrainConfig", train_df, folds: int | None = None) -> list[str]:
    """The grouping of the train split that cross-validation folds by (``cfg.cv_group``), checked
    against the number of folds that will be made (``cfg.cv_folds`` unless given: a stacked
    model's inner folds are its ``params.folds``)."""
    folds = cfg.cv_folds if folds is None else folds
    if cfg.cv_group not in train_df.columns:
        raise ConfigError(f"cv_group = {cfg.cv_group!r} but the label file has no `{cfg.cv_group}` column",
                          hint='use cv_group = "group" or add the column')
    groups = train_df[cfg.cv_group].astype(str)
    if groups.nunique() < folds:
        raise ConfigError(f"cv_group = {cfg.cv_group!r}: {groups.nunique()} distinct values for {folds} folds",
                          hint="use fewer folds (cv_folds, or params.folds for a stack) or cv_group = \"group\"")
    return groups.tolist()


def check_model_spec(kind, params, prefix: str = "") -> None:
    """The model a config describes: known kinds, a stack's `params.base` (a table with a `kind`),
    an ensemble's `params.members`; a mistake fails when the config is read, naming the key,
    instead of as a KeyError halfway through training."""
    from .models import MODEL_KINDS

    kinds = MODEL_KINDS.names()
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ConfigError(f"{prefix}kind = {kind!r} is not a model kind", hint=f"choose one of {kinds}")
    if not isinstance(params, dict):
        raise ConfigError(f"`{prefix}params` must be a table, found {params!r}")
    if kind == "stack" and "base" in params:
        base = params["base"]
        if not isinstance(base, dict) or "kind" not in base:
            raise ConfigError(f"`{prefix}params.base` needs a `kind` (a table: [{prefix}params.base] kind = \"ensemble\"), found {base!r}",
                              hint=f"choose one of {kinds}")
        check_model_spec(base["kind"], base.get("params", {}), f"{prefix}params.base.")
    if kind == "ensemble":
        members = params.get("members", ["embed", "tfidf"])
        unknown = [m for m in members if not isinstance(m, str) or m not in MODEL_KINDS] if isinstance(members, list) else [members]
        if unknown or not members:
            raise ConfigError(f"`{prefix}params.members` names unknown model kind(s) {unknown}", hint=f"choose from {kinds}")


@dataclass
class TrainConfig:
    name: str
    kind: str = "tfidf"
    params: dict = field(default_factory=dict)
    seed: int = 0
    cv_folds: int = 5
    tune_threshold: bool = True
    calibrate: bool = True
    review_band: float = 0.15
    threshold: float = 0.5
    description: str = ""
    n_jobs: int = -1
    # label batches (the `batch` column) left out of the train split; the test split is unchanged,
    # so a model trained without a suspect batch is compared on the same sentences
    exclude_batches: list = field(default_factory=list)
    # the label-file column that cross-validation folds by: "group" (paraphrase groups) or "batch"
    # (label batches: every fold is scored on batches written apart from its training data, the
    # nearest thing in the labels to unseen coverage). Thresholds, calibration and the stacked
    # model's stage 2 all come from these folds.
    cv_group: str = "group"

    def __post_init__(self):  # configs built in code are checked too, not only files
        if self.cv_group not in CV_GROUPS:
            raise ConfigError(f"cv_group must be one of {list(CV_GROUPS)}, got {self.cv_group!r}",
                              hint='"group" folds by paraphrase group, "batch" by label batch')
        check_model_spec(self.kind, self.params)


    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        p = Path(path)
        if not p.exists() and not p.suffix:
            p = training_dir() / f"{path}.toml"
        if not p.exists():
            raise ConfigError(f"training config {path} not found", hint=f"see {training_dir()} for the configs")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
        return cls.from_dict(raw, where=str(p))

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config") -> "TrainConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}", hint=f"known keys: {sorted(known)}")
        if "name" not in raw:
            raise ConfigError(f"{where}: missing `name`")
        try:
            cfg = cls(**raw)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
        cfg.params.setdefault("seed", cfg.seed)
        return cfg


def fit_temperature(proba: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of out-of-fold predictions."""
    logp = np.log(np.clip(proba, 1e-12, 1))
    best_t, best = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(4.0), 81)):
        z = logp / t
        z -= z.max(1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        nll = -lp[np.arange(len(y_idx)), y_idx].mean()
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def best_threshold(p_myth: np.ndarray, is_myth: np.ndarray) -> float:
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.2, 0.81, 0.01), 2):
        pred = p_myth >= t
        tp = np.sum(pred & is_myth)
        f = 2 * tp / (pred.sum() + is_myth.sum()) if (pred.sum() + is_myth.sum()) else 0
        if f > best_f + 1e-9:
            best_f, best_t = f, float(t)
    return best_t


def cross_validate(cfg: TrainConfig, train_df, *, progress=None) -> dict:
    """Group-aware k-fold on the train split: out-of-fold probabilities, fold metrics."""
    from .data import group_folds

    texts = train_df["text"].astype(str).tolist()
    labels = train_df["label"].to_numpy(dtype=object)
    cats = [c or None for c in train_df["category"].astype(str)]
    oof = np.zeros((len(texts), 3))
    fold_ids = np.zeros(len(texts), dtype=int)
    splits = group_folds(labels, cats, fold_groups(cfg, train_df), cfg.cv_folds, cfg.seed)

    def run_fold(tr, va):
        model = make_model(cfg.kind, dict(cfg.params))
        model.label_only = True  # only the label probabilities are used
        model.fit([texts[i] for i in tr], labels[tr], [cats[i] for i in tr])
        return model._raw_proba([texts[i] for i in va])[0]

    # TF-IDF folds are independent CPU work: run them in parallel processes. Encoder-based kinds
    # stay in-process, where the embedding cache makes their folds cheap.
    if cfg.kind == "tfidf" and cfg.n_jobs != 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=cfg.n_jobs)(delayed(run_fold)(tr, va) for tr, va in splits)
    else:
        results = []
        for k, (tr, va) in enumerate(splits):
            results.append(run_fold(tr, va))
            if progress:
                progress(k + 1, cfg.cv_folds)
    for k, ((tr, va), proba) in enumerate(zip(splits, results)):
        oof[va] = proba
        fold_ids[va] = k
    return summarise_oof(cfg, oof, labels, fold_ids)


def summarise_oof(cfg: TrainConfig, oof: np.ndarray, labels: np.ndarray, fold_ids: np.ndarray) -> dict:
    """Temperature, threshold and per-fold metrics from out-of-fold probabilities."""
    from .evaluation import compute_metrics
    from .models import apply_temperature, decide

    labels = np.asarray(labels, dtype=object)
    y_idx = np.array([LABELS.index(lab) for lab in labels])
    temperature = fit_temperature(oof, y_idx) if cfg.calibrate else 1.0
    cal = apply_temperature(oof, temperature)
    threshold = best_threshold(cal[:, LABELS.index("myth")], labels == "myth") if cfg.tune_threshold else cfg.threshold
    per_fold = []
    for k in sorted(set(fold_ids.tolist())):
        m = fold_ids == k
        fm = compute_metrics(labels[m], decide(cal[m], threshold), cal[m])
        per_fold.append({"myth_f1": fm["myth"]["f1"], "macro_f1": fm["macro_f1"], "ece": fm["ece"]})
    summary = {k: {"mean": round(float(np.mean([f[k] for f in per_fold])), 4), "std": round(float(np.std([f[k] for f in per_fold])), 4)}
               for k in per_fold[0]}
    return {"folds": len(per_fold), "temperature": round(temperature, 4), "threshold": threshold, "per_fold": per_fold, "summary": summary}


def train(config: TrainConfig | str | Path, *, labels_path: str | Path | None = None, out_dir: str | Path | None = None,
          evaluate_test: bool = True, progress=None):
    """Train a model from a config; returns (model, path, meta)."""
    from .data import data_hash, load_splits
    from .evaluation import evaluate_model, headline

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_file(config)
    train_df, test_df = load_splits(labels_path)
    if cfg.exclude_batches:
        excluded = [cfg.exclude_batches] if isinstance(cfg.exclude_batches, str) else [str(b) for b in cfg.exclude_batches]
        batches = train_df["batch"].astype(str) if "batch" in train_df.columns else None
        unknown = sorted(set(excluded) - set(batches if batches is not None else []))
        if unknown:
            raise ConfigError(f"exclude_batches: no train sentences in batch(es) {unknown}",
                              hint="the `batch` column of the label file holds the batch names")
        train_df = train_df[~batches.isin(excluded)].reset_index(drop=True)
    if train_df.empty:
        raise ConfigError("the train split is empty", hint="check the `split` column of the label files")
    t0 = time.perf_counter()
    model = make_model(cfg.kind, dict(cfg.params))
    fit_args = (train_df["text"].tolist(), train_df["label"].tolist(), [c or None for c in train_df["category"]])
    if model.uses_groups:
        # the stacked kind cross-validates by group inside fit; its out-of-fold predictions give
        # the threshold and calibration, so the whole stack is not cross-validated a second time
        model.fit(*fit_args, groups=fold_groups(cfg, train_df, model.inner_folds))
        n = len(train_df)
        cv = summarise_oof(cfg, model.oof_proba_[:n], train_df["label"].to_numpy(dtype=object), model.oof_folds_[:n])
    else:
        cv = cross_validate(cfg, train_df, progress=progress) if cfg.cv_folds >= 2 and (cfg.tune_threshold or cfg.calibrate) else None
        model.fit(*fit_args)
    model.decision = Decision(threshold=cv["threshold"] if cv else cfg.threshold, review_band=cfg.review_band,
                              temperature=cv["temperature"] if cv else 1.0)
    decision = model.decision
    train_seconds = round(time.perf_counter() - t0, 2)
    meta: dict = {
        "description": cfg.description, "config": cfg.__dict__, "data_hash": data_hash(train_df),
        "test_data_hash": data_hash(test_df) if not test_df.empty else None, "train_sentences": int(len(train_df)),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "training_seconds": train_seconds,
        "decision": decision.__dict__, "cv": cv,
    }
    if evaluate_test and not test_df.empty:
        m, _ = evaluate_model(model, test_df)
        meta["test_metrics"] = headline(m)
        meta["test_metrics_full"] = {k: m[k] for k in ("myth", "per_label", "per_category", "contrast_pairs", "confusion", "ece_myth", "keyword_baseline_myth", "keyword_baseline_pairs_myth") if k in m}
    if out_dir:
        path = Path(out_dir)
    else:
        from .fileio import atomic_write_text
        from .registry import new_version

        meta["version"] = new_version()
        path = models_dir() / cfg.name / meta["version"]
    model.save(path, meta)
    if not out_dir:
        from .registry import default_name_of

        # `--model NAME` means NAME/CURRENT: while a version of NAME is the default it stays on the
        # default (it moves when a version is promoted, registry.set_default); otherwise the newest
        if default_name_of(cfg.name) is None:
            atomic_write_text(models_dir() / cfg.name / "CURRENT", meta["version"] + "\n")
    return model, path, meta
