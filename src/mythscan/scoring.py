"""Scoring: articles and sentences in, typed results out. The CLI only renders these."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from .models import LABELS, BaseModel, Sentences
from .models import load_model as _load_model
from .reading import Document, document_from_bytes, read_source
from .splitting import split_article
from .taxonomy import Taxonomy, load_taxonomy
from .wording import plural


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
    # the article-level reading (`assess`): "repeats-myths", "check" (flags, none both confident
    # and backed by the page) or "no-myths"
    assessment: str = "no-myths"
    confident_myths: int = 0
    page_stance: dict[str, float] | None = None


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
        out = {
            "source": self.source,
            "metadata": self.metadata,
            "model": self.model,
            "threshold": self.threshold,
            "summary": asdict(self.summary),
            "warnings": self.warnings,
            "sentences": [s.as_dict() for s in self.sentences],
        }
        if include_text:
            out["text"] = self.text
        return out


PRECISION = ("balanced", "high")


class Scorer:
    """A loaded model plus the taxonomy and decision settings; reuse it for many inputs.

    ``precision``: "balanced" flags at the model's threshold (best myth F1 in cross-validation);
    "high" at its high-precision operating point (`Decision.confident`, chosen on a labelled
    sample of real coverage), for editors who want few false alarms. ``threshold`` overrides both."""

    def __init__(
        self,
        model: BaseModel | str | Path | None = None,
        *,
        threshold: float | None = None,
        taxonomy: Taxonomy | None = None,
        review_band: float | None = None,
        precision: str = "balanced",
    ):
        from .errors import InputError

        if precision not in PRECISION:
            raise InputError(f"unknown precision {precision!r}", hint=f"choose one of {', '.join(PRECISION)}")
        self.model = model if isinstance(model, BaseModel) else _load_model(model)
        self.taxonomy = taxonomy or load_taxonomy()
        decision = self.model.decision
        self.precision = precision
        self.confident = decision.confident()
        default = self.confident if precision == "high" else decision.threshold
        self.threshold = float(threshold if threshold is not None else default)
        self.review_band = float(review_band if review_band is not None else decision.review_band)
        if self.model.path is not None:
            from .models import ref_of

            self.name = ref_of(self.model.path)
        else:
            self.name = (self.model.meta or {}).get("name") or self.model.kind

    def classify(self, texts, context: Sequence[str] | None = None, article: Sequence[str] | None = None) -> list[SentenceResult]:
        """Classify sentences as given. ``texts`` may be `Sentences` or a DataFrame; with plain
        texts, ``context`` (each sentence's previous sentence) and ``article`` (an article key per
        sentence, rows of an article in reading order) say how each was read. Without them every
        sentence is read alone."""
        sents = Sentences.of(texts)
        n = len(sents)
        if context is not None or article is not None:
            sents = Sentences(
                list(sents.text),
                [("" if c is None else str(c)) for c in (context or [""] * n)],
                [str(a) for a in (article if article is not None else [f"#{i}" for i in range(n)])],
            )
        if not n:
            return []
        texts = sents.text
        proba, labels, cats = self.model.predict_all(sents, threshold=self.threshold)
        im = LABELS.index("myth")
        out = []
        for text, p, lab, cat in zip(texts, proba, labels, cats):
            pm = float(p[im])
            c = self.taxonomy.get(cat)
            out.append(
                SentenceResult(
                    text=text,
                    label=str(lab),
                    myth_probability=round(pm, 4),
                    probabilities={k: round(float(v), 4) for k, v in zip(LABELS, p)},
                    category=cat,
                    category_name=c.name if c else None,
                    review=bool(abs(pm - self.threshold) < self.review_band),
                    correction=(c.correction if c and lab == "myth" else None),
                    sources=[s.as_dict() for s in c.sources] if c and lab == "myth" else [],
                )
            )
        return out

    def score_document(self, doc: Document) -> ArticleResult:
        spans, capped = split_article(doc.text)  # at most MAX_SENTENCES, each at most MAX_SENTENCE_CHARS
        if capped:
            doc.warnings.append(capped)
        sents = article_sentences([s.text for s in spans])
        results = self.classify(sents)
        for i, (r, s) in enumerate(zip(results, spans)):
            r.index, r.start, r.end = i, s.start, s.end
        summary = summarise(results, self.taxonomy, confident=self.confident, page_stance=self.page_stance(sents))
        return ArticleResult(
            source=doc.source,
            text=doc.text,
            sentences=results,
            summary=summary,
            metadata={k: v for k, v in doc.meta().items() if v is not None and k != "source"},
            warnings=list(doc.warnings),
            model=self.name,
            threshold=self.threshold,
        )

    def page_stance(self, sents: Sentences) -> dict[str, float] | None:
        """The page-stance probabilities of a one-article `Sentences` (None when the model has no
        page model)."""
        if not len(sents) or not hasattr(self.model, "page_stance"):
            return None
        return next(iter(self.model.page_stance(sents).values()), None)

    def score_text(self, text: str, source: str = "<text>") -> ArticleResult:
        return self.score_document(document_from_bytes(text.encode("utf-8"), source, html=False))

    def score_source(self, source: str | Path) -> ArticleResult:
        return self.score_document(read_source(str(source)))


def article_sentences(texts: Sequence[str], key: str = "article") -> Sentences:
    """One article's sentences in reading order, each with the sentence before it as context: how
    `score` and `batch` hand an article to the model (and `classify --article-column` rebuilds)."""
    texts = [str(t) for t in texts]
    return Sentences(texts, [""] + texts[:-1], [key] * len(texts))


def assess(results: list[SentenceResult], confident: float, page_stance: dict[str, float] | None) -> tuple[str, int]:
    """The article-level reading: ("repeats-myths" | "check" | "no-myths", confident flags).
    One borderline flag does not make an article repeat myths: it takes two flags at the
    high-precision operating point, or one that the page model backs (the page reads as
    repeating myths, P >= 0.5; without a page model one confident flag is enough)."""
    confident_n = sum(r.label == "myth" and r.myth_probability >= confident for r in results)
    flagged = sum(r.label == "myth" for r in results)
    repeats = (page_stance or {}).get("repeats-myths")
    if confident_n >= 2 or (confident_n == 1 and (repeats is None or repeats >= 0.5)):
        return "repeats-myths", confident_n
    return ("check" if flagged else "no-myths"), confident_n


def summarise(
    results: list[SentenceResult], taxonomy: Taxonomy, *, confident: float = 1.01, page_stance: dict[str, float] | None = None
) -> ArticleSummary:
    n = len(results)
    myths = [r for r in results if r.label == "myth"]
    acc = sum(r.label == "accurate" for r in results)
    review = sum(r.review for r in results)
    cats = Counter(r.category for r in myths if r.category)
    share = len(myths) / n if n else 0.0
    assessment, confident_n = assess(results, confident, page_stance)
    stance = ""
    if page_stance:
        top, p = max(page_stance.items(), key=lambda kv: kv[1])
        stance = f" The page reads as {STANCE_WORDS.get(top, top)} (page model: {p:.2f})."
    if assessment == "no-myths":
        verdict = (
            f"No myth assertions found in {n} {plural(n, 'sentence')}"
            + (f"; {acc} {plural(acc, 'sentence')} match the research record." if acc else ".")
        ) + stance
        if review:
            verdict += f" {review} borderline {plural(review, 'sentence')} marked for review."
    elif assessment == "check":
        verdict = (
            f"Possible myths: {len(myths)} of {n} {plural(n, 'sentence')} may assert a misconception, "
            f"{'none' if not confident_n else 'only one'} with high confidence.{stance} "
            "Check the flagged sentences; the article as a whole does not read as repeating myths."
        )
    else:
        top = ", ".join(f"{(taxonomy.get(c).name if taxonomy.get(c) else c)} ({k})" for c, k in cats.most_common(3))
        level = "Repeats myths heavily" if share >= 0.2 or len(myths) >= 5 else "Repeats myths"
        verdict = (
            f"{level}: {len(myths)} of {n} {plural(n, 'sentence')} ({share:.0%}) assert a misconception"
            f" ({confident_n} with high confidence)"
            + (f", mostly {top}" if top else "")
            + "."
            + stance
            + " Check them against the corrections before publishing."
        )
    return ArticleSummary(
        sentences=n,
        myths=len(myths),
        myth_share=round(share, 4),
        accurate=acc,
        review=review,
        categories=dict(cats.most_common()),
        verdict=verdict,
        assessment=assessment,
        confident_myths=confident_n,
        page_stance=page_stance,
    )


STANCE_WORDS = {
    "repeats-myths": "repeating myths",
    "research-based": "research-based",
    "state-media": "state media",
    "official": "an official text",
    "forum": "a forum post",
    "mixed": "mixed",
}


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
