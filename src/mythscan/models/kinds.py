"""The model kinds by name, how to make one and how to load a saved one.

Kinds defined here:
- ``tfidf``: word 1-2 + char 3-5 TF-IDF, logistic regression (vocabulary JSON + safetensors).
- ``embed``: frozen MiniLM embeddings (onnxruntime), logistic-regression or RBF-SVM heads (safetensors).
- ``ensemble``: the weighted average of member models' probabilities (weights in config).
Heavier kinds (``stack``, ``context``, ``attn``, ``finetune``) live in their own modules and are
imported on first use.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import _VEC_PARAMS, BaseModel, Decision, LinearHead, SvmHead, load_heads, read_safetensors, save_heads, softmax
from .persistence import read_model_config, resolve_model_path


class TfidfModel(BaseModel):
    kind = "tfidf"
    uses_weights = True

    def _vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        from .textfeatures import NEGATION_PATTERN, negation_scope

        p = self.params
        # negation_scope: word n-grams inside a negation's scope are marked (textfeatures.py)
        neg = {"preprocessor": negation_scope, "token_pattern": NEGATION_PATTERN} if p.get("negation_scope") else {}
        return FeatureUnion(
            [
                ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=p.get("min_df", 1), sublinear_tf=True, lowercase=True, **neg)),
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(3, 5),
                        min_df=p.get("min_df", 1),
                        sublinear_tf=True,
                        max_features=p.get("max_char_features", 60000),
                    ),
                ),
            ]
        )

    vectorizer = None

    def _fit(self, texts, labels, fine, sample_weight=None):
        self.vectorizer = self._vectorizer()
        X = self.vectorizer.fit_transform(texts)
        C, seed = self.params.get("C", 10.0), self.params.get("seed", 0)
        dtype = self.params.get("coef_dtype")
        w = sample_weight
        self.label_head = LinearHead.fit(X, labels, C=C, seed=seed, sample_weight=w).rounded(dtype)
        self.fine_head = None if self.label_only else LinearHead.fit(X, fine, C=C, seed=seed, sample_weight=w).rounded(dtype)
        self.fine_classes_ = None if self.label_only else self.fine_head.classes_

    def _save_weights(self, path):
        # The fitted vectorizers are kept as their parts (vocabulary as JSON, idf as safetensors)
        # rather than a skops tree: skops took ~11 s to load a 100k-term vocabulary, this takes ms.
        from safetensors.numpy import save_file

        from .textfeatures import PREPROCESSORS

        state, arrays = getattr(self, "_state", ({}, {}))
        for name, vec in self.vectorizer.transformer_list if self.vectorizer is not None else []:
            vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
            params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vec.get_params().items() if k in _VEC_PARAMS}
            if vec.preprocessor is not None:
                params["preprocess"] = next(k for k, f in PREPROCESSORS.items() if f is vec.preprocessor)
            state[name] = {"params": params, "vocabulary": vocab}
            arrays[f"{name}_idf"] = np.ascontiguousarray(vec.idf_, dtype=np.float64)
        (path / "vectorizer.json").write_text(json.dumps(state, ensure_ascii=False))
        save_file(arrays, str(path / "vectorizer.safetensors"))
        save_heads(path / "heads.safetensors", self.label_head, self.fine_head)

    def _load_weights(self, path):
        from .textfeatures import FastTfidf, FastUnion

        arrays = read_safetensors(path / "vectorizer.safetensors")[0]
        try:
            state = json.loads((path / "vectorizer.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: vectorizer files missing or unreadable ({exc})", hint="retrain with `mythscan train`") from None
        self.vectorizer = None  # scikit-learn is not needed to apply a saved model
        self._state = (state, arrays)
        self.fast = FastUnion([FastTfidf(st["params"], st["vocabulary"], arrays[f"{name}_idf"]) for name, st in state.items()])
        self.label_head, self.fine_head = load_heads(path / "heads.safetensors")

    def _raw_proba(self, texts):
        if self.vectorizer is not None:
            X = self.vectorizer.transform(texts)
            return self.label_head.predict_proba(X), (None if self.fine_head is None else self.fine_head.predict_proba(X))
        if self.fine_head is None:  # a label-only member
            return softmax(self.fast.dot(texts, self.label_head.coef) + self.label_head.intercept), None
        both = np.vstack([self.label_head.coef, self.fine_head.coef])
        z = self.fast.dot(texts, both)
        k = len(self.label_head.coef)
        return (softmax(z[:, :k] + self.label_head.intercept), softmax(z[:, k:] + self.fine_head.intercept))


class EmbedModel(BaseModel):
    """Frozen MiniLM sentence embeddings + logistic-regression heads.

    With ``head = "svm"`` the label head is an RBF-kernel SVM on the embeddings (`SvmHead`), which
    separates the labels far better than a linear head on MiniLM (see evaluate/README.md); the
    category head stays linear. ``layers`` (e.g. [6, 3]) pools several encoder layers (`Encoder`)."""

    kind = "embed"
    uses_weights = True

    def _features(self, texts: list[str]) -> np.ndarray:
        from .encoder import encode_cached

        return encode_cached(
            texts,
            quantized=bool(self.params.get("quantized", False)),
            batch_size=self.params.get("batch_size"),
            layers=self.params.get("layers"),
        )

    def _fit(self, texts, labels, fine, sample_weight=None):
        X = self._features(texts)
        C, seed, w = self.params.get("C", 4.0), self.params.get("seed", 0), sample_weight
        if self.params.get("head", "linear") == "svm":
            self.label_head = SvmHead.fit(
                X,
                labels,
                C=self.params.get("svm_C", 4.0),
                gamma=self.params.get("gamma", 1.0),
                seed=seed,
                support_dtype=self.params.get("svm_support_dtype", "float16"),
                sample_weight=w,
            )
        else:
            self.label_head = LinearHead.fit(X, labels, C=C, seed=seed, sample_weight=w)
        self.fine_head = None if self.label_only else LinearHead.fit(X, fine, C=C, seed=seed, sample_weight=w)
        self.fine_classes_ = None if self.label_only else self.fine_head.classes_

    def _raw_proba(self, texts):
        X = self._features(texts)
        return self.label_head.predict_proba(X), (None if self.fine_head is None else self.fine_head.predict_proba(X))

    def _save_weights(self, path):
        save_heads(path / "heads.safetensors", self.label_head, self.fine_head)

    def _load_weights(self, path):
        self.label_head, self.fine_head = load_heads(path / "heads.safetensors")


class EnsembleModel(BaseModel):
    """Weighted average of member models' probabilities (members trained on the same data)."""

    kind = "ensemble"
    uses_weights = True

    def __init__(self, decision=None, params=None, members: list[BaseModel] | None = None):
        super().__init__(decision, params)
        self.members = members or []

    def _fit(self, texts, labels, fine, sample_weight=None):
        if not self.members:
            kinds = self.params.get("members", ["embed", "tfidf"])
            sub = self.params.get("member_params", {})
            self.members = [MODEL_KINDS[k](params=sub.get(k, {})) for k in kinds]
        for m in self.members:
            m.category_kind = self.category_kind
            m.label_only = self.label_only
            m._fit(texts, labels, fine, **({"sample_weight": sample_weight} if m.uses_weights else {}))
        self.fine_classes_ = self.members[0].fine_classes_
        for m in self.members[1:] if not self.label_only else []:
            if list(m.fine_classes_) != list(self.fine_classes_):
                raise ModelError("ensemble members disagree on classes")

    def _weights(self) -> np.ndarray:
        w = np.asarray(self.params.get("weights") or [1.0] * len(self.members), dtype=float)
        return w / w.sum()

    def member_proba(self, texts):
        """(weighted label probabilities, weighted category probabilities, each member's label probabilities)."""
        w = self._weights()
        parts = [m._raw_proba(texts) for m in self.members]
        label = sum(wi * p[0] for wi, p in zip(w, parts))
        fine = None if any(p[1] is None for p in parts) else sum(wi * p[1] for wi, p in zip(w, parts))
        return label, fine, [p[0] for p in parts]

    def _raw_proba(self, texts):
        label, fine, _ = self.member_proba(texts)
        return label, fine

    def _save_weights(self, path):
        for i, m in enumerate(self.members):
            sub = path / f"member{i}_{m.kind}"
            sub.mkdir(parents=True, exist_ok=True)
            m.fine_classes_ = self.fine_classes_
            m._save_weights(sub)
        (path / "members.json").write_text(json.dumps([{"kind": m.kind, "params": m.params} for m in self.members], indent=2))

    def _load_weights(self, path):
        spec = json.loads((path / "members.json").read_text())
        self.members = []
        for i, s in enumerate(spec):
            m = MODEL_KINDS[s["kind"]](params=s.get("params", {}))
            m._load_weights(path / f"member{i}_{s['kind']}")
            m.fine_classes_ = self.fine_classes_
            m.category_kind = self.category_kind
            self.members.append(m)


# Kinds imported only when asked for (torch-trained or heavier modules): kind -> (module, class).
_LAZY_KINDS = {
    "finetune": (".finetune", "FinetuneModel"),
    "attn": (".attention", "AttentionModel"),
    "context": (".contextual", "ContextModel"),
    "stack": (".stacking", "StackModel"),
}


class _Kinds(dict):
    """Model kinds by name; those in ``_LAZY_KINDS`` are imported on first use."""

    def __missing__(self, kind):
        if kind not in _LAZY_KINDS:
            raise KeyError(kind)
        import importlib

        module, name = _LAZY_KINDS[kind]
        cls = self[kind] = getattr(importlib.import_module(module, __package__), name)
        return cls

    def __contains__(self, kind):
        return kind in _LAZY_KINDS or dict.__contains__(self, kind)

    def names(self) -> list[str]:
        return sorted({*self.keys(), *_LAZY_KINDS})


MODEL_KINDS: dict[str, type[BaseModel]] = _Kinds(tfidf=TfidfModel, embed=EmbedModel, ensemble=EnsembleModel)


def make_model(kind: str, params: dict | None = None, decision: Decision | None = None) -> BaseModel:
    if kind not in MODEL_KINDS:
        raise ModelError(f"unknown model kind {kind!r}", hint=f"choose one of {MODEL_KINDS.names()}")
    return MODEL_KINDS[kind](decision=decision, params=params)


def load_model(name_or_path: str | Path | None = None) -> BaseModel:
    """A saved model: a name under models/ (``context``, ``context/v2026...``), a directory, or the
    default (models/DEFAULT)."""
    path = resolve_model_path(name_or_path)
    config, meta = read_model_config(path)
    kind = config.get("kind")
    if kind not in MODEL_KINDS:
        raise ModelError(f"{path}: unknown model kind {kind!r}", hint="this mythscan may be older than the model")
    try:
        decision = Decision(**config.get("decision", {}))
    except TypeError as exc:
        raise ModelError(f"{path / 'config.json'}: bad `decision` ({exc})", hint="retrain the model") from None
    model = MODEL_KINDS[kind](decision=decision, params=config.get("params", {}))
    model.fine_classes_ = np.asarray(config["fine_classes"])
    model.category_kind = dict(config.get("category_kind", {}))
    try:
        model._load_weights(path)
    except KeyError as exc:  # a model file (members.json, base.json, ...) lacks a field
        raise ModelError(
            f"{path}: a model file lacks the key {exc}", hint="the model directory is incomplete; retrain it with `mythscan train`"
        ) from None
    model.meta = meta
    model.path = path
    return model
