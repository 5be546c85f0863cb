from mythscan.augment import NAMES, name_spans, swap_names
from mythscan.models import TfidfModel


def test_swap_names_adds_one_renamed_copy_per_naming_sentence():
    texts = [
        "What is China's social credit system?",
        "Alibaba's profit rose.",
        "The SCS is mostly blacklists, and the SCS is fragmented.",
        "Social credit in China: what we know",
    ]
    labels = ["other", "other", "accurate", "other"]
    out, out_labels = swap_names(texts, labels, seed=1)
    assert out[:4] == texts and out_labels[:4] == labels
    assert len(out) == 7 and out_labels[4:] == ["other", "accurate", "other"]
    for original, copy in zip([texts[0], texts[2], texts[3]], out[4:]):
        assert copy != original and name_spans(copy), copy
        assert copy[0].isupper()  # sentence-initial names keep a capital
    # every mention in one copy gets the same new name
    copy = out[5]
    names = {copy[a:b] for a, b in name_spans(copy)}
    assert len({n.lower() for n in names}) == 1 and copy.endswith("fragmented.")
    # every generated name is recognised as a name (so swapping is closed over NAMES)
    for n in NAMES:
        assert name_spans(f"Critics discuss {n} often."), n


def test_name_swap_is_part_of_fit_and_seeded(tiny_labels):
    import pandas as pd

    df = pd.read_csv(tiny_labels, keep_default_na=False)
    df = df[df["split"] == "train"]
    args = (df["text"].tolist(), df["label"].tolist(), [c or None for c in df["category"]])
    probe = ["What is the SCS?", "What is China's social credit system?"]
    a = TfidfModel(params={"C": 5.0, "name_swap": True}).fit(*args, augment=swap_names).predict_proba(probe)
    b = TfidfModel(params={"C": 5.0, "name_swap": True}).fit(*args, augment=swap_names).predict_proba(probe)
    c = TfidfModel(params={"C": 5.0}).fit(*args, augment=swap_names).predict_proba(probe)
    assert (a == b).all()
    assert not (a == c).all()  # the augmented copies change the fitted model


def test_name_swap_needs_the_augmentation_handed_in(tiny_labels):
    """The model stage does not import the augmentation: a model asked to name-swap says what to pass."""
    import pandas as pd
    import pytest

    from mythscan.errors import ModelError

    df = pd.read_csv(tiny_labels, keep_default_na=False)
    with pytest.raises(ModelError, match="augment="):
        TfidfModel(params={"name_swap": True}).fit(df["text"].tolist(), df["label"].tolist())
