"""The model stage: classifiers with scikit-learn conventions, saved as directories, and the
registry of versions under models/.

This package is the stage's one entry point; the rest of mythscan imports from here:
- `base`: `BaseModel` (fit / predict / predict_proba / classes_), `Sentences` (each sentence with the
  one before and its article), `Decision` (threshold, calibration, high-precision point), the heads;
- `kinds`: the kinds by name (`make_model`, `MODEL_KINDS`), the simple ones (tfidf, embed, ensemble)
  and `load_model`; heavier kinds in `stacking` (stack), `contextual` (context), `attention`
  (attn), `finetune`;
- `textfeatures` (TF-IDF at inference, negation scope), `encoder` (MiniLM through onnxruntime);
- `persistence` (model directories), `registry` (versions, the default, rollback), `cards`.

The stage reads no label file: training and evaluation hand in the data, the folds and the
augmentation (`BaseModel.fit(..., augment=)`) and, for `registry.list_models`, the test split's hash.
"""

from . import encoder, registry
from .base import LABELS, BaseModel, Decision, LinearHead, Sentences, SvmHead, apply_temperature, decide, read_safetensors, softmax
from .cards import model_card
from .kinds import MODEL_KINDS, EmbedModel, EnsembleModel, TfidfModel, load_model, make_model
from .persistence import DEFAULT_MODEL_FILE, resolve_model_path, write_model_dir
from .registry import (
    default_name,
    default_name_of,
    history,
    list_models,
    model_dirs,
    new_version,
    ref_of,
    rollback,
    set_default,
    show_model,
)

__all__ = [
    "LABELS",
    "BaseModel",
    "Decision",
    "LinearHead",
    "Sentences",
    "SvmHead",
    "apply_temperature",
    "decide",
    "read_safetensors",
    "softmax",
    "model_card",
    "MODEL_KINDS",
    "EmbedModel",
    "EnsembleModel",
    "TfidfModel",
    "load_model",
    "make_model",
    "DEFAULT_MODEL_FILE",
    "resolve_model_path",
    "write_model_dir",
    "default_name",
    "default_name_of",
    "history",
    "list_models",
    "model_dirs",
    "new_version",
    "ref_of",
    "rollback",
    "set_default",
    "show_model",
    "encoder",
    "registry",
]
