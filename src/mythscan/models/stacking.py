"""A two-stage model: a base model's probabilities plus cues for framing, re-weighed by a small
logistic regression (the `stack` kind).

Bag-of-words and mean-pooled embeddings see the myth's content but barely see the frame around
it: "The tabloid claimed that every citizen has a score" and "Every citizen has a score" look
alike to them, yet the first only reports the myth (`other`, GUIDE rule 2). The second stage
adds counts of cue families (words of doubt, portrayal, coverage as the topic, speech verbs,
fiction and hypotheticals, negation and correction, sourcing, modality, questions, quotes,
length) to the base model's log-probabilities. Families share strength across rare cue words,
which the base model learns one n-gram at a time.

The stage-2 head must be fitted on out-of-fold base probabilities (in-sample ones are nearly
perfect, so it would learn to ignore the cues). ``fit`` therefore cross-validates the base model
by paraphrase group, fits the head on those out-of-fold probabilities, then refits the base on
everything. The head's own out-of-fold predictions (a cheap second cross-validation of the small
head over the same folds) are kept in ``oof_proba_``, so training takes threshold and
calibration from them instead of cross-validating the whole stack again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import LABELS, BaseModel, LinearHead
from .kinds import make_model

# Cue families: (name, regular expression). Saved with each model, so a model keeps its own cues.
CUES: list[tuple[str, str]] = [
    (
        "doubt",
        r"\b(supposedly|allegedly|purportedly|ostensibly|reputedly|we are told|so the story goes|the story goes|or so|rumou?r\w*|apocryphal)\b",
    ),
    (
        "portrayal",
        r"\b(image|idea|notion|myth\w*|portray\w*|depict\w*|conjur\w*|imagin\w*|caricature\w*|narrative\w*|tropes?|stereotype\w*|clich\w*|dubbed|so-called|likened|cast as|painted as|framed as|described as|the picture of|perception\w*|believe[sd]?|belief)\b",
    ),
    (
        "coverage",
        r"\b(tabloids?|headlines?|articles?|coverage|listicles?|viral|videos?|documentar\w*|segments?|op-eds?|front page|reporters?|journalists?|explainers?|podcasts?|media|press|broadcasts?|stor(y|ies)|columnists?|commentators?|pundits?|critics?|activists?|politicians?|speech|keynote|hearing|reddit|twitter|tiktok|youtube|posts?)\b",
    ),
    (
        "speech",
        r"\b(said|says|claim\w*|warn\w*|told|tells|declar\w*|argu\w*|insist\w*|assert\w*|alleg\w*|wrote|writes|tweet\w*|posted|suggest\w*|describ\w*|call(ed|s)? it|accus\w*|repeat\w*)\b",
    ),
    (
        "fiction",
        r"\b(black mirror|nosedive|orwell\w*|1984|films?|movies?|novels?|episodes?|series|fiction\w*|plot|characters?|hypothetical\w*|thought experiment|sci-fi|science fiction|games?|dystopian (novel|film|fiction)|in the (show|story|book)'?s? world)\b",
    ),
    (
        "negation",
        r"(\b(no|not|never|none|nor|neither|nothing|nobody|myth|misconception\w*|contrary|in fact|actually|despite|rather than|instead|far from|overstat\w*|exaggerat\w*|debunk\w*|false|wrong|mistaken|misleading|misread\w*|only|mostly|merely|little more than)\b|n't\b)",
    ),
    (
        "sourcing",
        r"\b(according to|found that|find that|study|studies|research\w*|data show\w*|confirmed|documents? show\w*|records show|evidence|survey\w*|analysis|report(s|ed)? that)\b",
    ),
    (
        "modal",
        r"\b(could|might|may|would|will one day|one day|in the future|risk\w*|fears?|feared|worr\w*|hope\w*|hopefully|should|must|ought|perhaps|maybe|if)\b",
    ),
    ("question", r"\?"),
    ("quote", r"[\"“”‘’]|(^|\s)'|'(\s|$)"),
]


_CAPITAL = re.compile(r"(?<!\\)[A-Z]")  # a capital letter that is not an escape such as \S


class CueFeatures:
    def __init__(self, cues: list[tuple[str, str]] | None = None):
        self.cues = list(cues or CUES)
        # Matched on lower-cased text: a pattern without capitals then needs no IGNORECASE, which
        # made the ten searches 2.4x slower (3,000 labelled sentences, identical counts).
        self._res = [re.compile(p, re.IGNORECASE if _CAPITAL.search(p) else 0) for _, p in self.cues]

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.cues] + ["log_words"]

    def transform(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self._res) + 1), dtype=np.float64)
        for i, t in enumerate(texts):
            low = t.lower()
            for j, rx in enumerate(self._res):
                out[i, j] = min(len(rx.findall(low)), 3)
            out[i, -1] = np.log1p(len(t.split()))
        return out


def stage2_inputs(base_proba: np.ndarray, cues: np.ndarray, members: list[np.ndarray] | None = None) -> np.ndarray:
    """Stage-2 features: the base model's log-probabilities, the cue counts, each cue count times
    the base log-odds of myth (so a frame can matter more when the content is myth-like), and
    with ``members`` each ensemble member's log-probabilities (stage 2 then learns their weights)."""
    logp = np.log(np.clip(base_proba, 1e-6, 1.0))
    im = LABELS.index("myth")
    myth_logit = logp[:, im] - np.log(np.clip(1 - base_proba[:, im], 1e-6, 1.0))
    extra = [np.log(np.clip(p, 1e-6, 1.0)) for p in members or []]
    return np.hstack([logp, cues, cues[:, :-1] * myth_logit[:, None], *extra])


def base_outputs(base: BaseModel, texts: list[str], members: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """(label probabilities, category probabilities, each member's label probabilities or None)."""
    if not members:
        label, fine = base._raw_proba(texts)
        return label, fine, None
    if not hasattr(base, "member_proba"):
        raise ModelError(
            "stage-2 `member_inputs` needs an ensemble base", hint='set params.base.kind = "ensemble" or member_inputs = false'
        )
    return base.member_proba(texts)


class StackModel(BaseModel):
    """A base model (``params.base``: kind and params) with a cue-aware stage-2 label head."""

    kind = "stack"
    uses_groups = True
    uses_weights = True

    def __init__(self, decision=None, params=None):
        super().__init__(decision, params)
        self.base: BaseModel | None = None
        self.head: LinearHead | None = None
        self.cue_features = CueFeatures(self.params.get("cues"))
        self.oof_proba_: np.ndarray | None = None
        self.oof_folds_: np.ndarray | None = None

    @property
    def inner_folds(self) -> int:
        """The folds fit() makes to get out-of-fold base predictions (``params.folds``)."""
        return int(self.params.get("folds", 5))

    def _make_base(self) -> BaseModel:
        spec = self.params.get("base") or {"kind": "tfidf", "params": {}}
        params = dict(spec.get("params", {}))
        params.setdefault("seed", self.params.get("seed", 0))
        return make_model(spec["kind"], params)

    def _fit(self, texts, labels, fine, groups=None, sample_weight=None):
        from ..folds import group_folds

        labels = np.asarray(labels, dtype=object)
        seed = int(self.params.get("seed", 0))
        folds = self.inner_folds
        groups = np.asarray(groups if groups is not None else np.arange(len(texts)))
        splits = group_folds(labels, fine, groups, folds, seed)
        use_members = bool(self.params.get("member_inputs", False))
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        oof_base = np.zeros((len(texts), 3))
        oof_members: list[np.ndarray] | None = None
        for tr, va in splits:
            b = self._make_base()
            b.label_only = True  # stage 2 is fitted on label probabilities only
            # through fit, not _fit, so the base's own params (name_swap, ...) apply in every fold
            b.fit(
                [texts[i] for i in tr],
                labels[tr],
                [fine[i] for i in tr],
                category_kind=self.category_kind,
                sample_weight=None if w is None else w[tr],
                augment=self._augment,
            )
            label, _, members = base_outputs(b, [texts[i] for i in va], use_members)
            oof_base[va] = label
            if members is not None:
                oof_members = oof_members or [np.zeros((len(texts), 3)) for _ in members]
                for acc, p in zip(oof_members, members):
                    acc[va] = p
        Z = stage2_inputs(oof_base, self.cue_features.transform(texts), oof_members)
        C = float(self.params.get("stage2_C", 1.0))
        self.oof_proba_ = np.zeros((len(texts), 3))
        self.oof_folds_ = np.zeros(len(texts), dtype=int)
        for k, (tr, va) in enumerate(splits):
            self.oof_folds_[va] = k  # the head's own out-of-fold predictions, for threshold and calibration
            self.oof_proba_[va] = LinearHead.fit(
                Z[tr], labels[tr], C=C, seed=seed, sample_weight=None if w is None else w[tr]
            ).predict_proba(Z[va])
        self.head = LinearHead.fit(Z, labels, C=C, seed=seed, sample_weight=w)
        self.base = self._make_base()
        self.base.label_only = self.label_only  # a label-only stack (a member of a larger model) keeps no category head
        self.base.fit(texts, labels, fine, category_kind=self.category_kind, sample_weight=w, augment=self._augment)
        self.fine_classes_ = self.base.fine_classes_

    def _raw_proba(self, texts):
        label, fine, members = base_outputs(self.base, texts, bool(self.params.get("member_inputs", False)))
        return self.head.predict_proba(stage2_inputs(label, self.cue_features.transform(texts), members)), fine

    def _save_weights(self, path: Path):
        from safetensors.numpy import save_file

        sub = path / f"base_{self.base.kind}"
        sub.mkdir(parents=True, exist_ok=True)
        self.base.fine_classes_ = self.fine_classes_
        self.base._save_weights(sub)
        (path / "base.json").write_text(json.dumps({"kind": self.base.kind, "params": self.base.params}, indent=2))
        (path / "cues.json").write_text(json.dumps(self.cue_features.cues, indent=2, ensure_ascii=False))
        save_file(
            {"label_coef": self.head.coef, "label_intercept": self.head.intercept},
            str(path / "stage2.safetensors"),
            metadata={"label_classes": json.dumps([str(c) for c in self.head.classes_])},
        )

    def _load_weights(self, path: Path):
        from safetensors import SafetensorError, safe_open

        from .kinds import MODEL_KINDS

        try:
            spec = json.loads((path / "base.json").read_text())
            cues = [tuple(c) for c in json.loads((path / "cues.json").read_text(encoding="utf-8"))]
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: stacked model files missing or unreadable ({exc})", hint="retrain with `mythscan train`") from None
        self.cue_features = CueFeatures(cues)
        self.base = MODEL_KINDS[spec["kind"]](params=spec.get("params", {}))
        self.base.fine_classes_ = self.fine_classes_
        self.base.category_kind = self.category_kind
        self.base._load_weights(path / f"base_{spec['kind']}")
        try:
            with safe_open(str(path / "stage2.safetensors"), framework="numpy") as fh:
                classes = json.loads((fh.metadata() or {})["label_classes"])
                self.head = LinearHead(fh.get_tensor("label_coef"), fh.get_tensor("label_intercept"), classes)
        except (OSError, KeyError, ValueError, SafetensorError) as exc:
            raise ModelError(f"{path}: stage2.safetensors missing or unreadable ({exc})", hint="retrain with `mythscan train`") from None
