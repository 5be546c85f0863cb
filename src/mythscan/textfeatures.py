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

import numpy as np

_WHITE = re.compile(r"\s\s+")


class FastTfidf:
    def __init__(self, params: dict, vocabulary: list[str], idf: np.ndarray):
        self.analyzer = params.get("analyzer", "word")
        self.ngram_range = tuple(params.get("ngram_range", (1, 1)))
        self.lowercase = params.get("lowercase", True)
        self.sublinear_tf = params.get("sublinear_tf", False)
        self.norm = params.get("norm", "l2")
        self.token_pattern = re.compile(params.get("token_pattern") or r"(?u)\b\w\w+\b")
        if params.get("strip_accents") or not params.get("use_idf", True):
            raise ValueError("unsupported vectorizer settings for the fast path")
        self.index = {t: i for i, t in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def _terms(self, doc: str):
        if self.lowercase:
            doc = doc.lower()
        lo, hi = self.ngram_range
        if self.analyzer == "word":
            toks = self.token_pattern.findall(doc)
            for n in range(lo, hi + 1):
                for i in range(len(toks) - n + 1):
                    yield toks[i] if n == 1 else " ".join(toks[i:i + n])
        elif self.analyzer == "char_wb":
            doc = _WHITE.sub(" ", doc)
            for w in doc.split():
                w = f" {w} "
                for n in range(lo, hi + 1):
                    offset = 0
                    yield w[offset:offset + n]
                    while offset + n < len(w):
                        offset += 1
                        yield w[offset:offset + n]
                    if offset == 0:
                        break
        else:
            raise ValueError(f"unsupported analyzer {self.analyzer}")

    def row(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        index = self.index
        for t in self._terms(doc):
            j = index.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
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
