"""mythscan: flag likely misconceptions about China's Social Credit System in English news text."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigError, InputError, LabelError, ModelError, MythscanError
from .models import load_model
from .scoring import ArticleResult, Scorer, SentenceResult, classify_texts, load_scorer, score_file, score_text

__all__ = [
    "__version__",
    "load_model",
    "load_scorer",
    "Scorer",
    "score_text",
    "score_file",
    "classify_texts",
    "ArticleResult",
    "SentenceResult",
    "MythscanError",
    "InputError",
    "LabelError",
    "ModelError",
    "ConfigError",
]
