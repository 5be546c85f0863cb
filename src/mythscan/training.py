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

from .augment import swap_names
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
        raise ConfigError(
            f"cv_group = {cfg.cv_group!r} but the label file has no `{cfg.cv_group}` column",
            hint='use cv_group = "group" or add the column',
        )
    groups = train_df[cfg.cv_group].astype(str)
    if groups.nunique() < folds:
        raise ConfigError(
            f"cv_group = {cfg.cv_group!r}: {groups.nunique()} distinct values for {folds} folds",
            hint='use fewer folds (cv_folds, or params.folds for a stack) or cv_group = "group"',
        )
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
            raise ConfigError(
                f'`{prefix}params.base` needs a `kind` (a table: [{prefix}params.base] kind = "ensemble"), found {base!r}',
                hint=f"choose one of {kinds}",
            )
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
    # Real coverage next to the project's labels: each source is a table {path, weight} of labelled
    # sentences (text, label, category; `article`, `position`, `context_before`, `stance` where
    # known), read at training time from where it lies (paths relative to the project root, e.g.
    # ../shared/real/train.csv) and never copied. Cross-validation folds its rows by `article`.
    sources: list = field(default_factory=list)
    # pages with a page-level stance only ({path}: JSONL with text and stance), for a page model
    pages: list = field(default_factory=list)
    # each written label row's weight next to real rows (1.0: equal), and whether to use them at all
    labels_weight: float = 1.0
    use_labels: bool = True
    # labelled real coverage for choosing (never fitting): after training the new version is
    # measured on these files, and `train` promotes it only if it is not worse there than the default
    selection: list = field(default_factory=list)
    # the precision the high-precision operating point aims at (`--precision high`, the article
    # verdict's confident flags), chosen on the first selection file's unambiguous rows
    high_precision: float = 0.85

    def __post_init__(self):  # configs built in code are checked too, not only files
        if self.cv_group not in CV_GROUPS:
            raise ConfigError(
                f"cv_group must be one of {list(CV_GROUPS)}, got {self.cv_group!r}",
                hint='"group" folds by paraphrase group, "batch" by label batch',
            )
        check_model_spec(self.kind, self.params)
        for key, items in (("sources", self.sources), ("pages", self.pages)):
            if not isinstance(items, list) or any(not isinstance(x, dict) or "path" not in x for x in items):
                raise ConfigError(f'`{key}` must be a list of tables with a `path` ([[{key}]] path = "...")')
        for src in self.sources:
            if not isinstance(src.get("weight", 1.0), (int, float)) or src.get("weight", 1.0) <= 0:
                raise ConfigError(f"sources: weight of {src['path']} must be a positive number")
        if not isinstance(self.selection, list) or any(not isinstance(x, str) for x in self.selection):
            raise ConfigError("`selection` must be a list of file paths")
        if not self.use_labels and not self.sources:
            raise ConfigError("use_labels = false needs at least one [[sources]] file")

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
    """Group-aware k-fold on the training rows: out-of-fold probabilities, fold metrics. Folds
    follow ``train_df["fold"]`` when present (`training_frame`: label groups or batches, real
    articles), else `fold_groups`."""
    from .data import group_folds

    texts = train_df["text"].astype(str).tolist()
    labels = train_df["label"].to_numpy(dtype=object)
    cats = [c or None for c in train_df["category"].astype(str)]
    weights = train_df["weight"].to_numpy(dtype=float) if "weight" in train_df.columns else np.ones(len(texts))
    oof = np.zeros((len(texts), 3))
    fold_ids = np.zeros(len(texts), dtype=int)
    groups = train_df["fold"].tolist() if "fold" in train_df.columns else fold_groups(cfg, train_df)
    splits = group_folds(labels, cats, groups, cfg.cv_folds, cfg.seed)

    def run_fold(tr, va):
        model = make_model(cfg.kind, dict(cfg.params))
        model.label_only = True  # only the label probabilities are used
        model.fit(
            [texts[i] for i in tr],
            labels[tr],
            [cats[i] for i in tr],
            sample_weight=weights[tr] if model.uses_weights else None,
            augment=swap_names,
        )
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
    for k, ((_tr, va), proba) in enumerate(zip(splits, results)):
        oof[va] = proba
        fold_ids[va] = k
    return summarise_oof(cfg, oof, labels, fold_ids, rows=_decision_rows(train_df))


def _decision_rows(train_df):
    """The rows the threshold and calibration are chosen on: real coverage not marked ambiguous
    when the training data holds some (the distribution users score, with labels experts agree
    on), else every row."""
    if "origin" not in train_df.columns:
        return None
    real = (train_df["origin"] == "real").to_numpy()
    if "ambiguous" in train_df.columns:
        real = real & train_df["ambiguous"].isin(["0", ""]).to_numpy()
    return real if real.any() else None


def summarise_oof(cfg: TrainConfig, oof: np.ndarray, labels: np.ndarray, fold_ids: np.ndarray, rows=None) -> dict:
    """Temperature, threshold and per-fold metrics from out-of-fold probabilities (of ``rows``,
    a boolean mask, when given)."""
    from .evaluation import compute_metrics
    from .models import apply_temperature, decide

    labels = np.asarray(labels, dtype=object)
    if rows is not None:
        oof, labels, fold_ids = oof[rows], labels[rows], np.asarray(fold_ids)[rows]
    y_idx = np.array([LABELS.index(lab) for lab in labels])
    temperature = fit_temperature(oof, y_idx) if cfg.calibrate else 1.0
    cal = apply_temperature(oof, temperature)
    threshold = best_threshold(cal[:, LABELS.index("myth")], labels == "myth") if cfg.tune_threshold else cfg.threshold
    per_fold = []
    for k in sorted(set(fold_ids.tolist())):
        m = fold_ids == k
        fm = compute_metrics(labels[m], decide(cal[m], threshold), cal[m])
        myths = int((labels[m] == "myth").sum())
        # a fold without a myth has no myth F1 (it is not 0): leave it out of the mean
        per_fold.append(
            {
                "myth_f1": fm["myth"]["f1"] if myths else None,
                "macro_f1": fm["macro_f1"],
                "ece": fm["ece"],
                "rows": int(m.sum()),
                "myths": myths,
            }
        )

    def spread(k):
        vals = [f[k] for f in per_fold if f[k] is not None]
        return {"mean": round(float(np.mean(vals)), 4), "std": round(float(np.std(vals)), 4), "folds": len(vals)}

    summary = {k: spread(k) for k in ("myth_f1", "macro_f1", "ece")}
    from .evaluation import average_precision

    return {
        "folds": len(per_fold),
        "temperature": round(temperature, 4),
        "threshold": threshold,
        "per_fold": per_fold,
        "summary": summary,
        "rows": int(len(labels)),
        "myth_ap": round(average_precision(labels == "myth", cal[:, LABELS.index("myth")]), 4),
    }


def training_frame(cfg: TrainConfig, labels_path=None, *, log=None, real_fraction: float = 1.0):
    """The rows a config trains on, as one DataFrame (text, label, category, context_before,
    article, stance, origin "labels"/"real", weight, fold), the test split, the extra pages and a
    record of the sources used. A source file that is absent (e.g. a fresh clone without
    ../shared) is skipped with a note through ``log``: the model then differs from one trained
    with it."""
    import pandas as pd

    from .data import file_digest, load_pages, load_real, load_splits, resolve_data_path

    log = log or (lambda msg: None)
    train_df, test_df = load_splits(labels_path)
    if cfg.exclude_batches:
        excluded = [cfg.exclude_batches] if isinstance(cfg.exclude_batches, str) else [str(b) for b in cfg.exclude_batches]
        batches = train_df["batch"].astype(str) if "batch" in train_df.columns else None
        unknown = sorted(set(excluded) - set(batches if batches is not None else []))
        if unknown:
            raise ConfigError(
                f"exclude_batches: no train sentences in batch(es) {unknown}",
                hint="the `batch` column of the label file holds the batch names",
            )
        train_df = train_df[~batches.isin(excluded)].reset_index(drop=True)
    frames, used = [], []
    if cfg.use_labels and not train_df.empty:
        w = train_df.copy()
        w["fold"] = fold_groups(cfg, train_df, min(cfg.cv_folds, 2))
        w["fold"] = "labels:" + w["fold"].astype(str)
        w["context_before"], w["stance"], w["origin"] = "", "", "labels"
        w["article"] = "labels:" + w["id"].astype(str)
        w["weight"] = float(cfg.labels_weight)
        frames.append(w)
        used.append({"path": "labels/", "rows": int(len(w)), "weight": float(cfg.labels_weight)})
    for src in cfg.sources:
        path = resolve_data_path(src["path"])
        if not path.exists():
            log(f"note: {src['path']} is absent ({path}); training without it, so this model differs from one trained with it")
            continue
        real = load_real(path)
        if real_fraction < 1.0:  # a learning curve: a random share of the pages (whole pages)
            import random

            pages = sorted(real["article"].unique())
            random.Random(cfg.seed).shuffle(pages)
            real = real[real["article"].isin(set(pages[: max(2, round(len(pages) * real_fraction))]))].reset_index(drop=True)
        real["origin"], real["weight"], real["fold"] = "real", float(src.get("weight", 1.0)), real["article"]
        frames.append(real)
        used.append(
            {
                "path": str(src["path"]),
                "rows": int(len(real)),
                "articles": int(real["article"].nunique()),
                "weight": float(src.get("weight", 1.0)),
                "sha256": file_digest(path),
            }
        )
    pages = []
    for spec in cfg.pages:
        path = resolve_data_path(spec["path"])
        if not path.exists():
            log(f"note: {spec['path']} is absent ({path}); the page model trains without it")
            continue
        got = load_pages(path)
        pages += got
        used.append({"path": str(spec["path"]), "pages": len(got), "sha256": file_digest(path)})
    if not frames:
        raise ConfigError(
            "nothing to train on: the train split is empty and no source file is present",
            hint="check the `split` column of the label files, or the config's [[sources]] paths",
        )
    cols = ["text", "label", "category", "context_before", "article", "stance", "origin", "weight", "fold", "split", "ambiguous"]
    df = pd.concat([f.reindex(columns=cols).astype({c: object for c in cols if c != "weight"}) for f in frames], ignore_index=True)
    df["weight"] = df["weight"].astype(float)
    text_cols = [c for c in cols if c != "weight"]
    df[text_cols] = df[text_cols].fillna("").astype(str)
    return df, test_df, pages, used


def train(
    config: TrainConfig | str | Path,
    *,
    labels_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    evaluate_test: bool = True,
    progress=None,
    log=None,
    real_fraction: float = 1.0,
):
    """Train a model from a config; returns (model, path, meta). ``log`` receives notes (e.g. an
    absent real-coverage source); ``real_fraction`` < 1 trains on that share of the real pages."""
    from .data import data_hash
    from .evaluation import evaluate_model, headline

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_file(config)
    train_df, test_df, pages, used = training_frame(cfg, labels_path, log=log, real_fraction=real_fraction)
    t0 = time.perf_counter()
    model = make_model(cfg.kind, dict(cfg.params))
    labels = train_df["label"].to_numpy(dtype=object)
    weights = train_df["weight"].to_numpy(dtype=float)
    cats = [c or None for c in train_df["category"]]
    decision_rows = _decision_rows(train_df)
    if model.reads_context:
        model.fit(
            train_df,
            labels,
            cats,
            groups=train_df["fold"].tolist(),
            sample_weight=weights,
            real=(train_df["origin"] == "real").to_numpy(),
            origin=train_df["origin"].tolist(),
            stance=train_df["stance"].tolist(),
            pages=pages,
            augment=swap_names,
        )
        rows = model.oof_rows_
        chosen = decision_rows[rows] if decision_rows is not None else None
        cv = summarise_oof(cfg, model.oof_proba_, labels[rows], model.oof_folds_, rows=chosen)
        if getattr(model, "alone_thresholds_", None):
            cv["alone"] = {
                "best_threshold_in_article": model.alone_thresholds_[0],
                "best_threshold_alone": model.alone_thresholds_[1],
                "myth_logit_shift": round(model.alone_shift, 4),
            }
    elif model.uses_groups:
        # the stacked kind cross-validates by group inside fit; its out-of-fold predictions give
        # the threshold and calibration, so the whole stack is not cross-validated a second time
        if len(set(train_df["fold"])) < model.inner_folds:
            raise ConfigError(
                f"cv_group = {cfg.cv_group!r}: {len(set(train_df['fold']))} distinct values for {model.inner_folds} folds",
                hint='use fewer folds (params.folds for a stack) or cv_group = "group"',
            )
        model.fit(
            train_df["text"].tolist(),
            labels,
            cats,
            groups=train_df["fold"].tolist(),
            sample_weight=weights if model.uses_weights else None,
            augment=swap_names,
        )
        cv = summarise_oof(cfg, model.oof_proba_, labels, model.oof_folds_, rows=decision_rows)
    else:
        cv = cross_validate(cfg, train_df, progress=progress) if cfg.cv_folds >= 2 and (cfg.tune_threshold or cfg.calibrate) else None
        model.fit(train_df["text"].tolist(), labels, cats, sample_weight=weights if model.uses_weights else None, augment=swap_names)
    model.decision = Decision(
        threshold=cv["threshold"] if cv else cfg.threshold, review_band=cfg.review_band, temperature=cv["temperature"] if cv else 1.0
    )
    decision = model.decision
    train_seconds = round(time.perf_counter() - t0, 2)
    written = train_df[train_df["origin"] == "labels"]
    meta: dict = {
        "description": cfg.description,
        "config": cfg.__dict__,
        "data_hash": data_hash(written) if not written.empty else None,
        "sources": used,
        "test_data_hash": data_hash(test_df) if not test_df.empty else None,
        "train_sentences": int(len(train_df)),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_seconds": train_seconds,
        "decision": decision.__dict__,
        "cv": cv,
    }
    if evaluate_test and not test_df.empty:
        m, _ = evaluate_model(model, test_df)
        meta["test_metrics"] = headline(m)
        meta["test_metrics_full"] = {
            k: m[k]
            for k in (
                "myth",
                "per_label",
                "per_category",
                "contrast_pairs",
                "confusion",
                "ece_myth",
                "keyword_baseline_myth",
                "keyword_baseline_pairs_myth",
            )
            if k in m
        }
    high, where = choose_high_threshold(model, cfg, oof=(cv, train_df, model), log=log)
    model.decision.high_threshold = high
    meta["decision"] = model.decision.__dict__
    meta["high_precision_point"] = {"target_precision": cfg.high_precision, "threshold": high, "chosen_on": where}
    for name, figures in selection_figures(model, cfg.selection, log=log).items():
        meta.setdefault("selection_metrics", {})[name] = figures
    if out_dir:
        path = Path(out_dir)
    else:
        from .fileio import atomic_write_text
        from .models import registry

        meta["version"] = registry.new_version()
        path = models_dir() / cfg.name / meta["version"]
    model.save(path, meta)
    if not out_dir:
        from .models import registry

        # `--model NAME` means NAME/CURRENT: while a version of NAME is the default it stays on the
        # default (it moves when a version is promoted, registry.set_default); otherwise the newest
        if registry.default_name_of(cfg.name) is None:
            atomic_write_text(models_dir() / cfg.name / "CURRENT", meta["version"] + "\n")
    return model, path, meta


def selection_figures(model, files, *, log=None) -> dict:
    """The model's headline figures on each selection file that is present (all rows, and the rows
    not marked ambiguous), read in their articles."""
    from .data import load_real, resolve_data_path
    from .evaluation import evaluate_model, headline

    out = {}
    for f in files:
        path = resolve_data_path(f)
        if not path.exists():
            if log:
                log(f"note: selection file {f} is absent ({path}); no real-coverage figures for it")
            continue
        df = load_real(path)
        for suffix, rows in (("", None), (" (unambiguous)", df["ambiguous"].isin(["0", ""]).to_numpy())):
            m, _ = evaluate_model(model, df, rows=rows)  # pages read whole, rows counted
            out[Path(f).name + suffix] = {**headline(m), "n": m["n"]}
    return out


def high_threshold_for(p_myth, is_myth, target: float) -> float | None:
    """The lowest threshold (0.30-0.98) whose flags reach ``target`` precision (most recall at that
    precision), None when none does."""
    p_myth, is_myth = np.asarray(p_myth, dtype=float), np.asarray(is_myth, dtype=bool)
    for t in np.round(np.arange(0.30, 0.985, 0.01), 2):
        flags = p_myth >= t
        if flags.sum() >= 3 and (flags & is_myth).sum() / flags.sum() >= target:
            return float(t)
    return None


def choose_high_threshold(model, cfg: TrainConfig, *, oof=None, log=None) -> tuple[float, str]:
    """The high-precision operating point: on the first selection file present (unambiguous rows,
    read in their articles: choosing, never fitting), else on the out-of-fold predictions of the
    real (or all) training rows. Falls back to the threshold plus the review band."""
    from .data import load_real, resolve_data_path

    fallback = min(0.99, model.decision.threshold + model.decision.review_band)
    for f in cfg.selection:
        path = resolve_data_path(f)
        if path.exists():
            df = load_real(path)
            rows = df["ambiguous"].isin(["0", ""]).to_numpy()  # pages read whole, unambiguous rows counted
            p = model.predict_all(df if model.reads_context else df["text"].tolist())[0][:, LABELS.index("myth")]
            t = high_threshold_for(p[rows], (df["label"] == "myth").to_numpy()[rows], cfg.high_precision)
            if t is not None:
                return max(t, model.decision.threshold), f"{Path(f).name} (unambiguous rows)"
            if log:
                log(
                    f"note: no threshold reaches precision {cfg.high_precision} on {f}; the high-precision point is the threshold + review band"
                )
            return fallback, "fallback"
    cv = oof[0] if oof else None
    if cv is not None and getattr(model, "oof_proba_", None) is not None:
        from .models import apply_temperature

        train_df = oof[1]
        rows = getattr(model, "oof_rows_", None)
        labels = train_df["label"].to_numpy(dtype=object)
        labels = labels[rows] if rows is not None else labels
        p = apply_temperature(model.oof_proba_, model.decision.temperature)[:, LABELS.index("myth")]
        t = high_threshold_for(p, labels == "myth", cfg.high_precision)
        if t is not None:
            return max(t, model.decision.threshold), "out-of-fold predictions"
    return fallback, "fallback"
