"""A MiniLM whose top layers are fine-tuned on the labels, with logistic-regression heads.

Training (torch) fine-tunes the top ``train_layers`` transformer layers with a joint loss on the
label and the category, then fits logistic-regression heads on the new embeddings. Only the tuned
layers are stored (fp16 safetensors, ~3.5 MB a layer); the full encoder is rebuilt from the
packaged base weights and exported to ONNX in the cache the first time the model is loaded, so
scoring runs on onnxruntime without torch, like the frozen model.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..paths import cache_dir
from .base import LinearHead, load_heads, read_safetensors, save_heads
from .kinds import EmbedModel

_ENCODERS: dict[str, object] = {}


def _state_hash(state: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(np.ascontiguousarray(state[k]).tobytes())
    return h.hexdigest()[:16]


class FinetuneModel(EmbedModel):
    kind = "finetune"
    uses_weights = False

    def __init__(self, decision=None, params=None):
        super().__init__(decision, params)
        self.top_state: dict[str, np.ndarray] | None = None
        self._key: str | None = None

    # --- encoder built from base weights + tuned layers --------------------------------------
    def _encoder(self):
        from .encoder import Encoder

        if self.top_state is None:
            raise ModelError("the fine-tuned model has no tuned layers", hint="train it first")
        if self._key not in _ENCODERS:
            path = cache_dir() / "finetuned" / f"{self._key}.onnx"
            if not path.exists():
                print(f"mythscan: building the fine-tuned encoder in {path.parent} (once, ~30 s)...", file=sys.stderr)
                from .encoder import export_onnx

                export_onnx(self._torch_model(), path)
            _ENCODERS[self._key] = Encoder(path=path)
        return _ENCODERS[self._key]

    def _torch_model(self):
        import torch

        from .encoder import load_torch_bert

        bert = load_torch_bert()
        sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in self.top_state.items()}
        missing = set(sd) - set(bert.state_dict())
        if missing:
            raise ModelError(f"tuned weights do not fit the base model: {sorted(missing)[:3]}")
        bert.load_state_dict(sd, strict=False)
        return bert

    def _features(self, texts):
        from .encoder import encode_cached

        return encode_cached(texts, encoder=self._encoder(), key=f"ft-{self._key}", batch_size=self.params.get("batch_size"))

    # --- training -------------------------------------------------------------------------------
    def _fit(self, texts, labels, fine):
        import torch
        from transformers import AutoTokenizer

        from .encoder import load_torch_bert, weights_dir

        p = self.params
        seed = int(p.get("seed", 0))
        torch.manual_seed(seed)
        np.random.seed(seed)
        torch.set_num_threads(max(1, torch.get_num_threads()))
        bert = load_torch_bert()
        n_layers = len(bert.encoder.layer)
        k = int(p.get("train_layers", 2))
        tuned_prefixes = [f"encoder.layer.{i}." for i in range(n_layers - k, n_layers)]
        for name, prm in bert.named_parameters():
            prm.requires_grad = any(name.startswith(t) for t in tuned_prefixes)
        lab_classes = sorted(set(labels))
        fine_classes = sorted(set(fine))
        y_lab = torch.tensor([lab_classes.index(x) for x in labels])
        y_fine = torch.tensor([fine_classes.index(x) for x in fine])
        head_lab = torch.nn.Linear(bert.config.hidden_size, len(lab_classes))
        head_fine = torch.nn.Linear(bert.config.hidden_size, len(fine_classes))
        params = [q for q in bert.parameters() if q.requires_grad]
        opt = torch.optim.AdamW(
            [
                {"params": params, "lr": float(p.get("lr", 5e-5))},
                {"params": [*head_lab.parameters(), *head_fine.parameters()], "lr": float(p.get("head_lr", 2e-3))},
            ],
            weight_decay=0.01,
        )
        tok = AutoTokenizer.from_pretrained(str(weights_dir()))
        max_len, bs, epochs = int(p.get("max_length", 64)), int(p.get("train_batch_size", 32)), int(p.get("epochs", 3))
        gen = torch.Generator().manual_seed(seed)
        steps = epochs * ((len(texts) + bs - 1) // bs)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / max(1, steps)))
        bert.train()
        # class weights as in the logistic-regression heads ("balanced")
        w_lab = torch.tensor(
            [len(labels) / (len(lab_classes) * max(1, int((y_lab == i).sum()))) for i in range(len(lab_classes))], dtype=torch.float
        )
        w_fine = torch.tensor(
            [len(fine) / (len(fine_classes) * max(1, int((y_fine == i).sum()))) for i in range(len(fine_classes))], dtype=torch.float
        )
        progress = p.get("_progress")
        for epoch in range(epochs):
            order = torch.randperm(len(texts), generator=gen).tolist()
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                batch = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
                hidden = bert(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
                loss = torch.nn.functional.cross_entropy(head_lab(emb * 10), y_lab[idx], weight=w_lab) + torch.nn.functional.cross_entropy(
                    head_fine(emb * 10), y_fine[idx], weight=w_fine
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            if progress:
                progress(epoch + 1, epochs)
        bert.eval()
        sd = bert.state_dict()
        # keep only the tuned layers, rounded to fp16 exactly as they are stored
        self.top_state = {k2: sd[k2].detach().numpy().astype(np.float16) for k2 in sd if any(k2.startswith(t) for t in tuned_prefixes)}
        self._key = _state_hash(self.top_state)
        X = self._features(texts)
        C = p.get("C", 4.0)
        self.label_head = LinearHead.fit(X, labels, C=C, seed=seed)
        self.fine_head = LinearHead.fit(X, fine, C=C, seed=seed)
        self.fine_classes_ = self.fine_head.classes_

    # --- persistence ----------------------------------------------------------------------------
    def _save_weights(self, path: Path):
        from safetensors.numpy import save_file

        save_file(self.top_state, str(path / "encoder_top.safetensors"), metadata={"base": "all-MiniLM-L6-v2", "sha": self._key})
        save_heads(path / "heads.safetensors", self.label_head, self.fine_head)

    def _load_weights(self, path: Path):
        file = path / "encoder_top.safetensors"
        if not file.exists():
            raise ModelError(f"{file}: missing", hint="retrain with `mythscan train --config finetune`")
        self.top_state = read_safetensors(file)[0]
        self._key = _state_hash(self.top_state)
        self.label_head, self.fine_head = load_heads(path / "heads.safetensors")

    def config(self):
        cfg = super().config()
        cfg["params"] = {k: v for k, v in cfg["params"].items() if not k.startswith("_")}
        return cfg
