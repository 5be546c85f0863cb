"""Inference-time TF-IDF features without importing scikit-learn.

Importing scikit-learn pulls in scipy.stats and pandas (~1.5 s on 2 cores), three times the rest
of a cold `mythscan score`. Training still uses scikit-learn's TfidfVectorizer; at inference this
module applies the fitted vocabulary and idf weights with the same analyzers (word n-grams with
the default token pattern, `char_wb` n-grams), sublinear tf and l2 norm. A test checks it matches
scikit-learn's `transform` on real sentences.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import repeat

import numpy as np

_WHITE = re.compile(r"\s\s+")

# Negation scope for word n-grams: after a negator, words are prefixed ``NEG_`` up to the next
# punctuation mark, so "there is no single score" yields NEG_single / NEG_score rather than the
# myth's own "single score". A CV experiment on the train split (tfidf alone, 5 group folds): myth
# F1 0.888 -> 0.894, AP 0.949 -> 0.955, contrast pairs 0.784 -> 0.802. Off in every config: inside
# the default stack it lowered real-coverage myth AP in two trainings (evaluate/README.md).
_NEGATORS = frozenset(
    "not no never none nobody nothing nowhere neither nor cannot without hardly isn aren wasn weren "
    "doesn don didn won can couldn shouldn far myth false wrong untrue".split())
_NEG_TOKENS = re.compile(r"(?u)\b\w\w+\b|[.,;:!?]")
NEGATION_PATTERN = r"\S+"  # the token pattern for text that negation_scope has rewritten


def negation_scope(doc: str) -> str:
    """Lower-cased words of ``doc`` joined by spaces, with those in a negation's scope marked."""
    out, neg = [], False
    for tok in _NEG_TOKENS.findall(doc.lower()):
        if tok in ".,;:!?":
            neg = False
            continue
        out.append("NEG_" + tok if neg else tok)
        if tok in _NEGATORS:
            neg = True
    return " ".join(out)


PREPROCESSORS = {"negation_scope": negation_scope}


class FastTfidf:
    def __init__(self, params: dict, vocabulary: list[str], idf: np.ndarray):
        self.analyzer = params.get("analyzer", "word")
        self.ngram_range = tuple(params.get("ngram_range", (1, 1)))
        self.lowercase = params.get("lowercase", True)
        self.sublinear_tf = params.get("sublinear_tf", False)
        self.norm = params.get("norm", "l2")
        self.token_pattern = re.compile(params.get("token_pattern") or r"(?u)\b\w\w+\b")
        self.preprocess = PREPROCESSORS[params["preprocess"]] if params.get("preprocess") else None
        if params.get("strip_accents") or not params.get("use_idf", True):
            raise ValueError("unsupported vectorizer settings for the fast path")
        self.index = {t: i for i, t in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def _terms(self, doc: str) -> list[str]:
        """The analyzer's terms, in scikit-learn's order and multiplicity."""
        if self.preprocess is not None:  # scikit-learn skips lowercasing when given a preprocessor
            doc = self.preprocess(doc)
        elif self.lowercase:
            doc = doc.lower()
        lo, hi = self.ngram_range
        if self.analyzer == "word":
            toks = self.token_pattern.findall(doc)
            terms = list(toks) if lo == 1 else []
            for n in range(max(lo, 2), hi + 1):
                terms += [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
            return terms
        if self.analyzer == "char_wb":
            terms = []
            for w in _WHITE.sub(" ", doc).split():
                w = f" {w} "
                size = len(w)
                for n in range(lo, hi + 1):
                    if size <= n:  # a short word counts once, as the whole padded word
                        terms.append(w[:n])
                        break
                    terms += [w[o:o + n] for o in range(size - n + 1)]
            return terms
        raise ValueError(f"unsupported analyzer {self.analyzer}")

    def row(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        counted = Counter(self._terms(doc))
        n = len(counted)
        idx = np.fromiter(map(self.index.get, counted, repeat(-1, n)), dtype=np.int64, count=n)
        tf = np.fromiter(counted.values(), dtype=np.float64, count=n)
        known = idx >= 0
        idx, tf = idx[known], tf[known]
        if not len(idx):
            return idx, tf
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        val = tf * self.idf[idx]
        if self.norm == "l2":
            val /= math.sqrt(float(val @ val)) or 1.0
        return idx, val


class FastUnion:
    """A FeatureUnion of FastTfidf parts: sparse rows as (indices, values), and dense X @ W."""

    def __init__(self, parts: list[FastTfidf]):
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p.idf) for p in parts])[:-1]

    def dot(self, texts: list[str], weights: np.ndarray) -> np.ndarray:
        """X @ weights.T for a (n_classes, n_features) weight matrix, without building X."""
        out = np.zeros((len(texts), weights.shape[0]))
        wt = weights.T
        for i, doc in enumerate(texts):
            for off, part in zip(self.offsets, self.parts):
                idx, val = part.row(doc)
                if len(idx):
                    out[i] += val @ wt[idx + off]
        return out
