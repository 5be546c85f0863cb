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
