"""A learned attention-pooling label head on frozen MiniLM token states (the `attn` kind).

Mean pooling gives every token the same weight, so "not", "supposedly" or "the tabloid said" count
for little beside the myth's content words. This head reads the unpooled hidden states of the
listed layers (default 6 and 3, as the `embed` kind pools), normalises them, pools them with
``queries`` learned attention distributions plus the mean, and maps that to the three labels with
a small MLP. It is trained with torch (training only); scoring applies the saved weights with
numpy, so it imports no torch. The category head is logistic regression on the mean-pooled states.

Measured in evaluate/README.md (2026-12-04): better than the SVM head on every split of the
project's own labels, and worse at ranking real coverage on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import LABELS, BaseModel, LinearHead, softmax
from .encoder import BoundedMemo, encoder_key, get_encoder, hold_pooled, pool

# Tensor names of the head, in the order of the torch module's parameters.
_NAMES = ["norm_w", "norm_b", "att1_w", "att1_b", "att2_w", "att2_b", "out1_w", "out1_b", "out2_w", "out2_b"]
_STATES = BoundedMemo(2_000_000, weight=len)  # weight: tokens


def token_states(texts: list[str], quantized: bool, layers) -> list[np.ndarray]:
    """Each sentence's token states, memoised (the stack's folds re-read the same sentences six
    times); the memo holds up to 2M tokens, ~3 GB of float16 states at 768 per token. The same
    pass's pooled vectors go to `encode_cached`'s memo, so an `embed` member scored after this one
    does not encode the sentences again (int8 vectors depend on the sentence alone: identical)."""
    enc = get_encoder(quantized, layers)

    def compute(missing: list[str]) -> list[np.ndarray]:
        vectors, states = enc.encode_with_states(missing)
        hold_pooled(missing, vectors, quantized, layers)
        return states

    return _STATES.get_many(encoder_key(quantized, layers), texts, compute)


def mean_pooled(states: list[np.ndarray], layers: int, batch: int = 256) -> np.ndarray:
    """The states pooled as `Encoder.encode` pools them (`encoder.pool`, layer by layer)."""
    out = np.zeros((len(states), states[0].shape[1] if states else 384 * layers), dtype=np.float32)
    order = np.argsort([len(s) for s in states], kind="stable")
    for lo in range(0, len(order), batch):
        idx = order[lo : lo + batch]
        x, mask = _padded(states, idx)
        out[idx] = pool(np.split(x, layers, axis=-1), mask)
    return out


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))


class AttentionHead:
    """The head as numpy arrays: ``logits`` on padded states, ``predict_proba`` on a list of them."""

    def __init__(self, weights: dict[str, np.ndarray], queries: int):
        self.w = {k: np.asarray(weights[k], dtype=np.float32) for k in _NAMES}
        self.queries = int(queries)

    def logits(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        x = (x - mu) / np.sqrt(var + 1e-5) * w["norm_w"] + w["norm_b"]
        a = np.tanh(x @ w["att1_w"].T + w["att1_b"]) @ w["att2_w"].T + w["att2_b"]  # B, T, q
        a = np.where(mask[..., None], a, -1e4)
        a = np.exp(a - a.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        pooled = np.einsum("btq,btd->bqd", a, x).reshape(len(x), -1)
        m = mask[..., None].astype(np.float32)
        mean = (x * m).sum(1) / m.sum(1)
        h = _gelu_tanh(np.hstack([pooled, mean]) @ w["out1_w"].T + w["out1_b"])
        return h @ w["out2_w"].T + w["out2_b"]

    def predict_proba(self, states: list[np.ndarray], batch: int = 64) -> np.ndarray:
        out = np.zeros((len(states), 3))
        order = np.argsort([len(s) for s in states], kind="stable")
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            x, mask = _padded(states, idx)
            out[idx] = softmax(self.logits(x, mask).astype(np.float64))
        return out


def _padded(states: list[np.ndarray], idx) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(states[i]) for i in idx)
    x = np.zeros((len(idx), width, states[idx[0]].shape[1]), np.float32)
    mask = np.zeros((len(idx), width), bool)
    for r, i in enumerate(idx):
        x[r, : len(states[i])] = states[i]
        mask[r, : len(states[i])] = True
    return x, mask


def torch_head(dim: int, queries: int, hidden: int, dropout: float = 0.0):
    """The head in torch: (modules, forward(x, mask) -> logits); parameters in ``_NAMES`` order."""
    import torch

    nn = torch.nn
    mods = nn.ModuleDict(
        {
            "norm": nn.LayerNorm(dim),
            "att1": nn.Linear(dim, 128),
            "att2": nn.Linear(128, queries),
            "out1": nn.Linear(dim * (queries + 1), hidden),
            "out2": nn.Linear(hidden, 3),
            "drop": nn.Dropout(dropout),
        }
    )

    def forward(x, m):
        x = mods["norm"](x)
        a = mods["att2"](torch.tanh(mods["att1"](x))).masked_fill(~m[..., None], -1e4).softmax(1)
        mean = (x * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        pooled = torch.cat([torch.einsum("btq,btd->bqd", a, x).flatten(1), mean], 1)
        h = nn.functional.gelu(mods["out1"](mods["drop"](pooled)), approximate="tanh")
        return mods["out2"](mods["drop"](h))

    return mods, forward


def train_head(
    states: list[np.ndarray],
    y_idx: np.ndarray,
    *,
    queries: int = 4,
    hidden: int = 256,
    dropout: float = 0.1,
    epochs: int = 12,
    lr: float = 1e-3,
    batch: int = 32,
    seed: int = 0,
    weights_dtype: str = "float16",
) -> AttentionHead:
    """Fit the head with torch (AdamW, one-cycle schedule, label smoothing 0.05); the returned
    numpy head holds the weights rounded to ``weights_dtype``, exactly as saved."""
    try:
        import torch
    except ImportError:
        raise ModelError("training the attn kind needs torch", hint="pip install -e . (torch is a dependency)") from None
    if weights_dtype not in ("float16", "float32"):
        raise ModelError(f"weights_dtype must be float16 or float32, got {weights_dtype!r}", hint="fix the training config")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mods, forward = torch_head(states[0].shape[1], queries, hidden, dropout)
    params = list(mods.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(1, epochs * -(-len(states) // batch)))
    y = torch.as_tensor(np.asarray(y_idx), dtype=torch.long)
    mods.train()
    for _ in range(epochs):
        perm = rng.permutation(len(states))
        for lo in range(0, len(perm), batch):
            idx = perm[lo : lo + batch]
            x, m = _padded(states, idx)
            loss = torch.nn.functional.cross_entropy(forward(torch.from_numpy(x), torch.from_numpy(m)), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    arrays = [t.detach().numpy().astype(np.float32) for t in params]
    weights = {k: (v.astype(np.float16).astype(np.float32) if weights_dtype == "float16" else v) for k, v in zip(_NAMES, arrays)}
    return AttentionHead(weights, queries)


class AttentionModel(BaseModel):
    """Frozen MiniLM token states (``layers``, int8 encoder with ``quantized``) + `AttentionHead`."""

    kind = "attn"

    def _layers(self) -> list[int]:
        return list(self.params.get("layers", [6, 3]))

    def _states(self, texts: list[str]) -> list[np.ndarray]:
        return token_states(texts, bool(self.params.get("quantized", True)), self._layers())

    def _fit(self, texts, labels, fine):
        states = self._states(texts)
        p = self.params
        self.head = train_head(
            states,
            np.array([LABELS.index(v) for v in labels]),
            queries=int(p.get("queries", 4)),
            hidden=int(p.get("hidden", 256)),
            dropout=float(p.get("dropout", 0.1)),
            epochs=int(p.get("epochs", 12)),
            lr=float(p.get("lr", 1e-3)),
            batch=int(p.get("batch", 32)),
            seed=int(p.get("seed", 0)),
            weights_dtype=p.get("weights_dtype", "float16"),
        )
        self.fine_head = None
        if not self.label_only:
            X = mean_pooled(states, len(self._layers()))
            self.fine_head = LinearHead.fit(X, fine, C=float(p.get("C", 4.0)), seed=int(p.get("seed", 0)))
            self.fine_classes_ = self.fine_head.classes_

    def _raw_proba(self, texts):
        states = self._states(texts)
        label = self.head.predict_proba(states)
        fine = None if self.fine_head is None else self.fine_head.predict_proba(mean_pooled(states, len(self._layers())))
        return label, fine

    def _save_weights(self, path: Path):
        from safetensors.numpy import save_file

        dtype = np.float16 if self.params.get("weights_dtype", "float16") == "float16" else np.float32
        tensors = {f"attn_{k}": np.ascontiguousarray(v.astype(dtype)) for k, v in self.head.w.items()}
        tensors.update({"fine_coef": self.fine_head.stored_coef(), "fine_intercept": self.fine_head.intercept})
        save_file(
            tensors,
            str(path / "attn.safetensors"),
            metadata={"queries": str(self.head.queries), "fine_classes": json.dumps([str(c) for c in self.fine_head.classes_])},
        )

    def _load_weights(self, path: Path):
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path / "attn.safetensors"), framework="numpy") as fh:
                md = fh.metadata() or {}
                t = {k: fh.get_tensor(k) for k in fh.keys()}
            self.head = AttentionHead({k: t[f"attn_{k}"] for k in _NAMES}, int(md["queries"]))
            self.fine_head = LinearHead(t["fine_coef"], t["fine_intercept"], json.loads(md["fine_classes"]))
        except (OSError, KeyError, ValueError, SafetensorError) as exc:
            raise ModelError(f"{path}: attn.safetensors missing or unreadable ({exc})", hint="retrain with `mythscan train`") from None
