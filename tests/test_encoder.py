import numpy as np


def test_onnx_encoder_matches_transformers():
    """The onnxruntime MiniLM gives the same embeddings as the packaged PyTorch model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mythscan.encoder import get_encoder, weights_dir

    texts = ["Short one.", "A much longer sentence about blacklists, courts and provincial databases that do not talk to each other."]
    enc = get_encoder()
    got = enc.encode(texts)
    np.testing.assert_allclose(got, np.vstack([enc.encode([t]) for t in texts]), atol=1e-5)  # padding-invariant
    tok = AutoTokenizer.from_pretrained(str(weights_dir()))
    model = AutoModel.from_pretrained(str(weights_dir())).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    ref = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    assert float((got * ref).sum(1).min()) > 0.9999


def test_encode_cache_overflow_keeps_every_row(monkeypatch):
    """When the bounded cache is cleared mid-call, rows cached earlier are still returned."""
    from mythscan import encoder

    monkeypatch.setattr(encoder, "_CACHE_MAX", 3)
    encoder._CACHE.clear()
    first = encoder.encode_cached(["alpha one", "beta two"])
    both = encoder.encode_cached(["alpha one", "gamma three", "delta four"])  # overflow clears the cache
    np.testing.assert_allclose(both[0], first[0], atol=1e-6)
    assert both.shape == (3, 384)
    encoder._CACHE.clear()
