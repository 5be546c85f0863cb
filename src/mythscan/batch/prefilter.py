"""The cheap first stage of `mythscan batch`: keep sentences plainly off topic away from the model.

Two regular expressions, no model:

- the **article gate** asks whether an article is about China, social credit or the vocabulary
  that goes with it (blacklists, Sesame Credit, "dishonest" persons, ...). Most articles of a
  general news archive fail it, and none of their sentences is classified.
- an article that names the system itself (social credit, SCS, blacklists, Sesame Credit,
  "dishonest" persons, joint punishment, ...) is read whole: in real coverage a myth often lives in
  a fragment ("Buying too much alcohol.") whose claim is in the list around it, and the model reads
  each sentence with its neighbour and its page anyway.
- in other topical articles (China, Beijing, Alibaba, ...) the **sentence gate** is deliberately
  broad (credit, score, points, cameras, algorithms, citizens, the state, systems, ...) and reads
  context: a sentence passes when it or a neighbour matches. It drops sports results, weather and
  recipes.

Filtered sentences are reported as label ``other`` with myth_probability 0 and ``filtered`` true.
`prefilter_recall()` measures the gates on the labelled data; `real_recall()` on labelled real
pages (every unambiguous myth of ../shared/real passes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Topic vocabulary: an article needs one of these to reach the model at all.
ARTICLE_TERMS = [
    r"chin(?:a|ese)",
    r"beijing",
    r"shanghai",
    r"shenzhen",
    r"hangzhou",
    r"guangzhou",
    r"chongqing",
    r"rongcheng",
    r"suining",
    r"xinjiang",
    r"tibet",
    r"mainland",
    r"\bprc\b",
    r"\bccp\b",
    r"\bcpc\b",
    r"communist",
    r"xi jinping",
    r"politburo",
    r"state council",
    r"ndrc",
    r"people'?s bank",
    r"social[- ]credit",
    r"\bscs\b",
    r"sesame",
    r"zhima",
    r"alibaba",
    r"\bant (?:group|financial)",
    r"tencent",
    r"wechat",
    r"weibo",
    r"baidu",
    r"huawei",
    r"black[- ]?list",
    r"red[- ]?list",
    r"credit (?:system|score|scoring|rating|record|point|platform|database|file"
    r"|status|bureau|regime|rank|information|supervision|evaluation|repair|management|china)",
    r"dishonest",
    r"untrustworth",
    r"trustworth",
    r"trust-?breaking",
    r"laolai",
    r"joint (?:punishment|sanction)",
    r"orwell",
    r"big brother",
    r"black mirror",
    r"surveillance state",
]
# Broad sentence vocabulary: anything a claim about the system could turn on.
SENTENCE_TERMS = ARTICLE_TERMS + [
    r"credit",
    r"scor(?:e|es|ed|ing)\b",
    r"\bpoints?\b",
    r"rating",
    r"\brank",
    r"grade",
    r"trust",
    r"honest",
    r"integrity",
    r"surveil",
    r"camera",
    r"cctv",
    r"facial",
    r"\bfaces?\b",
    r"algorithm",
    r"artificial intelligence",
    r"\bai\b",
    r"big data",
    r"\bdata",
    r"database",
    r"monitor",
    r"\btrack",
    r"watch",
    r"punish",
    r"penal",
    r"reward",
    r"sanction",
    r"\bban",
    r"barr",
    r"block",
    r"citizen",
    r"resident",
    r"people",
    r"person",
    r"individual",
    r"everyone",
    r"everybody",
    r"population",
    r"public",
    r"government",
    r"\bstate\b",
    r"\bstates\b",
    r"party",
    r"authorit",
    r"regime",
    r"official",
    r"dystopi",
    r"system",
    r"scheme",
    r"platform",
    r"programme",
    r"program",
    r"behavio",
    r"conduct",
    r"jaywalk",
    r"loan",
    r"travel",
    r"train",
    r"flight",
    r"ticket",
    r"school",
    r"children",
    r"dating",
    r"visa",
    r"compan",
    r"enterprise",
    r"firm",
    r"business",
    r"court",
    r"judge",
    r"law",
    r"regulat",
    r"rule",
    r"policy",
    r"polic",
    r"national",
    r"nationwide",
    r"country",
    r"local",
    r"pilot",
    r"city",
    r"cities",
    r"provinc",
    r"municipal",
    r"record",
    r"file",
    r"list",
    r"profile",
    r"blueprint",
    r"outline",
    r"plan",
    r"standard",
    r"unif",
    r"centrali",
    r"control",
    r"social",
    r"society",
    r"privacy",
    r"app\b",
    r"phone",
    r"online",
    r"internet",
    r"digital",
    r"technolog",
    r"software",
    r"computer",
    # casual myths that lean on a pronoun for the system (label round 6)
    r"billion",
    r"spreadsheet",
    r"\btax",
    r"\btext(?:s|ing)?\b",
    r"red light",
    r"escap",
]


# Vocabulary of the system itself: an article that uses it is read whole.
SYSTEM_TERMS = [
    r"social[- ]credit",
    r"\bscs\b",
    r"credit (?:system|score|scoring|rating)",
    r"black[- ]?list",
    r"red[- ]?list",
    r"dishonest",
    r"untrustworth",
    r"trust-?breaking",
    r"laolai",
    r"joint (?:punishment|sanction)",
    r"sesame",
    r"zhima",
    r"citizen scor",
]


def _compile(terms: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{t})" for t in terms))


_ARTICLE = _compile(ARTICLE_TERMS)
_SENTENCE = _compile(SENTENCE_TERMS)
_SYSTEM = _compile(SYSTEM_TERMS)


@dataclass(frozen=True)
class Prefilter:
    """`article(text)`: worth classifying at all; `sentence(text)`: this sentence may be on topic."""

    enabled: bool = True

    def topical(self, text: str) -> bool:
        """The article gate itself, whether or not filtering is enabled (reported as `topical`)."""
        return _ARTICLE.search(text.lower()) is not None

    def article(self, text: str) -> bool:
        return not self.enabled or self.topical(text)

    def sentence(self, text: str) -> bool:
        return not self.enabled or _SENTENCE.search(text.lower()) is not None

    def candidates(self, sentences: list[str], article_text: str | None = None) -> list[bool]:
        """Which sentences of an article reach the model: none in an off-topic article, all in an
        article that names the system, else those that match the sentence gate or sit next to one
        that does."""
        if not self.enabled:
            return [True] * len(sentences)
        low = (article_text if article_text is not None else "\n".join(sentences)).lower()
        if _ARTICLE.search(low) is None:
            return [False] * len(sentences)
        if _SYSTEM.search(low) is not None:
            return [True] * len(sentences)
        hit = [_SENTENCE.search(t.lower()) is not None for t in sentences]
        return [h or (i > 0 and hit[i - 1]) or (i + 1 < len(hit) and hit[i + 1]) for i, h in enumerate(hit)]


def real_recall(paths) -> dict:
    """Share of the unambiguous myth sentences of labelled real pages (CSV with `article`,
    `position`, `ambiguous`) that the prefilter passes, each page read as one article."""
    from ..data import load_real

    out = {}
    pf = Prefilter()
    for path in paths:
        df = load_real(path)
        total = passed = sentences = candidates = 0
        missed = []
        for _, g in df.groupby("article", sort=False):
            texts = g["text"].tolist()
            cand = pf.candidates(texts)
            sentences += len(texts)
            candidates += sum(cand)
            for t, c, lab, amb in zip(texts, cand, g["label"], g["ambiguous"]):
                if lab == "myth" and amb in ("0", ""):
                    total += 1
                    passed += c
                    if not c:
                        missed.append(t)
        out[Path(path).name] = {
            "myths": total,
            "passed": passed,
            "recall": round(passed / total, 4) if total else None,
            "share_of_sentences_passed": round(candidates / sentences, 4) if sentences else None,
            "missed": len(missed),
        }
    return out


def prefilter_recall(labels_csv: str | Path | None = None, split: str = "test") -> dict:
    """Share of labelled sentences the gates pass, by label, on one split of labels/sentences.csv.

    `sentence` is the sentence gate alone (the sentence inside an article that passed the gate);
    `standalone` treats every sentence as a one-sentence article (both gates): a lower bound,
    since real articles about the system name China or social credit somewhere.
    """
    import pandas as pd

    from ..paths import labels_dir

    path = Path(labels_csv) if labels_csv else labels_dir() / "sentences.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if split:
        df = df[df["split"] == split]
    pf = Prefilter()
    out = {}
    for label, g in df.groupby("label"):
        texts = g["text"].tolist()
        sent = [pf.sentence(t) for t in texts]
        both = [s and pf.article(t) for s, t in zip(sent, texts)]
        out[label] = {
            "n": len(texts),
            "sentence": round(sum(sent) / max(len(texts), 1), 4),
            "standalone": round(sum(both) / max(len(texts), 1), 4),
            "missed": [t for t, s in zip(texts, sent) if not s][:10],
        }
    return out
