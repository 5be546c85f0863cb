"""Inference-time TF-IDF features without importing scikit-learn.

Importing scikit-learn pulls in scipy.stats and pandas (~1.5 s on 2 cores), three times the rest
of a cold `mythscan score`. Training still uses scikit-learn's TfidfVectorizer; at inference this
module applies the fitted vocabulary and idf weights with the same analyzers (word n-grams with
the default token pattern, `char_wb` n-grams), sublinear tf and l2 norm. A test checks it matches
scikit-learn's `transform` on real sentences.
"""

from __future__ import annotations

import re

import numpy as np

_WHITE = re.compile(r"\s\s+")

# Negation scope for word n-grams: after a negator, words are prefixed ``NEG_`` up to the next
# punctuation mark, so "there is no single score" yields NEG_single / NEG_score rather than the
# myth's own "single score". A CV experiment on the train split (tfidf alone, 5 group folds): myth
# F1 0.888 -> 0.894, AP 0.949 -> 0.955, contrast pairs 0.784 -> 0.802. Off in every config: inside
# the default stack it lowered real-coverage myth AP in two trainings (evaluate/README.md).
_NEGATORS = frozenset(
    "not no never none nobody nothing nowhere neither nor cannot without hardly isn aren wasn weren "
    "doesn don didn won can couldn shouldn far myth false wrong untrue".split()
)
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
        self._word_cache: dict[str, list[int]] = {}

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
                terms += [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
            return terms
        if self.analyzer == "char_wb":
            terms = []
            for w in _WHITE.sub(" ", doc).split():
                terms += self._word_grams(w)
            return terms
        raise ValueError(f"unsupported analyzer {self.analyzer}")

    def _word_grams(self, word: str) -> list[str]:
        """char_wb n-grams of one word (scikit-learn pads it with a space on each side)."""
        w = f" {word} "
        size, grams = len(w), []
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            if size <= n:  # a short word counts once, as the whole padded word
                grams.append(w[:n])
                break
            grams += [w[o : o + n] for o in range(size - n + 1)]
        return grams

    def _ids(self, doc: str) -> list[int]:
        """Vocabulary columns of ``doc``'s terms, with multiplicity. char_wb n-grams never cross
        a word, so each distinct word's columns are looked up once and cached (news reuses words)."""
        get = self.index.get
        if self.analyzer != "char_wb" or self.preprocess is not None:
            return [i for i in map(get, self._terms(doc)) if i is not None]
        cache, ids = self._word_cache, []
        if len(cache) > 200_000:  # bound the memory on endless archives
            cache.clear()
        for w in _WHITE.sub(" ", doc.lower() if self.lowercase else doc).split():
            cols = cache.get(w)
            if cols is None:
                cols = cache[w] = [i for i in map(get, self._word_grams(w)) if i is not None]
            ids += cols
        return ids

    def rows(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sparse TF-IDF matrix of ``texts`` as (row, column, value) arrays, rows ascending.

        Terms are looked up in Python; counting, idf, sublinear tf and the l2 norm run
        once over the whole batch in numpy (per-sentence numpy calls cost more than the sums)."""
        ids, lens = [], []
        for doc in texts:
            found = self._ids(doc)
            ids += found
            lens.append(len(found))
        n_cols = len(self.idf)
        key = np.repeat(np.arange(len(texts), dtype=np.int64), lens) * n_cols + np.array(ids, dtype=np.int64)
        key, tf = np.unique(key, return_counts=True)
        row, col = np.divmod(key, n_cols)
        tf = tf.astype(np.float64)
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        val = tf * self.idf[col]
        if self.norm == "l2" and len(val):
            norm = np.sqrt(np.bincount(row, weights=val * val, minlength=len(texts)))
            val /= np.where(norm > 0, norm, 1.0)[row]
        return row, col, val


class FastUnion:
    """A FeatureUnion of FastTfidf parts, applied as X @ W without building X."""

    def __init__(self, parts: list[FastTfidf]):
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p.idf) for p in parts])[:-1]

    def dot(self, texts: list[str], weights: np.ndarray, chunk: int = 256) -> np.ndarray:
        """X @ weights.T for a (n_classes, n_features) weight matrix, without building X
        (``chunk`` sentences at a time bound the memory of the batch arrays)."""
        out = np.zeros((len(texts), weights.shape[0]))
        wt = weights.T
        for lo in range(0, len(texts), chunk):
            part_texts = texts[lo : lo + chunk]
            for off, part in zip(self.offsets, self.parts):
                row, col, val = part.rows(part_texts)
                if not len(row):
                    continue
                starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
                out[lo + row[starts]] += np.add.reduceat(val[:, None] * wt[col + off], starts, axis=0)
        return out
