"""Training-time augmentation: swap how the system is named.

Real coverage names the Social Credit System in many ways ("China's social credit system", "the
SCS", "social credit in China", "Beijing's social credit system"). In written labels some names
occur mostly in one label, and a classifier then learns the name as a label cue (before label
round 5, "What is China's social credit system?" was flagged as a myth at 0.92). Adding, for every
training sentence that names the system, one copy named another way makes every name equally
likely under every label. It runs inside `fit`, so cross-validation folds augment only their own
training part. Turn it on with `name_swap = true` in a training config's [params].
"""

from __future__ import annotations

import re

import numpy as np

NAMES = (
    "China's social credit system",
    "the social credit system",
    "the SCS",
    "social credit in China",
    "Beijing's social credit system",
    "China's Social Credit System",
    "the Social Credit System (SCS)",
    "China's SCS",
)

_NAME_RE = re.compile(
    r"\b(?:(?:China|Beijing)['’]s\s+(?:national\s+)?social\s+credit\s+system(?:\s+\(SCS\))?"
    r"|the\s+(?:national\s+)?social\s+credit\s+system(?:\s+\(SCS\))?"
    r"|(?:China['’]s|the)\s+SCS\b"
    r"|social\s+credit\s+in\s+China)",
    re.IGNORECASE,
)


def _key(name: str) -> str:
    return " ".join(name.lower().replace("’", "'").replace("(scs)", "").split())


def name_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _NAME_RE.finditer(text)]


def swap_names(texts: list[str], *lists: list, seed: int = 0) -> tuple[list[str], ...]:
    """Return texts (and the parallel lists) with one renamed copy of each sentence that names the
    system appended. Every mention in a copy gets the same new name, different from the first."""
    rng = np.random.default_rng(seed)
    out_texts, outs = list(texts), [list(x) for x in lists]
    for i, text in enumerate(texts):
        spans = name_spans(text)
        if not spans:
            continue
        first = _key(text[spans[0][0] : spans[0][1]])
        choices = [n for n in NAMES if _key(n) != first]
        name = choices[int(rng.integers(len(choices)))]
        pieces, pos = [], 0
        for start, end in spans:
            before = text[:start].rstrip()
            new = name[0].upper() + name[1:] if not before or before[-1] in ".!?:\"“‘'(" else name
            pieces += [text[pos:start], new]
            pos = end
        out_texts.append("".join(pieces) + text[pos:])
        for src, dst in zip(lists, outs):
            dst.append(src[i])
    return (out_texts, *outs)
