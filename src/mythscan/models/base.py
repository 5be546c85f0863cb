"""The base of every classifier (scikit-learn conventions: fit / predict / predict_proba /
classes_), the sentences it reads, its decision rule and the heads it stores.

Every model predicts the label (myth / accurate / other) with probabilities, and a category.
Two heads share one featuriser: a 3-way label head and a fine head over `other` + every taxonomy
category; the category of a sentence is the best fine class of its predicted label's kind.

Saved models are directories: config.json, meta.json, README.md (card) and weights. Nothing is
pickled: fitted scikit-learn parts are stored as their arrays (safetensors) and JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError

LABELS = ["accurate", "myth", "other"]  # sorted, as scikit-learn orders classes_
FORMAT_VERSION = 1


@dataclass
class Sentences:
    """Sentences with what a reader sees around them: each row's text, the sentence before it in
    its article (``context``, "" for the first) and the article it belongs to (``article``: rows of
    one article share a key and stand in reading order). Every model accepts this, a plain list of
    sentences (each its own one-sentence article) or a DataFrame (`Sentences.of`); kinds that do
    not read context use ``text`` alone."""

    text: list[str]
    context: list[str]
    article: list[str]

    def __len__(self) -> int:
        return len(self.text)

    def __iter__(self):
        """The sentences' texts (as a plain list of sentences iterates)."""
        return iter(self.text)

    @classmethod
    def of(cls, X) -> "Sentences":
        """From Sentences, a sequence of strings, or a DataFrame with ``text`` and optionally
        ``context_before`` (or ``context``) and ``article`` (rows in reading order, or ordered by
        ``position``). With ``article`` but no context column, each row's context is the row
        before it in its article."""
        if isinstance(X, cls):
            return X
        if hasattr(X, "columns"):
            return cls.from_frame(X)
        if isinstance(X, str):
            raise ModelError("expected a list of sentences, got one string", hint="wrap it in a list")
        texts = ["" if t is None else str(t) for t in X]
        return cls(texts, [""] * len(texts), [f"#{i}" for i in range(len(texts))])

    @classmethod
    def from_frame(cls, df, text_column: str = "text", context_column: str | None = None, article_column: str | None = None) -> "Sentences":
        cols = list(df.columns)
        if text_column not in cols:
            raise ModelError(f"no {text_column!r} column; found {cols[:20]}", hint="name the column holding the sentences")
        texts = ["" if t is None else str(t) for t in df[text_column].tolist()]
        article_column = article_column or ("article" if "article" in cols else None)
        context_column = context_column or next((c for c in ("context_before", "context") if c in cols), None)
        for name in (context_column, article_column):
            if name is not None and name not in cols:
                raise ModelError(f"no {name!r} column; found {cols[:20]}", hint="check the column name")
        n = len(texts)
        articles = [str(a) for a in df[article_column].tolist()] if article_column else [f"#{i}" for i in range(n)]
        if context_column:
            context = ["" if (c is None or c != c) else str(c) for c in df[context_column].tolist()]
        elif article_column:
            order = list(range(n))
            if "position" in cols:
                pos = [float(p) if str(p).strip() not in ("", "nan") else i for i, p in enumerate(df["position"].tolist())]
                order.sort(key=lambda i: (articles[i], pos[i], i))
            else:
                order.sort(key=lambda i: (articles[i], i))
            context = [""] * n
            for prev, cur in zip(order, order[1:]):
                if articles[prev] == articles[cur]:
                    context[cur] = texts[prev]
        else:
            context = [""] * n
        return cls(texts, context, articles)

    def take(self, idx) -> "Sentences":
        return Sentences([self.text[i] for i in idx], [self.context[i] for i in idx], [self.article[i] for i in idx])

    def alone(self) -> "Sentences":
        """Every row as its own one-sentence article without context (how a sentence reads when
        it is classified on its own)."""
        return Sentences(list(self.text), [""] * len(self.text), [f"#alone{i}" for i in range(len(self.text))])


@dataclass
class Decision:
    """How probabilities become labels: myth when P(myth) >= threshold, else the likelier rest."""

    threshold: float = 0.5
    review_band: float = 0.15
    temperature: float = 1.0
    # the high-precision operating point (`--precision high`, the article verdict's "confident"
    # flags), chosen on labelled real coverage at training time; None for older models
    high_threshold: float | None = None

    def confident(self) -> float:
        """P(myth) of a confident flag: the high-precision operating point, or for models without
        one the threshold plus the review band."""
        return float(self.high_threshold) if self.high_threshold is not None else min(0.99, self.threshold + self.review_band)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_temperature(p: np.ndarray, t: float) -> np.ndarray:
    if abs(t - 1.0) < 1e-9:
        return p
    return softmax(np.log(np.clip(p, 1e-12, 1.0)) / t)


class LinearHead:
    """A multinomial logistic-regression head kept as plain arrays (coef, intercept, classes)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str]):
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)  # safetensors writes raw C-order memory
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.classes_ = np.asarray(list(classes))

    @classmethod
    def fit(cls, X, y, C: float = 1.0, seed: int = 0, class_weight="balanced", sample_weight=None) -> "LinearHead":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, random_state=seed)
        lr.fit(X, y, sample_weight=sample_weight)
        coef, intercept = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # binary LR stores one row; expand to two for softmax
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(coef, intercept, lr.classes_)

    def rounded(self, dtype: str | None) -> "LinearHead":
        """The head with its coefficients rounded to ``dtype`` ("float16" halves the saved size);
        fit-time code rounds before use, so a saved and reloaded model predicts exactly the same."""
        if dtype in (None, "float32"):
            return self
        if dtype != "float16":
            raise ModelError(f"coef_dtype must be float32 or float16, got {dtype!r}", hint="fix the training config")
        return LinearHead(self.coef.astype(np.float16), self.intercept, self.classes_)

    def stored_coef(self) -> np.ndarray:
        """The coefficients as saved: float16 when that is lossless (a head from `rounded`)."""
        half = self.coef.astype(np.float16)
        return half if np.array_equal(half.astype(np.float32), self.coef) else self.coef

    def predict_proba(self, X) -> np.ndarray:
        z = X @ self.coef.T
        z = np.asarray(z, dtype=np.float64) + self.intercept
        return softmax(z)


def _fine_targets(labels: Sequence[str], categories: Sequence[str | None]) -> list[str]:
    return [("other" if lab == "other" else (cat or lab)) for lab, cat in zip(labels, categories)]


class BaseModel:
    kind = "base"
    classes_ = np.array(LABELS)

    def __init__(self, decision: Decision | None = None, params: dict | None = None):
        self.decision = decision or Decision()
        self.params = dict(params or {})
        self.fine_classes_: np.ndarray | None = None
        self.category_kind: dict[str, str] = {}
        self.meta: dict = {}
        self.path: Path | None = None

    # --- to implement -------------------------------------------------------------------------
    def _fit(self, texts: list[str], labels: list[str], fine: list[str]) -> None:
        raise NotImplementedError

    def _raw_proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(label probabilities n x 3 in LABELS order, fine probabilities n x len(fine_classes_))."""
        raise NotImplementedError

    def _save_weights(self, path: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, path: Path) -> None:
        raise NotImplementedError

    # --- scikit-learn API ---------------------------------------------------------------------
    uses_groups = False  # kinds that cross-validate inside fit take paraphrase groups
    # Fold models (cross-validation, the stack's inner folds) only need label probabilities: with
    # label_only the category head is not fitted (it is ~3/4 of a TF-IDF fit) and _raw_proba
    # returns None for the categories.
    label_only = False

    # kinds that read each sentence in its article (context, page) take `Sentences` in _fit and
    # _raw_proba; the others get the plain texts
    reads_context = False

    def fit(
        self,
        texts,
        labels: Sequence[str],
        categories: Sequence[str | None] | None = None,
        category_kind: dict[str, str] | None = None,
        groups: Sequence[str] | None = None,
        sample_weight=None,
        augment=None,
        **fit_params,
    ):
        """``texts``: sentences, `Sentences` or a DataFrame (see `Sentences.of`); ``groups``: what
        inner cross-validation folds by (kinds with ``uses_groups``); ``sample_weight``: per-row
        weights (kinds with ``uses_weights``; others refuse weights other than 1); ``fit_params``: what
        kinds that read context learn from besides labels (`contextual.ContextModel._fit`);
        ``augment``: what the ``name_swap`` param calls to add renamed copies of the training rows,
        ``augment(texts, labels, fine, groups, weights, seed=)`` (training hands in
        `mythscan.augment.swap_names`; the model stage reads no label data of its own)."""
        sents = Sentences.of(texts)
        texts, labels = list(sents.text), [str(lab) for lab in labels]
        bad = sorted(set(labels) - set(LABELS))
        if bad:
            raise ModelError(f"unknown labels {bad}", hint=f"labels must be one of {LABELS}")
        categories = list(categories) if categories is not None else [None] * len(labels)
        fine = _fine_targets(labels, categories)
        self.category_kind = dict(category_kind or {})
        for lab, f in zip(labels, fine):
            if f not in ("other", "myth", "accurate"):
                self.category_kind.setdefault(f, lab)
        groups = [str(g) for g in groups] if groups is not None else [str(i) for i in range(len(texts))]
        w = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(w) != len(labels):
            raise ModelError(f"{len(w)} sample weights for {len(labels)} rows")
        if not self.uses_weights and not np.allclose(w, 1.0):
            raise ModelError(f"the {self.kind} kind does not take sample weights", hint="use tfidf, embed, ensemble, stack or context")
        self._augment = augment  # kinds that fit fold models inside fit hand it on
        if self.params.get("name_swap"):
            if self.reads_context:
                raise ModelError("name_swap is not available for kinds that read context", hint="remove name_swap from the config")
            if augment is None:
                raise ModelError(
                    "name_swap needs the augmentation: fit(..., augment=mythscan.augment.swap_names)",
                    hint="`mythscan train` passes it; or remove name_swap from the params",
                )
            texts, labels, fine, groups, w = augment(texts, labels, fine, groups, list(w), seed=int(self.params.get("seed", 0)))
        extra = {"sample_weight": np.asarray(w, dtype=float)} if self.uses_weights else {}
        if self.uses_groups:
            extra["groups"] = groups
        if fit_params and not self.reads_context:
            raise ModelError(f"the {self.kind} kind takes no {sorted(fit_params)}")
        if self.reads_context:
            self._fit(sents, labels, fine, **extra, **fit_params)
        else:
            self._fit(texts, labels, fine, **extra)
        return self

    uses_weights = False  # kinds whose _fit takes sample_weight

    def predict_proba(self, texts) -> np.ndarray:
        return self.predict_all(texts)[0]

    def predict_all(self, texts, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """Label probabilities (calibrated), labels after the myth threshold (the model's unless
        ``threshold`` is given), and categories. ``texts``: sentences, `Sentences` or a DataFrame."""
        sents = Sentences.of(texts)
        if not len(sents):
            return np.zeros((0, 3)), np.array([], dtype=object), []
        proba, fine = self._raw_proba(sents if self.reads_context else list(sents.text))
        proba = apply_temperature(proba, self.decision.temperature)
        labels = decide(proba, self.decision.threshold if threshold is None else threshold)
        cats = self._categories(labels, fine)
        return proba, labels, cats

    def predict(self, texts) -> np.ndarray:
        return self.predict_all(texts)[1]

    def _categories(self, labels: np.ndarray, fine: np.ndarray) -> list[str | None]:
        out: list[str | None] = []
        names = list(self.fine_classes_)
        kinds = np.array([self.category_kind.get(n, n if n in LABELS else "other") for n in names])
        for lab, row in zip(labels, fine):
            if lab == "other":
                out.append(None)
                continue
            mask = kinds == lab
            if not mask.any():
                out.append(None)
                continue
            masked = np.where(mask, row, -1.0)
            best = names[int(masked.argmax())]
            out.append(best if best not in LABELS else None)
        return out

    # --- persistence --------------------------------------------------------------------------
    def config(self) -> dict:
        return {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "labels": LABELS,
            "fine_classes": [str(c) for c in self.fine_classes_] if self.fine_classes_ is not None else [],
            "category_kind": self.category_kind,
            "decision": asdict(self.decision),
            "params": self.params,
        }

    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        from .persistence import write_model_dir

        if self.label_only:
            raise ModelError(
                "a label_only fold model has no category head and cannot be saved", hint="fit the model without label_only to save it"
            )
        return write_model_dir(self, Path(path), meta or self.meta)


def decide(proba: np.ndarray, threshold: float) -> np.ndarray:
    """myth if P(myth) >= threshold, else the likelier of accurate/other."""
    im, ia, io = LABELS.index("myth"), LABELS.index("accurate"), LABELS.index("other")
    rest = np.where(proba[:, ia] >= proba[:, io], "accurate", "other")
    return np.where(proba[:, im] >= threshold, "myth", rest).astype(object)


_VEC_PARAMS = (
    "analyzer",
    "ngram_range",
    "lowercase",
    "sublinear_tf",
    "min_df",
    "norm",
    "use_idf",
    "smooth_idf",
    "strip_accents",
    "token_pattern",
)


def rbf_kernel(X: np.ndarray, Y: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma * |x - y|^2) for unit-norm rows (|x - y|^2 = 2 - 2 x.y)."""
    sq = 2.0 - 2.0 * (np.asarray(X, dtype=np.float32) @ np.asarray(Y, dtype=np.float32).T)
    np.clip(sq, 0.0, None, out=sq)
    sq *= -gamma
    return np.exp(sq, out=sq)


def _quantize(X: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows as stored: float16, or int8 with a per-row scale (max |x| / 127)."""
    if dtype == "float16":
        return X.astype(np.float16), None
    scale = (np.abs(X).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    return np.clip(np.rint(X / scale[:, None]), -127, 127).astype(np.int8), scale


def _dequantize(stored: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    out = stored.astype(np.float32)
    if scale is not None:
        out *= scale[:, None]
    return out


class SvmHead:
    """An RBF-kernel SVM (scikit-learn's SVC, one-vs-one) kept as arrays, with probabilities from a
    multinomial logistic regression on its one-vs-one decision values, fitted on out-of-fold
    decision values so that they are not the overconfident in-sample ones. Applied with numpy
    (parity with SVC.decision_function is tested)."""

    def __init__(
        self,
        support: np.ndarray,
        dual_coef: np.ndarray,
        intercept: np.ndarray,
        n_support: np.ndarray,
        gamma: float,
        calibrator: LinearHead,
        classes: Sequence[str],
        support_scale: np.ndarray | None = None,
    ):
        # support vectors are stored small: half precision (~0.75 KB a 384-float vector), or int8
        # with one float32 scale per vector (``support_scale``; half that again, for layer mixes)
        if support_scale is None:
            self.support = np.ascontiguousarray(support, dtype=np.float16)
            self.support_scale = None
        else:
            self.support = np.ascontiguousarray(support, dtype=np.int8)
            self.support_scale = np.ascontiguousarray(support_scale, dtype=np.float32)
        self._support32 = _dequantize(self.support, self.support_scale)
        self.dual_coef = np.ascontiguousarray(dual_coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.n_support = np.asarray(n_support, dtype=np.int64)
        self.gamma = float(gamma)
        self.calibrator = calibrator
        self.classes_ = np.asarray(list(classes))

    @staticmethod
    def _svc(C, gamma, seed):
        from sklearn.svm import SVC

        return SVC(C=C, gamma=gamma, kernel="rbf", class_weight="balanced", decision_function_shape="ovo", random_state=seed)

    @classmethod
    def fit(
        cls, X, y, C: float = 4.0, gamma: float = 1.0, seed: int = 0, folds: int = 3, support_dtype: str = "float16", sample_weight=None
    ) -> "SvmHead":
        """``sample_weight`` scales each row's C (and its weight in the calibration), e.g. to let
        the project's written sentences count less than real coverage."""
        from sklearn.model_selection import StratifiedKFold

        if support_dtype not in ("float16", "int8"):
            raise ModelError(f"svm support_dtype must be float16 or int8, got {support_dtype!r}", hint="fix the training config")
        stored, scale = _quantize(np.asarray(X, dtype=np.float32), support_dtype)
        X = _dequantize(stored, scale)  # fit on what is stored, so saving changes nothing
        y = np.asarray(y, dtype=object)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        oof = None
        for tr, va in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            svc = cls._svc(C, gamma, seed).fit(X[tr], y[tr], sample_weight=None if w is None else w[tr])
            dec = svc.decision_function(X[va])
            oof = np.zeros((len(X), dec.shape[1])) if oof is None else oof
            oof[va] = dec
        svc = cls._svc(C, gamma, seed).fit(X, y, sample_weight=w)
        cal = LinearHead.fit(oof, y, C=1.0, seed=seed, sample_weight=w)
        sv = svc.support_
        return cls(
            stored[sv],
            svc.dual_coef_,
            svc.intercept_,
            svc.n_support_,
            gamma,
            cal,
            svc.classes_,
            support_scale=None if scale is None else scale[sv],
        )

    def decision(self, X, chunk: int = 512) -> np.ndarray:
        """One-vs-one decision values, pairs (0,1), (0,2), ..., (1,2), ... as in libsvm; the kernel
        matrix is built ``chunk`` rows at a time, so memory stays flat for long inputs."""
        X = np.asarray(X, dtype=np.float32)
        starts = np.concatenate([[0], np.cumsum(self.n_support)])
        k = len(self.n_support)
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        out = np.empty((len(X), len(pairs)), dtype=np.float64)
        for lo in range(0, len(X), chunk):
            K = rbf_kernel(X[lo : lo + chunk], self._support32, self.gamma)
            for p, (i, j) in enumerate(pairs):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                out[lo : lo + chunk, p] = K[:, si] @ self.dual_coef[j - 1, si] + K[:, sj] @ self.dual_coef[i, sj]
        return out + self.intercept

    def predict_proba(self, X) -> np.ndarray:
        return self.calibrator.predict_proba(self.decision(X))

    def arrays(self) -> dict[str, np.ndarray]:
        support = (
            {"svm_support": self.support}
            if self.support_scale is None
            else {"svm_support_q": self.support, "svm_support_scale": self.support_scale}
        )
        return {
            **support,
            "svm_dual_coef": self.dual_coef,
            "svm_intercept": self.intercept,
            "svm_n_support": self.n_support,
            "svm_gamma": np.array([self.gamma], dtype=np.float32),
            "svm_cal_coef": self.calibrator.coef,
            "svm_cal_intercept": self.calibrator.intercept,
        }

    @classmethod
    def from_arrays(cls, t: dict, classes: Sequence[str]) -> "SvmHead":
        cal = LinearHead(t["svm_cal_coef"], t["svm_cal_intercept"], classes)
        support = t["svm_support"] if "svm_support" in t else t["svm_support_q"]
        return cls(
            support,
            t["svm_dual_coef"],
            t["svm_intercept"],
            t["svm_n_support"],
            float(t["svm_gamma"][0]),
            cal,
            classes,
            support_scale=t.get("svm_support_scale"),
        )


def save_heads(file: Path, label_head: "LinearHead | SvmHead", fine_head: LinearHead | None) -> None:
    """The label head and the category head (None for a label-only member of a larger model)."""
    from safetensors.numpy import save_file

    label = (
        label_head.arrays()
        if isinstance(label_head, SvmHead)
        else {"label_coef": label_head.stored_coef(), "label_intercept": label_head.intercept}
    )
    fine = {} if fine_head is None else {"fine_coef": fine_head.stored_coef(), "fine_intercept": fine_head.intercept}
    save_file(
        {**label, **fine},
        str(file),
        metadata={
            "label_classes": json.dumps([str(c) for c in label_head.classes_]),
            "fine_classes": json.dumps([str(c) for c in fine_head.classes_] if fine_head is not None else []),
        },
    )


def read_safetensors(file: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a missing, truncated or corrupt file is a
    ModelError that names it (safetensors' own errors do not)."""
    from safetensors import SafetensorError, safe_open

    if not Path(file).exists():
        raise ModelError(f"{file}: missing", hint="the model directory is incomplete; retrain with `mythscan train`")
    try:
        with safe_open(str(file), framework="numpy") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(
            f"{file}: unreadable safetensors file ({exc})", hint="the model directory is damaged; retrain with `mythscan train`"
        ) from None


def load_heads(file: Path) -> "tuple[LinearHead | SvmHead, LinearHead]":
    t, md = read_safetensors(file)
    try:
        label_classes = json.loads(md["label_classes"])
        label = (
            SvmHead.from_arrays(t, label_classes)
            if "svm_support" in t or "svm_support_q" in t
            else LinearHead(t["label_coef"], t["label_intercept"], label_classes)
        )
        fine = LinearHead(t["fine_coef"], t["fine_intercept"], json.loads(md["fine_classes"])) if "fine_coef" in t else None
        return label, fine
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{file}: incomplete heads (no {exc})", hint="retrain with `mythscan train`") from None
