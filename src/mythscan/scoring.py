"""Scoring: articles and sentences in, typed results out. The CLI only renders these."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence


from .models import LABELS, BaseModel
from .persistence import load_model as _load_model
from .reading import Document, document_from_bytes, read_source
from .splitting import split_article
from .taxonomy import Taxonomy, load_taxonomy


@dataclass
class SentenceResult:
    text: str
    label: str
    myth_probability: float
    probabilities: dict[str, float]
    category: str | None = None
    category_name: str | None = None
    review: bool = False
    correction: str | None = None
    sources: list[dict] = field(default_factory=list)
    index: int | None = None
    start: int | None = None
    end: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ArticleSummary:
    sentences: int
    myths: int
    myth_share: float
    accurate: int
    review: int
    categories: dict[str, int]
    verdict: str


@dataclass
class ArticleResult:
    source: str
    text: str
    sentences: list[SentenceResult]
    summary: ArticleSummary
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model: str | None = None
    threshold: float | None = None

    @property
    def myths(self) -> list[SentenceResult]:
        return [s for s in self.sentences if s.label == "myth"]

    def as_dict(self, *, include_text: bool = False) -> dict:
        out = {"source": self.source, "metadata": self.metadata, "model": self.model, "threshold": self.threshold,
               "summary": asdict(self.summary), "warnings": self.warnings,
               "sentences": [s.as_dict() for s in self.sentences]}
        if include_text:
            out["text"] = self.text
        return out


class Scorer:
    """A loaded model plus the taxonomy and decision settings; reuse it for many inputs."""

    def __init__(self, model: BaseModel | str | Path | None = None, *, threshold: float | None = None,
                 taxonomy: Taxonomy | None = None, review_band: float | None = None):
        self.model = model if isinstance(model, BaseModel) else _load_model(model)
        self.taxonomy = taxonomy or load_taxonomy()
        self.threshold = float(threshold if threshold is not None else self.model.decision.threshold)
        self.review_band = float(review_band if review_band is not None else self.model.decision.review_band)
        if self.model.path is not None:
            from .registry import ref_of

            self.name = ref_of(self.model.path)
        else:
            self.name = (self.model.meta or {}).get("name") or self.model.kind

    def classify(self, texts: Sequence[str]) -> list[SentenceResult]:
        texts = [str(t) for t in texts]
        if not texts:
            return []
        proba, labels, cats = self.model.predict_all(texts, threshold=self.threshold)
        im = LABELS.index("myth")
        out = []
        for text, p, lab, cat in zip(texts, proba, labels, cats):
            pm = float(p[im])
            c = self.taxonomy.get(cat)
            out.append(SentenceResult(
                text=text, label=str(lab), myth_probability=round(pm, 4),
                probabilities={k: round(float(v), 4) for k, v in zip(LABELS, p)},
                category=cat, category_name=c.name if c else None,
                review=bool(abs(pm - self.threshold) < self.review_band),
                correction=(c.correction if c and lab == "myth" else None),
                sources=[s.as_dict() for s in c.sources] if c and lab == "myth" else [],
            ))
        return out

    def score_document(self, doc: Document) -> ArticleResult:
        spans, capped = split_article(doc.text)  # at most MAX_SENTENCES, each at most MAX_SENTENCE_CHARS
        if capped:
            doc.warnings.append(capped)
        results = self.classify([s.text for s in spans])
        for i, (r, s) in enumerate(zip(results, spans)):
            r.index, r.start, r.end = i, s.start, s.end
        return ArticleResult(source=doc.source, text=doc.text, sentences=results, summary=summarise(results, self.taxonomy),
                             metadata={k: v for k, v in doc.meta().items() if v is not None and k != "source"},
                             warnings=list(doc.warnings), model=self.name, threshold=self.threshold)

    def score_text(self, text: str, source: str = "<text>") -> ArticleResult:
        return self.score_document(document_from_bytes(text.encode("utf-8"), source, html=False))

    def score_source(self, source: str | Path) -> ArticleResult:
        return self.score_document(read_source(str(source)))


def summarise(results: list[SentenceResult], taxonomy: Taxonomy) -> ArticleSummary:
    n = len(results)
    myths = [r for r in results if r.label == "myth"]
    acc = sum(r.label == "accurate" for r in results)
    review = sum(r.review for r in results)
    cats = Counter(r.category for r in myths if r.category)
    share = len(myths) / n if n else 0.0
    if not myths:
        verdict = (f"No myth assertions found in {n} sentences"
                   + (f"; {acc} sentence(s) match the research record." if acc else "."))
        if review:
            verdict += f" {review} borderline sentence(s) marked for review."
    else:
        top = ", ".join(f"{(taxonomy.get(c).name if taxonomy.get(c) else c)} ({k})" for c, k in cats.most_common(3))
        level = "Repeats myths heavily" if share >= 0.2 or len(myths) >= 5 else "Repeats myths"
        verdict = (f"{level}: {len(myths)} of {n} sentences ({share:.0%}) assert a misconception"
                   + (f", mostly {top}" if top else "") + ". Check them against the corrections before publishing.")
    return ArticleSummary(sentences=n, myths=len(myths), myth_share=round(share, 4), accurate=acc, review=review,
                          categories=dict(cats.most_common()), verdict=verdict)


_DEFAULT: dict[str, Scorer] = {}


def load_scorer(model: str | Path | None = None, **kw) -> Scorer:
    return Scorer(model, **kw)


def _default_scorer() -> Scorer:
    if "default" not in _DEFAULT:
        _DEFAULT["default"] = Scorer()
    return _DEFAULT["default"]


def score_text(text: str, scorer: Scorer | None = None) -> ArticleResult:
    """Score an article given as plain text with the default (or given) model."""
    return (scorer or _default_scorer()).score_text(text)


def score_file(path: str | Path, scorer: Scorer | None = None) -> ArticleResult:
    """Score an article file (.txt/.md/.html), URL, or '-' for stdin."""
    return (scorer or _default_scorer()).score_source(path)


def classify_texts(texts: Sequence[str], scorer: Scorer | None = None) -> list[SentenceResult]:
    """Classify sentences as given (no splitting)."""
    return (scorer or _default_scorer()).classify(texts)
