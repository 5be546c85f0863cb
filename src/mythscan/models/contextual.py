"""Sentences read in their article: the `context` kind.

On real coverage most wrong flags need context a sentence-only model never sees: a myth quoted
inside a list of misconceptions, a fragment whose claim lives in the sentence before, an accurate
sentence on a page that explains the research record. This kind reads each sentence with

- the sentence itself: sentence models (``members``: any sentence kinds, each trained on every
  row or, with ``train_on = "real"``, on the real rows only; by default an RBF-SVM on the MiniLM
  vector, layers 6 and 3, int8, as `embed`, on real rows, and TF-IDF logistic regression on all);
- the sentence before it: a logistic regression on both MiniLM vectors side by side, and the
  first member's P(myth) of the sentence before;
- the page: a page-stance model (`PageModel`: logistic regressions on the mean vector of the
  page's sentences and on the TF-IDF of its text, trained on the stance of real pages:
  repeats-myths, mixed, research-based, state-media, official, forum) and the myth density of the
  page's other sentences (mean, max and share of the first member's P(myth));
- framing cues of the sentence and of the sentence before (`stacking.CueFeatures`);
- optionally a model trained on the project's written labels alone (``written``: any kind, e.g.
  the `stack` recipe), whose probabilities carry what the written labels teach about framing.

A stage-2 logistic regression over those features gives the label probabilities. It is fitted on
out-of-fold member predictions for the real sentences (folds by article, so a page never helps
score itself). A second stage-2 head scores sentences classified on their own (no context, a
one-sentence page): it is fitted on the same real sentences each read alone and on the written
labels (with the written model's own out-of-fold scores), and its myth logit is shifted so that
one threshold serves both heads. Every member sees the same encoder pass: scoring an article costs
one MiniLM pass per sentence, like the sentence-only models.

Training data (`fit` keyword arguments, prepared by `training.train` from the config's sources):
``real`` marks the rows read in their article (the rows stage 2 learns from), ``origin`` the rows
of the project's own labels (what ``written`` trains on), ``stance`` each row's page stance, and
``pages`` extra pages with a stance only (list of (sentences, stance)) for the page model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import LABELS, BaseModel, LinearHead, Sentences, read_safetensors
from .kinds import make_model
from .stacking import CueFeatures

MYTH = LABELS.index("myth")


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-4, 1.0))


def _logit(t: float) -> float:
    t = min(max(t, 1e-4), 1 - 1e-4)
    return float(np.log(t / (1 - t)))


def _best_f1_threshold(p_myth: np.ndarray, is_myth: np.ndarray) -> float:
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        flags = p_myth >= t
        denom = flags.sum() + is_myth.sum()
        f = 2 * (flags & is_myth).sum() / denom if denom else 0.0
        if f > best_f + 1e-9:
            best_f, best_t = f, float(t)
    return best_t


class Standardised:
    """A LinearHead on standardised features (mean and scale kept as arrays)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, head: LinearHead):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.head = head
        self.classes_ = head.classes_

    @classmethod
    def fit(cls, X, y, C: float, seed: int, sample_weight=None) -> "Standardised":
        X = np.asarray(X, dtype=np.float64)
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        mean = np.average(X, axis=0, weights=w)
        scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
        scale[scale < 1e-9] = 1.0
        head = LinearHead.fit((X - mean) / scale, y, C=C, seed=seed, sample_weight=w)
        return cls(mean, scale, head)

    def predict_proba(self, X) -> np.ndarray:
        return self.head.predict_proba((np.asarray(X, dtype=np.float64) - self.mean) / self.scale)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}_mean": self.mean,
            f"{prefix}_scale": self.scale,
            f"{prefix}_coef": self.head.coef,
            f"{prefix}_intercept": self.head.intercept,
        }

    @classmethod
    def from_arrays(cls, t: dict, prefix: str, classes) -> "Standardised":
        return cls(t[f"{prefix}_mean"], t[f"{prefix}_scale"], LinearHead(t[f"{prefix}_coef"], t[f"{prefix}_intercept"], classes))


class PageModel:
    """Page stance (repeats-myths, mixed, research-based, state-media, official, forum) from two
    views of a page: a logistic regression on the mean MiniLM vector of its sentences, and one on
    word 1-2-gram TF-IDF of its text (which ranks myth-repeating pages better: ROC AUC 0.885 against
    0.80 out of fold on the real sample's pages, evaluate/README.md). Stage 2 reads both; users see
    their average."""

    def __init__(self, vec_head: LinearHead, tfidf_head: LinearHead, tfidf, tfidf_state: dict):
        self.vec_head, self.tfidf_head = vec_head, tfidf_head
        self.tfidf, self.tfidf_state = tfidf, tfidf_state  # a FastTfidf and its saved parameters
        self.classes_ = vec_head.classes_

    @classmethod
    def fit(cls, vectors: np.ndarray, texts: list[str], stances: list[str], C_vec: float, C_tfidf: float, seed: int) -> "PageModel":
        from sklearn.feature_extraction.text import TfidfVectorizer

        from .textfeatures import FastTfidf

        vec_head = LinearHead.fit(vectors, stances, C=C_vec, seed=seed)
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
        X = vectorizer.fit_transform(texts)
        tfidf_head = LinearHead.fit(X, stances, C=C_tfidf, seed=seed)
        vocab = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        state = {"params": {"analyzer": "word", "ngram_range": [1, 2], "lowercase": True, "sublinear_tf": True}, "vocabulary": vocab}
        tfidf = FastTfidf(state["params"], vocab, vectorizer.idf_)
        return cls(vec_head, tfidf_head, tfidf, state)

    def predict_proba(self, vectors: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(embedding view, TF-IDF view) stance probabilities of each page."""
        from .base import softmax
        from .textfeatures import FastUnion

        z = FastUnion([self.tfidf]).dot(texts, self.tfidf_head.coef) + self.tfidf_head.intercept
        return self.vec_head.predict_proba(vectors), softmax(z)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "page_coef": self.vec_head.coef,
            "page_intercept": self.vec_head.intercept,
            "page_tfidf_coef": self.tfidf_head.stored_coef(),
            "page_tfidf_intercept": self.tfidf_head.intercept,
            "page_tfidf_idf": np.ascontiguousarray(self.tfidf.idf, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, t: dict, classes, state: dict) -> "PageModel":
        from .textfeatures import FastTfidf

        return cls(
            LinearHead(t["page_coef"], t["page_intercept"], classes),
            LinearHead(t["page_tfidf_coef"], t["page_tfidf_intercept"], classes),
            FastTfidf(state["params"], state["vocabulary"], t["page_tfidf_idf"]),
            state,
        )


class ContextModel(BaseModel):
    kind = "context"
    reads_context = True
    uses_groups = True
    uses_weights = True

    def __init__(self, decision=None, params=None):
        super().__init__(decision, params)
        self.cues = CueFeatures(self.params.get("cues"))
        self.members: list[BaseModel] = []
        self.pair: LinearHead | None = None
        self.page: PageModel | None = None
        self.stage2: Standardised | None = None
        self.stage2_alone: Standardised | None = None
        self.alone_shift = 0.0
        self.fine_head: LinearHead | None = None
        self.written: BaseModel | None = None
        self.oof_proba_: np.ndarray | None = None
        self.oof_folds_: np.ndarray | None = None
        self.oof_rows_: np.ndarray | None = None

    # --- features -----------------------------------------------------------------------------
    @property
    def inner_folds(self) -> int:
        return int(self.params.get("folds", 5))

    def _vectors(self, texts: list[str]) -> np.ndarray:
        from .encoder import encode_cached

        p = self.params
        out = np.zeros((len(texts), 384 * len(p.get("layers") or [6])), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t]
        if keep:
            out[keep] = encode_cached([texts[i] for i in keep], quantized=bool(p.get("quantized", True)), layers=p.get("layers"))
        return out

    def _pair_input(self, e: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.hstack([e, float(self.params.get("context_scale", 0.7)) * c])

    def _page_vectors(self, sents: Sentences, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Each row's page vector (mean of its article's sentence vectors), article sizes, and the
        row indices of each article (in reading order)."""
        index: dict[str, list[int]] = {}
        for i, a in enumerate(sents.article):
            index.setdefault(a, []).append(i)
        page = np.zeros_like(e)
        size = np.zeros(len(e))
        for rows in index.values():
            page[rows] = e[rows].mean(0)
            size[rows] = len(rows)
        return page, size, index

    @staticmethod
    def _page_texts(sents: Sentences, index: dict) -> dict[str, str]:
        return {a: " ".join(sents.text[i] for i in rows) for a, rows in index.items()}

    def _stance(self, page: "PageModel", sents: Sentences, page_vec: np.ndarray, index: dict) -> np.ndarray:
        """Each row's page-stance probabilities, both views side by side (computed once a page)."""
        keys = list(index)
        firsts = [index[a][0] for a in keys]
        texts = self._page_texts(sents, index)
        by_vec, by_tfidf = page.predict_proba(page_vec[firsts], [texts[a] for a in keys])
        both = np.hstack([by_vec, by_tfidf])
        out = np.zeros((len(sents), both.shape[1]))
        for j, a in enumerate(keys):
            out[index[a]] = both[j]
        return out

    @staticmethod
    def _density(p_myth: np.ndarray, index: dict) -> np.ndarray:
        """Mean, max and share >= 0.5 of P(myth) over the other sentences of each row's article."""
        out = np.zeros((len(p_myth), 3))
        for rows in index.values():
            if len(rows) < 2:
                continue
            v = p_myth[rows]
            total, n = v.sum(), len(rows)
            order = np.sort(v)
            for j, i in enumerate(rows):
                others_max = order[-1] if v[j] != order[-1] else order[-2]
                out[i] = [(total - v[j]) / (n - 1), others_max, ((v >= 0.5).sum() - (v[j] >= 0.5)) / (n - 1)]
        return out

    def _stage2_inputs(self, sents: Sentences, member_p, pair_p, written_p, stance_p, p_context, index, size) -> np.ndarray:
        parts = [*(_log(m) for m in member_p), _log(pair_p)]
        if written_p is not None:
            parts.append(_log(written_p))
        if stance_p is not None:
            parts.append(_log(stance_p))
        parts += [
            self._density(member_p[0][:, MYTH], index),
            p_context[:, None],
            self.cues.transform(sents.text),
            self.cues.transform(sents.context),
            np.log1p(size)[:, None],
        ]
        return np.hstack(parts)

    def member_specs(self) -> list[dict]:
        specs = self.params.get("members") or [
            {
                "kind": "embed",
                "train_on": "real",
                "params": {"head": "svm", "quantized": True, "layers": [6, 3], "svm_support_dtype": "int8"},
            },
            {"kind": "tfidf", "params": {"C": 10.0, "min_df": 2, "coef_dtype": "float16"}},
        ]
        if not isinstance(specs, list) or any(not isinstance(x, dict) or "kind" not in x for x in specs):
            raise ModelError("params.members must be a list of tables with a `kind`", hint='[[params.members]] kind = "tfidf"')
        bad = [x.get("train_on") for x in specs if x.get("train_on", "all") not in ("all", "real")]
        if bad:
            raise ModelError(f'params.members: train_on must be "all" or "real", got {bad[0]!r}')
        return specs

    def _make_member(self, spec: dict) -> BaseModel:
        params = dict(spec.get("params", {}))
        params.setdefault("seed", self.params.get("seed", 0))
        m = make_model(spec["kind"], params)
        if m.reads_context:
            raise ModelError(f"member kind {spec['kind']!r} reads context itself", hint="members are sentence models")
        m.label_only = True  # their label probabilities feed stage 2; the category head is the model's own
        return m

    def _member_outputs(self, sents: Sentences, e, c, page_vec, index, members, pair: LinearHead, page: "PageModel | None"):
        """The members' label probabilities for rows whose sentence vectors are ``e`` and whose
        context vectors are ``c``; P(myth) of each context sentence comes from the first member."""
        member_p = [m._raw_proba(list(sents.text))[0] for m in members]
        pair_p = pair.predict_proba(self._pair_input(e, c))
        has_ctx = [i for i, t in enumerate(sents.context) if t]
        p_context = np.zeros(len(e))
        if has_ctx:
            p_context[has_ctx] = members[0]._raw_proba([sents.context[i] for i in has_ctx])[0][:, MYTH]
        stance_p = self._stance(page, sents, page_vec, index) if page is not None else None
        return member_p, pair_p, stance_p, p_context

    # --- training -----------------------------------------------------------------------------
    def _fit(self, sents: Sentences, labels, fine, groups=None, sample_weight=None, real=None, origin=None, stance=None, pages=None):
        from ..folds import group_folds

        p = self.params
        if not self.reads_articles:  # the ablation without context: every sentence read alone
            sents = sents.alone()
        seed = int(p.get("seed", 0))
        labels = np.asarray(labels, dtype=object)
        n = len(labels)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        real = np.zeros(n, bool) if real is None else np.asarray(real, dtype=bool)
        written_rows = ~real if origin is None else np.asarray([o == "labels" for o in origin])
        stance = np.asarray(["" if s is None else str(s) for s in (stance if stance is not None else [""] * n)], dtype=object)
        groups = np.asarray(groups if groups is not None else [f"#{i}" for i in range(n)], dtype=object)
        e = self._vectors(sents.text)
        c = self._vectors(sents.context)
        page_vec, size, index = self._page_vectors(sents, e)
        extra_pages = [(self._vectors(list(ss)).mean(0), " ".join(ss), st) for ss, st in (pages or []) if len(ss)]
        page_texts = self._page_texts(sents, index)
        use_page = self.reads_articles and bool(p.get("page", True)) and (any(stance[real] != "") or bool(extra_pages))
        use_written = p.get("written") is not None and real.any() and written_rows.any()
        cats = [f if f not in ("other", "myth", "accurate") else None for f in fine]
        # every row is out of fold once (real rows by article, written rows by their label group or
        # batch); the written model sees only written rows, so its scores of real rows are out of
        # sample, and written rows get its own out-of-fold scores
        splits = group_folds(labels, cats, groups, self.inner_folds, seed)
        fold_of = np.full(n, -1)
        for k, (_, va) in enumerate(splits):
            fold_of[va] = k
        written_p = None
        if use_written:
            self.written = self._make_written()
            wi = np.flatnonzero(written_rows)
            self.written.fit(
                sents.take(wi).alone(),
                labels[wi],
                [cats[i] for i in wi],
                category_kind=self.category_kind,
                groups=groups[wi],
                sample_weight=w[wi] if self.written.uses_weights else None,
                augment=self._augment,
            )
            written_p = self._written_proba(sents)
            own = getattr(self.written, "oof_proba_", None)
            if own is not None and len(own) == len(wi):
                written_p[wi] = own  # written rows: the written model's out-of-fold scores
            else:  # no honest scores of its own rows: stage 2 learns from the real rows only
                written_rows = np.zeros(n, bool)
        alone = sents.alone()
        # rows stage 2 learns from: real rows (in their article and alone) and, with a written
        # model that scores them out of fold or without one, written rows (alone); without real
        # rows, every row alone
        s2 = real | written_rows if real.any() else np.ones(n, bool)
        specs = self.member_specs()

        def members(train_rows):
            fitted = []
            for spec in specs:
                m = self._make_member(spec)
                rows = train_rows[real[train_rows]] if spec.get("train_on", "all") == "real" and real.any() else train_rows
                fitted.append(
                    m.fit(
                        [sents.text[i] for i in rows],
                        labels[rows],
                        [cats[i] for i in rows],
                        category_kind=self.category_kind,
                        sample_weight=w[rows] if m.uses_weights else None,
                        augment=self._augment,
                    )
                )
            pair = LinearHead.fit(
                self._pair_input(e[train_rows], c[train_rows]),
                labels[train_rows],
                C=float(p.get("context_C", 1.0)),
                seed=seed,
                sample_weight=w[train_rows],
            )
            page = self._fit_page(page_vec, page_texts, index, stance, train_rows, extra_pages, seed) if use_page else None
            return fitted, pair, page

        def features(rows, fitted, pair, page, as_alone: bool):
            sub = (alone if as_alone else sents).take(rows)
            er, cr = e[rows], (np.zeros_like(e[rows]) if as_alone else c[rows])
            if as_alone:
                pv, sz, ix = er, np.ones(len(rows)), {f"#{j}": [j] for j in range(len(rows))}
            else:
                pv, sz, ix = self._page_vectors(sub, er)
            member_p, pair_p, stance_p, p_ctx = self._member_outputs(sub, er, cr, pv, ix, fitted, pair, page)
            return self._stage2_inputs(sub, member_p, pair_p, None if written_p is None else written_p[rows], stance_p, p_ctx, ix, sz)

        Z_parts, y_parts, w_parts, fold_parts, row_parts, copy_parts = [], [], [], [], [], []
        alone_weight = float(p.get("alone_weight", 0.5))
        for k in range(len(splits)):
            val = np.flatnonzero((fold_of == k) & s2)
            fitted, pair, page = members(np.flatnonzero(fold_of != k))
            in_article = val[real[val]] if real.any() else val
            copies = val[real[val]] if real.any() and alone_weight > 0 else val[:0]
            for rows, as_alone, weight, is_copy in (
                (in_article, False, 1.0, False),
                (copies, True, alone_weight, True),
                (val[~real[val]] if real.any() else val[:0], True, 1.0, False),
            ):
                if not len(rows):
                    continue
                Z_parts.append(features(rows, fitted, pair, page, as_alone))
                y_parts.append(labels[rows])
                w_parts.append(w[rows] * weight)
                fold_parts.append(np.full(len(rows), k))
                row_parts.append(rows)
                copy_parts.append(np.full(len(rows), is_copy))
        Z, y, sw = np.vstack(Z_parts), np.concatenate(y_parts), np.concatenate(w_parts)
        folds, rows, copies = np.concatenate(fold_parts), np.concatenate(row_parts), np.concatenate(copy_parts)
        # two stage-2 heads: one for sentences read in an article (a page of several sentences or
        # a given context), one for sentences read alone (written rows, and each real sentence
        # read alone), whose page features say nothing
        alone_rows = copies | ((size[rows] == 1) & np.array([not sents.context[i] for i in rows]))
        C2 = float(p.get("stage2_C", 1.0))
        oof = np.zeros((len(Z), 3))
        heads = {}
        for name, mask in (("article", ~alone_rows), ("alone", alone_rows)):
            if not mask.any():
                continue
            for k in range(len(splits)):
                m = mask & (folds == k)
                if m.any():
                    oof[m] = Standardised.fit(Z[mask & ~m], y[mask & ~m], C2, seed, sw[mask & ~m]).predict_proba(Z[m])
            heads[name] = Standardised.fit(Z[mask], y[mask], C2, seed, sw[mask])
        self.stage2 = heads.get("article") or heads["alone"]
        self.stage2_alone = heads.get("alone") or heads["article"]
        # threshold and calibration come from the rows as users read them: the real rows in their
        # articles when there are any, else every row
        keep = ~copies & (real[rows] if real.any() else True)
        order = np.argsort(rows[keep], kind="stable")
        self.oof_rows_ = rows[keep][order]
        self.oof_proba_ = oof[keep][order]
        self.oof_folds_ = folds[keep][order]
        self.oof_alone_proba_ = oof[copies][np.argsort(rows[copies], kind="stable")] if copies.any() else None
        # one threshold serves both heads: the alone head's myth logit is shifted so that its best
        # out-of-fold threshold (real sentences read alone) lands where the article head's does
        self.alone_shift = 0.0
        if copies.any() and (~copies & ~alone_rows).any() and bool(p.get("align_alone", True)):
            t_article = _best_f1_threshold(oof[~copies & ~alone_rows][:, MYTH], y[~copies & ~alone_rows] == "myth")
            t_alone = _best_f1_threshold(oof[copies][:, MYTH], y[copies] == "myth")
            self.alone_shift = float(np.clip(_logit(t_article) - _logit(t_alone), -2.0, 2.0))
            self.alone_thresholds_ = (t_article, t_alone)
        every = np.arange(n)
        self.members, self.pair, self.page = members(every)
        self.fine_head = LinearHead.fit(e, fine, C=float(p.get("C", 4.0)), seed=seed, sample_weight=w)
        self.fine_classes_ = self.fine_head.classes_

    def _fit_page(self, page_vec, page_texts, index, stance, train_rows, extra_pages, seed) -> "PageModel":
        """The page-stance model from the training rows' articles (each once) and the extra pages
        (vector, text, stance)."""
        chosen = set(train_rows.tolist())
        X, T, y = [], [], []
        for a, rows in index.items():
            if rows[0] in chosen and stance[rows[0]]:
                X.append(page_vec[rows[0]])
                T.append(page_texts[a])
                y.append(stance[rows[0]])
        for vec, text, st in extra_pages:
            X.append(vec)
            T.append(text)
            y.append(st)
        if len(set(y)) < 2:
            raise ModelError(
                "the page-stance model needs pages of at least two stances", hint="add the real sample's pages or set page = false"
            )
        return PageModel.fit(
            np.stack(X), T, y, C_vec=float(self.params.get("page_C", 1.0)), C_tfidf=float(self.params.get("page_tfidf_C", 10.0)), seed=seed
        )

    def _make_written(self) -> BaseModel:
        spec = self.params["written"]
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ModelError("params.written must be a table with a `kind`", hint='e.g. [params.written] kind = "stack"')
        params = dict(spec.get("params", {}))
        params.setdefault("seed", self.params.get("seed", 0))
        m = make_model(spec["kind"], params)
        m.label_only = True  # only its label probabilities are read: no category head to store
        return m

    def _written_proba(self, sents: Sentences) -> np.ndarray:
        w = self.written
        return w._raw_proba(sents.alone() if w.reads_context else list(sents.text))[0]

    # --- scoring ------------------------------------------------------------------------------
    @property
    def reads_articles(self) -> bool:
        """False for the ablation ``context = false``: trained and scoring every sentence alone."""
        return bool(self.params.get("context", True))

    def _raw_proba(self, sents: Sentences):
        if not self.reads_articles:
            sents = sents.alone()
        e = self._vectors(sents.text)
        c = self._vectors(sents.context)
        page_vec, size, index = self._page_vectors(sents, e)
        member_p, pair_p, stance_p, p_ctx = self._member_outputs(sents, e, c, page_vec, index, self.members, self.pair, self.page)
        written_p = self._written_proba(sents) if self.written is not None else None
        Z = self._stage2_inputs(sents, member_p, pair_p, written_p, stance_p, p_ctx, index, size)
        fine = None if self.fine_head is None else self.fine_head.predict_proba(e)
        alone = (size == 1) & np.array([not t for t in sents.context])
        proba = np.zeros((len(Z), 3))
        for head, mask in ((self.stage2, ~alone), (self.stage2_alone, alone)):
            if mask.any():
                proba[mask] = head.predict_proba(Z[mask])
        if alone.any() and self.alone_shift:
            from .base import softmax

            logp = np.log(np.clip(proba[alone], 1e-12, 1.0))
            logp[:, MYTH] += self.alone_shift
            proba[alone] = softmax(logp)
        return proba, fine

    def page_stance(self, sents) -> dict[str, dict[str, float]]:
        """Each article's stance probabilities from the page model (empty without one)."""
        sents = Sentences.of(sents)
        if self.page is None or not len(sents):
            return {}
        if not self.reads_articles:
            sents = sents.alone()
        e = self._vectors(sents.text)
        page_vec, _, index = self._page_vectors(sents, e)
        keys = list(index)
        texts = self._page_texts(sents, index)
        by_vec, by_tfidf = self.page.predict_proba(page_vec[[index[a][0] for a in keys]], [texts[a] for a in keys])
        mean = (by_vec + by_tfidf) / 2
        return {a: {str(k): round(float(v), 4) for k, v in zip(self.page.classes_, mean[j])} for j, a in enumerate(keys)}

    # --- persistence --------------------------------------------------------------------------
    def _save_weights(self, path: Path):
        from safetensors.numpy import save_file

        arrays = {
            "pair_coef": self.pair.coef,
            "pair_intercept": self.pair.intercept,
            "fine_coef": self.fine_head.stored_coef(),
            "fine_intercept": self.fine_head.intercept,
            **self.stage2.arrays("s2"),
            **self.stage2_alone.arrays("s2alone"),
            "alone_shift": np.array([self.alone_shift], dtype=np.float64),
        }
        if self.page is not None:
            arrays.update(self.page.arrays())
            (path / "page_tfidf.json").write_text(json.dumps(self.page.tfidf_state, ensure_ascii=False))
        meta = {
            "label_classes": json.dumps([str(x) for x in self.pair.classes_]),
            "fine_classes": json.dumps([str(x) for x in self.fine_head.classes_]),
            "stage2_classes": json.dumps([str(x) for x in self.stage2.classes_]),
            "page_classes": json.dumps([str(x) for x in self.page.classes_] if self.page is not None else []),
        }
        save_file(arrays, str(path / "context.safetensors"), metadata=meta)
        (path / "cues.json").write_text(json.dumps(self.cues.cues, indent=2, ensure_ascii=False))
        spec = []
        for i, m in enumerate(self.members):
            sub = path / f"member{i}_{m.kind}"
            sub.mkdir(parents=True, exist_ok=True)
            m._save_weights(sub)
            spec.append({"kind": m.kind, "params": m.params})
        (path / "members.json").write_text(json.dumps(spec, indent=2))
        if self.written is not None:
            sub = path / f"written_{self.written.kind}"
            sub.mkdir(parents=True, exist_ok=True)
            self.written._save_weights(sub)
            (path / "written.json").write_text(
                json.dumps(
                    {
                        "kind": self.written.kind,
                        "params": self.written.params,
                        "fine_classes": [str(x) for x in (self.written.fine_classes_ if self.written.fine_classes_ is not None else [])],
                        "category_kind": self.written.category_kind,
                        "decision": self.written.decision.__dict__,
                    },
                    indent=2,
                )
            )

    def _load_weights(self, path: Path):
        from .base import Decision
        from .kinds import MODEL_KINDS

        t, md = read_safetensors(path / "context.safetensors")
        try:
            label_classes = json.loads(md["label_classes"])
            self.pair = LinearHead(t["pair_coef"], t["pair_intercept"], label_classes)
            self.fine_head = LinearHead(t["fine_coef"], t["fine_intercept"], json.loads(md["fine_classes"]))
            self.stage2 = Standardised.from_arrays(t, "s2", json.loads(md["stage2_classes"]))
            self.stage2_alone = Standardised.from_arrays(t, "s2alone", json.loads(md["stage2_classes"]))
            self.alone_shift = float(t["alone_shift"][0]) if "alone_shift" in t else 0.0
            page_classes = json.loads(md.get("page_classes", "[]"))
            self.page = (
                PageModel.from_arrays(t, page_classes, json.loads((path / "page_tfidf.json").read_text(encoding="utf-8")))
                if page_classes
                else None
            )
            self.cues = CueFeatures([tuple(x) for x in json.loads((path / "cues.json").read_text(encoding="utf-8"))])
            specs = json.loads((path / "members.json").read_text())
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(
                f"{path}: incomplete context model ({type(exc).__name__}: {exc})", hint="retrain with `mythscan train`"
            ) from None
        self.members = []
        for i, spec in enumerate(specs):
            m = MODEL_KINDS[spec["kind"]](params=spec.get("params", {}))
            m.label_only = True
            m._load_weights(path / f"member{i}_{spec['kind']}")
            self.members.append(m)
        spec_file = path / "written.json"
        self.written = None
        if spec_file.exists():
            spec = json.loads(spec_file.read_text())
            m = MODEL_KINDS[spec["kind"]](decision=Decision(**spec.get("decision", {})), params=spec.get("params", {}))
            m.fine_classes_ = np.asarray(spec["fine_classes"]) if spec.get("fine_classes") else None
            m.category_kind = dict(spec.get("category_kind", {}))
            m.label_only = m.fine_classes_ is None
            m._load_weights(path / f"written_{spec['kind']}")
            self.written = m
