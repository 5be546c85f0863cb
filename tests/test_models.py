import json
import shutil

import numpy as np
import pytest

from mythscan import load_model
from mythscan.data import load_splits
from mythscan.errors import ModelError
from mythscan.evaluation import evaluate_model
from mythscan.models import LABELS, TfidfModel, decide


def test_tiny_model_directory_and_meta(tiny_model):
    names = {p.name for p in tiny_model.iterdir()}
    assert {"config.json", "meta.json", "README.md", "vectorizer.json", "vectorizer.safetensors", "heads.safetensors"} <= names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
    meta = json.loads((tiny_model / "meta.json").read_text())
    assert meta["labels"] == LABELS
    assert len(meta["data_hash"]) == 16
    assert "scikit-learn" in meta["versions"]
    assert 0.2 <= meta["decision"]["threshold"] <= 0.8
    assert meta["cv"]["folds"] == 3 and "myth_f1" in meta["cv"]["summary"]
    assert "Model card" in (tiny_model / "README.md").read_text()


def test_save_load_round_trip_is_exact(tiny_model, tiny_labels, tmp_path):
    model = load_model(tiny_model)
    train, test = load_splits(tiny_labels)
    texts = test["text"].tolist()
    p1, l1, c1 = model.predict_all(texts)
    model.save(tmp_path / "copy", model.meta)
    p2, l2, c2 = load_model(tmp_path / "copy").predict_all(texts)
    np.testing.assert_array_equal(p1, p2)
    assert list(l1) == list(l2) and c1 == c2
    # evaluation of the reloaded model reproduces the stored test metrics
    m, _ = evaluate_model(load_model(tmp_path / "copy"), test)
    assert m["myth"]["f1"] == model.meta["test_metrics"]["myth_f1"]


def test_sklearn_conventions(tiny_model):
    model = load_model(tiny_model)
    texts = ["Every Chinese citizen is given one national score.", "Alibaba's profit rose in the quarter."]
    proba = model.predict_proba(texts)
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    assert list(model.classes_) == LABELS
    assert set(model.predict(texts)) <= set(LABELS)


def test_training_is_reproducible(tiny_labels):
    train, _ = load_splits(tiny_labels)
    args = (train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    a = TfidfModel(params={"C": 5.0}).fit(*args).predict_proba(train["text"].tolist()[:20])
    b = TfidfModel(params={"C": 5.0}).fit(*args).predict_proba(train["text"].tolist()[:20])
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_decide_threshold():
    p = np.array([[0.2, 0.45, 0.35], [0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    assert list(decide(p, 0.4)) == ["myth", "accurate", "other"]
    assert list(decide(p, 0.5)) == ["other", "accurate", "other"]


def test_categories_follow_the_label(tiny_model):
    model = load_model(tiny_model)
    _, labels, cats = model.predict_all(
        ["Every Chinese citizen is given one national score by the state.", "The weather in Beijing was sunny on Sunday."]
    )
    for lab, cat in zip(labels, cats):
        if lab == "other":
            assert cat is None
        else:
            assert cat.startswith("M-" if lab == "myth" else "A-")


def test_missing_and_bad_model_dirs(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(tmp_path / "bad")


def test_embed_model_round_trip(tiny_labels, tmp_path):
    """The frozen-MiniLM model: onnxruntime encoder, safetensors heads, exact reload."""
    from mythscan.models import EmbedModel

    train, test = load_splits(tiny_labels)
    m = EmbedModel(params={"C": 4.0}).fit(train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    m.save(tmp_path / "embed", {"name": "embed-test"})
    assert (tmp_path / "embed" / "heads.safetensors").stat().st_size < 200_000
    a = m.predict_proba(test["text"].tolist())
    b = load_model(tmp_path / "embed").predict_proba(test["text"].tolist())
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("support_dtype", ["float16", "int8"])
def test_svm_head_matches_scikit_learn_svc(support_dtype):
    """SvmHead applies the fitted SVC with numpy: its one-vs-one decisions are scikit-learn's,
    for an SVC fitted on the vectors as stored (half precision, or int8 with a scale per row)."""
    from mythscan.models.base import SvmHead, _dequantize, _quantize

    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 24))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.array(LABELS, dtype=object)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)]
    head = SvmHead.fit(X, y, C=4.0, gamma=1.0, support_dtype=support_dtype)
    stored, scale = _quantize(X.astype(np.float32), support_dtype)
    assert np.abs(_dequantize(stored, scale) - X).max() < (5e-3 if support_dtype == "int8" else 1e-3)
    svc = SvmHead._svc(4.0, 1.0, 0).fit(_dequantize(stored, scale), y)
    assert head.support.dtype == np.dtype(support_dtype) and len(head.support) == len(svc.support_)
    Xt = rng.normal(size=(60, 24))
    Xt /= np.linalg.norm(Xt, axis=1, keepdims=True)
    np.testing.assert_allclose(head.decision(Xt), svc.decision_function(Xt), atol=1e-2)  # float32 kernel vs float64
    p = head.predict_proba(Xt)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert list(head.classes_) == LABELS
    truth = np.array(LABELS, dtype=object)[(Xt[:, 0] > 0).astype(int) + (Xt[:, 1] > 0.3)]
    assert np.mean(head.classes_[p.argmax(axis=1)] == truth) > 0.5  # chance is 1/3


@pytest.mark.parametrize(("layers", "support_dtype"), [(None, "float16"), ([6, 3], "int8")])
def test_embed_svm_model_round_trip(tiny_labels, tmp_path, layers, support_dtype):
    """The SVM label head is saved as safetensors arrays and reloads to the same probabilities;
    with `layers` it works on the pooled layer mix (384 floats per layer)."""
    from safetensors.numpy import load_file

    from mythscan.models import EmbedModel, SvmHead

    train, test = load_splits(tiny_labels)
    params = {"C": 4.0, "head": "svm", "svm_support_dtype": support_dtype, **({"layers": layers} if layers else {})}
    m = EmbedModel(params=params).fit(train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    assert isinstance(m.label_head, SvmHead)
    m.save(tmp_path / "svm", {"name": "svm-test"})
    stored = load_file(str(tmp_path / "svm" / "heads.safetensors"))
    support = stored["svm_support"] if support_dtype == "float16" else stored["svm_support_q"]
    assert support.dtype == np.dtype(support_dtype) and "label_coef" not in stored
    assert support.shape[1] == 384 * len(layers or [6])
    a = m.predict_proba(test["text"].tolist())
    loaded = load_model(tmp_path / "svm")
    assert isinstance(loaded.label_head, SvmHead)
    np.testing.assert_array_equal(a, loaded.predict_proba(test["text"].tolist()))  # stored as fitted: exact
    # the kernel head must beat chance on held-out rows, or it is not learning anything
    assert np.mean(loaded.predict(test["text"].tolist()) == test["label"].to_numpy()) > 0.5


@pytest.mark.parametrize("negation", [False, True])
def test_fast_tfidf_matches_scikit_learn(tiny_labels, negation):
    """The sklearn-free inference path gives the same probabilities as scikit-learn's transform,
    with and without negation-scope marking of the word n-grams."""
    import tempfile

    train, test = load_splits(tiny_labels)
    m = TfidfModel(params={"C": 5.0, "negation_scope": negation}).fit(
        train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]]
    )
    texts = test["text"].tolist() + ["Ünïcode  spaces\tand U.S. abbreviations", "x", ""]
    ref_label, ref_fine = m._raw_proba(texts)
    with tempfile.TemporaryDirectory() as d:
        m.save(d + "/m", {"name": "m"})
        fast = load_model(d + "/m")
        assert fast.vectorizer is None
        assert any(t.startswith("NEG_") for t in fast.fast.parts[0].index) == negation
        got_label, got_fine = fast._raw_proba(texts)
        w = np.random.default_rng(0).normal(size=(3, int(sum(len(p.idf) for p in fast.fast.parts))))
        np.testing.assert_allclose(fast.fast.dot(texts, w, chunk=4), fast.fast.dot(texts, w))  # chunks add up
        assert fast.fast.dot(["", "x"], w).tolist() == [[0.0] * 3] * 2  # no known term: a zero row
        fast.save(d + "/again", {"name": "again"})  # a loaded model can be saved again
        again = load_model(d + "/again")._raw_proba(texts)[0]
    np.testing.assert_allclose(got_label, ref_label, atol=1e-6)
    np.testing.assert_allclose(got_fine, ref_fine, atol=1e-6)
    np.testing.assert_allclose(again, ref_label, atol=1e-6)


def test_negation_scope_marks_words_up_to_the_next_punctuation():
    from mythscan.models.textfeatures import negation_scope

    assert negation_scope("There is NO single score, just lists.") == "there is no NEG_single NEG_score just lists"
    assert negation_scope("It doesn't rate anyone; courts do.") == "it doesn NEG_rate NEG_anyone courts do"
    assert negation_scope("Every citizen has a single score") == "every citizen has single score"


def test_tfidf_float16_coefficients_halve_the_heads_and_round_trip(tiny_labels, tmp_path):
    """coef_dtype = "float16" rounds the heads at fit time, so the saved file is half the size and
    the reloaded model gives the fitted model's probabilities."""
    from safetensors.numpy import load_file

    train, test = load_splits(tiny_labels)
    args = (train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    texts = test["text"].tolist()
    full = TfidfModel(params={"C": 5.0}).fit(*args)
    half = TfidfModel(params={"C": 5.0, "coef_dtype": "float16"}).fit(*args)
    full.save(tmp_path / "full", {"name": "full"})
    half.save(tmp_path / "half", {"name": "half"})
    stored = load_file(str(tmp_path / "half" / "heads.safetensors"))
    assert stored["fine_coef"].dtype == np.float16 and stored["label_coef"].dtype == np.float16
    assert load_file(str(tmp_path / "full" / "heads.safetensors"))["fine_coef"].dtype == np.float32
    size = lambda d: (tmp_path / d / "heads.safetensors").stat().st_size  # noqa: E731
    assert size("half") < 0.6 * size("full")
    ref = half._raw_proba(texts)
    got = load_model(tmp_path / "half")._raw_proba(texts)
    np.testing.assert_allclose(got[0], ref[0], atol=1e-6)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-6)
    # rounding moves probabilities by far less than a decision needs
    assert np.abs(half._raw_proba(texts)[0] - full._raw_proba(texts)[0]).max() < 0.01
    with pytest.raises(ModelError, match="coef_dtype"):
        TfidfModel(params={"coef_dtype": "int4"}).fit(*args)


def test_label_only_fold_models_give_the_same_label_probabilities(tiny_labels, tmp_path):
    """Cross-validation and the stack's inner folds skip the category head (label_only): the label
    probabilities must be exactly those of a full fit, or thresholds and stage 2 would change."""
    from mythscan.models import make_model

    train, test = load_splits(tiny_labels)
    args = (train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    texts = test["text"].tolist()
    params = {"members": ["embed", "tfidf"], "member_params": {"embed": {"head": "svm"}, "tfidf": {"C": 5.0, "coef_dtype": "float16"}}}
    for kind, p in (("tfidf", {"C": 5.0}), ("ensemble", params)):
        full = make_model(kind, p).fit(*args)
        fold = make_model(kind, p)
        fold.label_only = True
        fold.fit(*args)
        label, fine = fold._raw_proba(texts)
        assert fine is None and fold.fine_classes_ is None
        np.testing.assert_array_equal(label, full._raw_proba(texts)[0])
        with pytest.raises(ModelError, match="label_only"):
            fold.save(tmp_path / kind)


def test_invariance_suite_counts_frames_with_one_label(tiny_model):
    import pandas as pd

    from mythscan.paths import REPO_ROOT

    suite = pd.read_csv(REPO_ROOT / "evaluate" / "suites" / "name_invariance.csv", keep_default_na=False)
    model = load_model(tiny_model)
    m, preds = evaluate_model(model, suite)
    expected = preds.groupby("frame")["pred_label"].nunique().eq(1).mean()
    assert m["invariance"]["frames"] == suite["frame"].nunique() == 16
    assert m["invariance"]["consistent"] == round(float(expected), 4)
    assert 0 <= m["invariance"]["consistent"] <= 1


def test_cue_features_count_frames():
    from mythscan.models.stacking import CueFeatures

    cf = CueFeatures()
    X = cf.transform(["The tabloid supposedly said every citizen has a score.", "Every citizen has a score.", "There is no single score?"])
    col = {n: i for i, n in enumerate(cf.names)}
    assert X[0, col["doubt"]] == 1 and X[0, col["coverage"]] == 1 and X[0, col["speech"]] == 1
    assert X[1, : col["log_words"]].sum() == 0
    assert X[2, col["negation"]] >= 1 and X[2, col["question"]] == 1


def test_cue_counts_match_case_insensitive_matching(tiny_labels):
    """Cues run on lower-cased text (faster than IGNORECASE): the counts must be those of
    case-insensitive matching on the original text, for the shipped cues and for a custom cue
    written with capitals and an escape (which keeps IGNORECASE)."""
    import re

    import pandas as pd

    from mythscan.models.stacking import CUES, CueFeatures

    texts = pd.read_csv(tiny_labels)["text"].tolist() + ["THE TABLOID SUPPOSEDLY SAID NO SCORE EXISTS?", "Black Mirror's Nosedive"]
    cues = CUES + [("named", r"\bBlack Mirror\S*")]
    got = CueFeatures(cues).transform(texts)
    ref = [[min(len(re.findall(p, t, re.IGNORECASE)), 3) for _, p in cues] for t in texts]
    np.testing.assert_array_equal(got[:, :-1], np.array(ref, dtype=float))
    assert got[-1, -2] == 1 and got[-2, 0] == 1  # the custom cue and "supposedly" in capitals


def test_stack_model_trains_from_its_own_out_of_fold_predictions(tiny_labels, tmp_path):
    """The stacked kind: group CV inside fit gives the stage-2 head and the threshold; the saved
    model (base + cues + head) reloads to the same probabilities."""
    from mythscan.models.stacking import StackModel
    from mythscan.training import TrainConfig, train

    cfg = TrainConfig.from_dict(
        {"name": "tiny-stack", "kind": "stack", "params": {"folds": 3, "base": {"kind": "tfidf", "params": {"C": 5.0}}}}
    )
    model, path, meta = train(cfg, labels_path=tiny_labels, out_dir=tmp_path / "stack")
    assert isinstance(model, StackModel) and meta["cv"]["folds"] == 3
    train_df, test_df = load_splits(tiny_labels)
    assert model.oof_proba_.shape == (len(train_df), 3)
    assert {p.name for p in path.iterdir()} >= {"base_tfidf", "base.json", "cues.json", "stage2.safetensors", "meta.json", "README.md"}
    texts = test_df["text"].tolist()
    np.testing.assert_allclose(model.predict_proba(texts), load_model(path).predict_proba(texts), atol=1e-6)
    assert meta["test_metrics"]["myth_f1"] > 0.4


def test_stack_member_inputs_give_stage2_each_members_log_probabilities(tiny_labels, tmp_path):
    """member_inputs: stage 2 sees each ensemble member's log-probabilities besides their average
    (3 more columns a member), and the saved model reloads to the same probabilities; a base that
    is not an ensemble is refused with a clear error."""
    from mythscan.models.stacking import CueFeatures
    from mythscan.training import TrainConfig, train

    base = {"kind": "ensemble", "params": {"members": ["embed", "tfidf"], "member_params": {"embed": {"head": "svm"}, "tfidf": {"C": 5.0}}}}
    cfg = TrainConfig.from_dict({"name": "tiny-stack-m", "kind": "stack", "params": {"folds": 3, "member_inputs": True, "base": base}})
    model, path, _ = train(cfg, labels_path=tiny_labels, out_dir=tmp_path / "stack")
    n_cues = len(CueFeatures().names)
    assert model.head.coef.shape[1] == 3 + n_cues + (n_cues - 1) + 2 * 3
    texts = load_splits(tiny_labels)[1]["text"].tolist()
    np.testing.assert_allclose(model.predict_proba(texts), load_model(path).predict_proba(texts), atol=1e-9)
    bad = TrainConfig.from_dict({"name": "bad", "kind": "stack", "params": {"folds": 3, "member_inputs": True, "base": {"kind": "tfidf"}}})
    with pytest.raises(ModelError, match="needs an ensemble base"):
        train(bad, labels_path=tiny_labels, out_dir=tmp_path / "bad")


def test_exclude_batches_leaves_a_batch_out_of_training_only(tiny_labels, tmp_path):
    """exclude_batches drops those label batches from the train split (the data hash and sentence
    count show it) and keeps the test split, so both models are measured on the same sentences;
    a batch name that matches nothing is refused."""
    from mythscan.errors import ConfigError
    from mythscan.training import TrainConfig, train

    train_df, test_df = load_splits(tiny_labels)
    batch = train_df["batch"].value_counts().index[0]
    n_out = int((train_df["batch"] == batch).sum())
    base = {"name": "t", "kind": "tfidf", "cv_folds": 3, "params": {"C": 5.0}}
    _, _, full = train(TrainConfig.from_dict(base), labels_path=tiny_labels, out_dir=tmp_path / "full")
    _, _, less = train(TrainConfig.from_dict({**base, "exclude_batches": [batch]}), labels_path=tiny_labels, out_dir=tmp_path / "less")
    assert less["train_sentences"] == full["train_sentences"] - n_out and n_out > 0
    assert less["data_hash"] != full["data_hash"] and less["test_data_hash"] == full["test_data_hash"]
    assert less["config"]["exclude_batches"] == [batch]
    _, _, one = train(TrainConfig.from_dict({**base, "exclude_batches": batch}), labels_path=tiny_labels, out_dir=tmp_path / "one")
    assert one["data_hash"] == less["data_hash"]  # a single name may be written without the list
    with pytest.raises(ConfigError, match="no train sentences in batch"):
        train(TrainConfig.from_dict({**base, "exclude_batches": ["no-such-batch"]}), labels_path=tiny_labels, out_dir=tmp_path / "bad")


def test_cv_group_batch_folds_keep_each_label_batch_in_one_fold(tiny_labels, tmp_path):
    """cv_group = "batch" folds cross-validation (and the stacked model's inner folds) by label
    batch: every out-of-fold prediction comes from a model that saw no sentence of its batch.
    The default folds by paraphrase group; an unknown grouping is refused."""
    import pandas as pd

    from mythscan.data import group_folds
    from mythscan.errors import ConfigError
    from mythscan.training import TrainConfig, fold_groups, train

    train_df, _ = load_splits(tiny_labels)
    labels, cats = train_df["label"].to_numpy(dtype=object), [c or None for c in train_df["category"]]
    by_batch = TrainConfig.from_dict({"name": "b", "cv_group": "batch"})
    for cfg, col in ((TrainConfig.from_dict({"name": "g"}), "group"), (by_batch, "batch")):
        splits = group_folds(labels, cats, fold_groups(cfg, train_df), 5, 0)
        fold_of = {}
        for k, (_, va) in enumerate(splits):
            for value in train_df[col].iloc[va]:
                assert fold_of.setdefault(value, k) == k, f"{col} {value} straddles folds"
    batch_straddles = any(
        len({k for k, (_, va) in enumerate(group_folds(labels, cats, train_df["group"], 5, 0)) if b in set(train_df["batch"].iloc[va])}) > 1
        for b in train_df["batch"].unique()
    )
    assert batch_straddles  # paraphrase-group folds do split batches, so the option changes something

    stack = {"name": "s", "kind": "stack", "cv_group": "batch", "params": {"folds": 5, "base": {"kind": "tfidf", "params": {"C": 5.0}}}}
    model, path, meta = train(TrainConfig.from_dict(stack), labels_path=tiny_labels, out_dir=tmp_path / "s")
    assert "## Cross-validation (train split, folds by label batch)" in (path / "README.md").read_text()
    folds_per_batch = pd.Series(model.oof_folds_).groupby(train_df["batch"].to_numpy()).nunique()
    assert (folds_per_batch == 1).all() and meta["config"]["cv_group"] == "batch" and meta["cv"]["folds"] == 5
    with pytest.raises(ConfigError, match="config: cv_group must be one of"):
        TrainConfig.from_dict({"name": "x", "cv_group": "author"})
    with pytest.raises(ConfigError, match="cv_group must be one of"):
        TrainConfig(name="x", cv_group="author")  # built in code: checked as well
    with pytest.raises(ConfigError, match="distinct values"):
        fold_groups(TrainConfig.from_dict({"name": "x", "cv_group": "batch", "cv_folds": 10_000}), train_df)
    n_batches = train_df["batch"].nunique()
    too_many_inner = dict(stack, params={**stack["params"], "folds": n_batches + 1})  # cv_folds stays 5
    with pytest.raises(ConfigError, match=f"{n_batches} distinct values for {n_batches + 1} folds"):
        train(TrainConfig.from_dict(too_many_inner), labels_path=tiny_labels, out_dir=tmp_path / "s2")


def test_attention_model_trains_round_trips_and_numpy_matches_torch(tiny_labels, tmp_path):
    """The attn kind: a small head trained with torch on MiniLM token states; the saved model
    (float16 weights) reloads to the same probabilities, and the numpy forward used for scoring
    matches the torch module it was trained as."""
    import torch

    from mythscan.models.attention import _NAMES, AttentionModel, _padded, token_states, torch_head
    from mythscan.training import TrainConfig, train

    params = {"epochs": 3, "hidden": 32, "queries": 2, "quantized": True, "layers": [6, 3]}
    model, path, meta = train(
        TrainConfig.from_dict({"name": "att", "kind": "attn", "cv_folds": 3, "params": params}),
        labels_path=tiny_labels,
        out_dir=tmp_path / "att",
    )
    assert isinstance(model, AttentionModel) and (path / "attn.safetensors").exists()
    _, test_df = load_splits(tiny_labels)
    texts = test_df["text"].tolist()
    p1, l1, c1 = model.predict_all(texts)
    p2, l2, c2 = load_model(path).predict_all(texts)
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    assert list(l1) == list(l2) and c1 == c2
    assert meta["test_metrics"]["myth_f1"] > 0.4  # well above chance on 3 labels

    states = token_states(texts[:8], True, [6, 3])
    mods, forward = torch_head(768, 2, 32)
    with torch.no_grad():
        for p, name in zip(mods.parameters(), _NAMES):
            p.copy_(torch.from_numpy(model.head.w[name]))
    mods.eval()
    x, m = _padded(states, np.arange(len(states)))
    with torch.no_grad():
        ref = forward(torch.from_numpy(x), torch.from_numpy(m)).numpy()
    np.testing.assert_allclose(model.head.logits(x, m), ref, atol=1e-4)
    with pytest.raises(ModelError, match="weights_dtype"):
        train(
            TrainConfig.from_dict({"name": "bad", "kind": "attn", "cv_folds": 0, "params": {**params, "weights_dtype": "int4"}}),
            labels_path=tiny_labels,
            out_dir=tmp_path / "bad",
        )


def test_every_committed_training_config_parses_and_names_a_known_kind():
    from conftest import ROOT

    from mythscan.models import MODEL_KINDS
    from mythscan.training import TrainConfig

    configs = sorted((ROOT / "training").glob("*.toml"))
    assert {"stack", "tfidf", "attn", "stack-attn"} <= {p.stem for p in configs}
    for p in configs:
        cfg = TrainConfig.from_file(p)
        assert cfg.name == p.stem and cfg.kind in MODEL_KINDS, p
        base = cfg.params.get("base", {})
        for member in base.get("params", {}).get("members", []):
            assert member in MODEL_KINDS, (p, member)


def test_models_list_marks_only_versions_measured_on_another_test_split(tiny_model, tiny_labels, tmp_path, monkeypatch):
    import shutil

    from mythscan.data import data_hash
    from mythscan.models import registry

    home = tmp_path / "home"
    shutil.copytree(tiny_model, home / "models" / "tiny")
    (home / "models" / "DEFAULT").write_text("tiny\n")
    monkeypatch.setenv("MYTHSCAN_HOME", str(home))
    out = registry.list_models(test_hash=data_hash(load_splits(tiny_labels)[1]))
    assert "* tiny" in out and "older test split" not in out
    out = registry.list_models(test_hash="0000000000000000")
    assert "(older test split)" in out and "1 version(s) were measured on an older test split" in out


def test_int8_model_scores_a_sentence_the_same_alone_or_inside_any_article(tiny_labels):
    """With the int8 encoder a sentence's probabilities do not depend on the other sentences
    scored with it (so an article and an archive give the same sentence the same score)."""
    from mythscan.models import EmbedModel, encoder

    train, test = load_splits(tiny_labels)
    m = EmbedModel(params={"head": "svm", "quantized": True, "layers": [6, 3]})
    m.fit(train["text"].tolist(), train["label"].tolist(), [c or None for c in train["category"]])
    texts = test["text"].tolist()[:12]
    encoder.clear_caches()
    together = m.predict_proba(texts)
    encoder.clear_caches()
    alone = np.vstack([m.predict_proba([t]) for t in texts])
    encoder.clear_caches()
    reversed_ = m.predict_proba(texts[::-1] + ["An unrelated caption about the weather in Hangzhou."])[:-1][::-1]
    # vectors are equal to the bit (tests/test_encoder.py); the heads' matrix products may round
    # the last digit differently for another number of rows. Batched int8 calls moved P by ~1e-2.
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(together, reversed_, atol=1e-5)


def test_average_precision_matches_scikit_learn_and_the_bootstrap_is_paired():
    """myth AP as scikit-learn computes it (ties included), for one weighting or a matrix of
    bootstrap weightings; a model compared with itself differs by exactly 0 in every resample."""
    from sklearn.metrics import average_precision_score

    from mythscan.evaluation import average_precision, paired_bootstrap_ap

    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.2
    p = np.round(np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1), 2)  # rounded: many ties
    assert average_precision(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    counts = rng.multinomial(300, np.full(300, 1 / 300), size=4)
    expected = [average_precision_score(np.repeat(y, c), np.repeat(p, c)) for c in counts]
    np.testing.assert_allclose(average_precision(y, p, counts), expected, atol=1e-12)
    same = paired_bootstrap_ap(y, p, p, resamples=200)
    assert same["diff"] == 0 and same["ci95"] == [0, 0] and same["p_worse"] == 0
    better = paired_bootstrap_ap(y, p, y * 1.0 + p * 0.01, resamples=200)  # a perfect ranking
    assert better["diff"] > 0.1 and better["ci95"][0] > 0 and better["p_worse"] == 0


def test_rollback_skips_defaults_that_are_no_longer_kept(tiny_model, tmp_path, monkeypatch):
    """Only the default and the previous default are committed: a rollback goes to the last earlier
    default that still exists instead of failing on one that was removed from models/."""
    from mythscan.models import registry

    home = tmp_path / "home"
    for name in ("old", "new"):
        shutil.copytree(tiny_model, home / "models" / name)
    (home / "models" / "DEFAULT").write_text("new\n")
    (home / "models" / "HISTORY").write_text("t1\tpromote\told\nt2\tpromote\tgone/v1\nt3\tpromote\tnew\n")
    monkeypatch.setenv("MYTHSCAN_HOME", str(home))
    assert registry.rollback() == "old"
    assert (home / "models" / "DEFAULT").read_text().strip() == "old"


def test_a_fold_without_myths_has_no_myth_f1_rather_than_zero():
    """Folds grouped by article can hold no myth at all; their myth F1 is undefined, not 0, and the
    summary averages over the folds that hold myths (a 0 there once halved the reported mean)."""
    from mythscan.training import TrainConfig, summarise_oof

    cfg = TrainConfig.from_dict({"name": "t", "kind": "tfidf", "calibrate": False})
    labels = np.array(["myth", "other", "myth", "accurate", "other", "accurate"], dtype=object)
    proba = np.array([[0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.8, 0.1, 0.1], [0.2, 0.1, 0.7], [0.7, 0.2, 0.1]])
    cv = summarise_oof(cfg, proba, labels, np.array([0, 0, 1, 1, 2, 2]))
    assert [f["myths"] for f in cv["per_fold"]] == [1, 1, 0]
    assert cv["per_fold"][2]["myth_f1"] is None
    assert cv["summary"]["myth_f1"] == {"mean": 1.0, "std": 0.0, "folds": 2}
