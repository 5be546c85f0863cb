import numpy as np


def test_onnx_encoder_matches_transformers():
    """The onnxruntime MiniLM gives the same embeddings as the packaged PyTorch model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mythscan.models.encoder import get_encoder, weights_dir

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
    from mythscan.models import encoder

    monkeypatch.setattr(encoder._CACHE, "limit", 3)
    encoder._CACHE.clear()
    first = encoder.encode_cached(["alpha one", "beta two"])
    both = encoder.encode_cached(["alpha one", "gamma three", "delta four"])  # overflow clears the cache
    np.testing.assert_allclose(both[0], first[0], atol=1e-6)
    assert both.shape == (3, 384)
    encoder._CACHE.clear()


def test_set_threads_applies_to_new_encoders_and_batch_size_does_not_change_fp32_vectors(monkeypatch):
    from mythscan.models import encoder

    monkeypatch.setattr(encoder, "_ENCODERS", {})
    monkeypatch.setattr(encoder, "_THREADS", None)
    encoder.set_threads(1)
    enc = encoder.get_encoder()
    assert len(enc.sessions) == 1 and enc.sessions[0].get_session_options().intra_op_num_threads == 1
    texts = ["Defaulters cannot buy plane tickets.", "A much longer sentence about local pilots in Rongcheng and their points.", "Short."]
    a = enc.encode(texts, batch_size=1)
    b = enc.encode(texts, batch_size=encoder.BATCH_SIZE)
    assert np.allclose(a, b, atol=1e-5)


def test_int8_vectors_depend_on_the_sentence_alone_whatever_the_threads():
    """The int8 encoder's dynamic quantisation scales each call's activations together, so it
    runs one sentence per call: a sentence gets the same vector, to the bit, alone or among other
    sentences, and with one session or several running in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from mythscan.models.encoder import Encoder

    texts = [
        "Defaulters cannot buy plane tickets.",
        "Short.",
        "A much longer sentence about local pilots in Rongcheng, their points and the central guidance that reined them in.",
        "Critics claim that every citizen has a score, which researchers dispute.",
        "No AI decides anyone's score.",
    ] * 3
    one, two = Encoder(quantized=True, layers=(6, 3), threads=1), Encoder(quantized=True, layers=(6, 3), threads=2)
    together = two.encode(texts)
    alone = np.vstack([one.encode([t]) for t in texts])
    assert np.array_equal(together, alone) and np.array_equal(one.encode(texts), together)
    with ThreadPoolExecutor(3) as ex:  # callers in several threads share the sessions safely
        results = list(ex.map(lambda chunk: two.encode(chunk), [texts[:5], texts[5:], texts]))
    assert np.array_equal(np.vstack(results[:2]), together) and np.array_equal(results[2], together)


def test_layer_mix_pools_each_layer_like_transformers():
    """layers=(6, 3): the last and third layers, each mean-pooled and normalised, concatenated and
    normalised again; layer 6 alone reproduces the default encoder."""
    import pytest
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mythscan.errors import ModelError
    from mythscan.models.encoder import get_encoder, weights_dir

    texts = ["Short one.", "Critics claim that every citizen has a score, which researchers dispute."]
    mixed = get_encoder(layers=(6, 3)).encode(texts)
    assert mixed.shape == (2, 768)
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(get_encoder(layers=(6,)).encode(texts), get_encoder().encode(texts), atol=1e-5)
    tok = AutoTokenizer.from_pretrained(str(weights_dir()))
    model = AutoModel.from_pretrained(str(weights_dir())).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hs = model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"][..., None].float()
    unit = lambda x: torch.nn.functional.normalize(x, dim=1)  # noqa: E731
    ref = unit(torch.cat([unit((hs[k] * mask).sum(1) / mask.sum(1)) for k in (6, 3)], dim=1)).numpy()
    assert float((mixed * ref).sum(1).min()) > 0.9999
    with pytest.raises(ModelError, match="layers must be between"):
        get_encoder(layers=(7,))


def test_token_states_are_the_unpooled_hidden_states_of_encode():
    """token_states: one (tokens, 384 per layer) float16 array per sentence, in input order, whose
    per-layer means pool to what encode() returns (padding never leaks into a sentence's rows)."""
    from mythscan.models.encoder import get_encoder

    enc = get_encoder(layers=(6, 3))
    texts = ["Short one.", "Critics claim that every citizen has a score, which researchers dispute.", "Mid length sentence here."]
    states = enc.token_states(texts, batch_size=2)
    lengths = [len(enc.tokenizer.encode(t).ids) for t in texts]
    assert [s.shape for s in states] == [(n, 768) for n in lengths] and states[0].dtype == np.float16
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    pooled = np.stack(
        [unit(np.hstack([unit(s[:, :384].astype(np.float32).mean(0)), unit(s[:, 384:].astype(np.float32).mean(0))])) for s in states]
    )
    np.testing.assert_allclose(pooled, enc.encode(texts), atol=2e-3)  # float16 rounding only
    assert enc.token_states([]) == []


def test_token_states_pass_also_gives_the_pooled_vectors(monkeypatch):
    """An attention head and a pooled-vector head on the same int8 encoder encode each sentence
    once: the token-state pass hands its pooled vectors to `encode_cached`, equal to `encode`'s."""
    from mythscan.models import attention, encoder

    texts = ["Defaulters cannot buy plane tickets.", "Critics claim that every citizen has a score, which researchers dispute."]
    enc = encoder.get_encoder(True, (6, 3))
    expected = enc.encode(texts)
    vectors, states = enc.encode_with_states(texts)
    assert np.array_equal(vectors, expected) and [s.shape[0] for s in states] == [len(enc.tokenizer.encode(t).ids) for t in texts]
    encoder.clear_caches()
    attention.token_states(texts, True, (6, 3))
    monkeypatch.setattr(encoder.Encoder, "encode", lambda *a, **k: (_ for _ in ()).throw(AssertionError("encoded twice")))
    assert np.array_equal(encoder.encode_cached(texts, quantized=True, layers=(6, 3)), expected)
    encoder.clear_caches()


def test_encode_cached_keeps_vectors_of_other_batch_sizes_apart():
    """A model that asks for another batch size gets the vectors of that batch size, not those a
    default-size call memoised (int8 vectors differ between the two)."""
    from mythscan.models import encoder

    texts = ["Short.", "A much longer sentence about local pilots in Rongcheng, their points and the central guidance."]
    enc = encoder.get_encoder(True, (6, 3))
    encoder.clear_caches()
    default = encoder.encode_cached(texts, quantized=True, layers=(6, 3))
    batched = encoder.encode_cached(texts, quantized=True, layers=(6, 3), batch_size=16)
    assert np.array_equal(default, enc.encode(texts)) and np.array_equal(batched, enc.encode(texts, batch_size=16))
    assert not np.array_equal(default, batched)
    encoder.clear_caches()
