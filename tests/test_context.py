"""Sentences read in their article: the `context` kind, real-coverage sources in training, one
score per sentence whichever command reads it, article-level verdicts, evaluation by page."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import context_config, run_cli

from mythscan import load_model
from mythscan.batch.prefilter import Prefilter
from mythscan.errors import ConfigError, ModelError
from mythscan.models import Sentences, TfidfModel
from mythscan.scoring import Scorer, SentenceResult, assess
from mythscan.training import TrainConfig, train


def test_sentences_read_articles_contexts_and_reading_order():
    df = pd.DataFrame({"text": ["b", "a", "x", "c"], "article": ["p", "p", "q", "p"], "position": [1, 0, 0, 2]})
    s = Sentences.of(df)
    assert s.text == ["b", "a", "x", "c"]
    assert s.context == ["a", "", "", "b"]  # the row before in the article, by position
    assert s.article == ["p", "p", "q", "p"]
    given = Sentences.of(df.assign(context_before=["given", "", "", ""]))
    assert given.context == ["given", "", "", ""]  # a context column is taken as it is
    alone = Sentences.of(["one", "two"])
    assert alone.context == ["", ""] and len(set(alone.article)) == 2
    with pytest.raises(ModelError, match="one string"):
        Sentences.of("a single string")


def test_context_model_learns_from_real_pages_and_round_trips(context_model, page_sample, tmp_path):
    meta = json.loads((context_model / "meta.json").read_text())
    origins = {s["path"]: s for s in meta["sources"]}
    assert origins["labels/"]["weight"] == 0.3 and origins[str(page_sample["train"])]["articles"] == 28
    assert any("pages" in s for s in meta["sources"])
    # threshold and calibration come from the real rows (28 pages x 8 sentences), read in their articles
    assert meta["cv"]["rows"] == 28 * 8 and 0.2 <= meta["decision"]["threshold"] <= 0.8
    high = meta["decision"]["high_threshold"]
    assert high >= meta["decision"]["threshold"] and meta["high_precision_point"]["chosen_on"] != ""
    assert "select.csv (unambiguous)" in meta["selection_metrics"]
    names = {p.name for p in context_model.iterdir()}
    assert {"context.safetensors", "members.json", "member0_tfidf", "config.json", "meta.json", "README.md"} <= names
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in context_model.rglob("*"))
    model = load_model(context_model)
    sel = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    p1 = model.predict_proba(sel)
    model.save(tmp_path / "copy", model.meta)
    np.testing.assert_array_equal(p1, load_model(tmp_path / "copy").predict_proba(sel))
    assert list(model.classes_) == ["accurate", "myth", "other"] and p1.shape == (len(sel), 3)
    stance = model.page_stance(sel)
    assert set(stance) == set(sel["article"]) and all(abs(sum(v.values()) - 1) < 1e-3 for v in stance.values())


def test_the_page_and_the_sentence_before_change_a_score(context_model, page_sample):
    """Read alone, in a page that repeats myths, or in a research page, one sentence gets three
    scores: the model reads its context (a sentence-only model would give one)."""
    model = load_model(context_model)
    sel = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    repeats = sel[sel["stance"] == "repeats-myths"]["article"].iloc[0]
    research = sel[sel["stance"] == "research-based"]["article"].iloc[0]
    sentence = sel[(sel["article"] == research)]["text"].iloc[3]
    page_a = sel[sel["article"] == repeats]["text"].tolist()
    page_b = sel[sel["article"] == research]["text"].tolist()
    alone = model.predict_proba([sentence])[0, 1]
    in_a = model.predict_proba(Sentences(page_a + [sentence], [""] + page_a, ["a"] * (len(page_a) + 1)))[-1, 1]
    in_b = model.predict_proba(Sentences(page_b, [""] + page_b[:-1], ["b"] * len(page_b)))[3, 1]
    assert len({round(alone, 6), round(in_a, 6), round(in_b, 6)}) == 3


def test_training_without_the_real_sample_notes_it_and_still_trains(tiny_labels, page_sample, tmp_path):
    notes = []
    cfg = context_config(
        page_sample,
        sources=[{"path": str(tmp_path / "absent" / "train.csv")}],
        pages=[{"path": str(tmp_path / "absent" / "pages.jsonl")}],
        selection=[str(tmp_path / "absent.csv")],
    )
    model, path, meta = train(TrainConfig.from_dict(cfg), labels_path=tiny_labels, out_dir=tmp_path / "m", log=notes.append)
    assert sum("absent" in n for n in notes) == 3 and "training without it" in notes[0]
    assert [s["path"] for s in meta["sources"]] == ["labels/"]
    assert meta["cv"]["rows"] > 0 and "selection_metrics" not in meta  # written rows alone, each read alone
    assert model.predict_proba(["Every citizen has one national score."]).shape == (1, 3)


def test_config_checks_sources_and_weights():
    with pytest.raises(ConfigError, match="sources"):
        TrainConfig.from_dict({"name": "x", "sources": ["../shared/real/train.csv"]})
    with pytest.raises(ConfigError, match="weight"):
        TrainConfig.from_dict({"name": "x", "sources": [{"path": "a.csv", "weight": -1}]})
    with pytest.raises(ConfigError, match="use_labels"):
        TrainConfig.from_dict({"name": "x", "use_labels": False})
    with pytest.raises(ModelError, match="train_on"):
        from mythscan.models.contextual import ContextModel

        ContextModel(params={"members": [{"kind": "tfidf", "train_on": "some"}]}).member_specs()


def test_sample_weights_count(tiny_labels):
    from mythscan.data import load_splits

    train_df, test = load_splits(tiny_labels)
    args = (train_df["text"].tolist(), train_df["label"].tolist(), [c or None for c in train_df["category"]])
    texts = test["text"].tolist()[:30]
    plain = TfidfModel(params={"C": 5.0}).fit(*args).predict_proba(texts)
    ones = TfidfModel(params={"C": 5.0}).fit(*args, sample_weight=np.ones(len(train_df))).predict_proba(texts)
    np.testing.assert_allclose(plain, ones, atol=1e-8)
    w = np.random.default_rng(0).uniform(0.05, 1.0, len(train_df))
    light = TfidfModel(params={"C": 5.0}).fit(*args, sample_weight=w).predict_proba(texts)
    assert np.abs(light - plain).max() > 0.01
    # an integer weight is a repeated row (the head's balanced class weights count weights too)
    from mythscan.models import LinearHead

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 5)), np.array(["a", "b", "c"] * 20)
    k = rng.integers(1, 4, size=60)
    weighted = LinearHead.fit(X, y, C=1.0, sample_weight=k).predict_proba(X)
    repeated = LinearHead.fit(np.repeat(X, k, axis=0), np.repeat(y, k), C=1.0).predict_proba(X)
    np.testing.assert_allclose(weighted, repeated, atol=1e-4)
    with pytest.raises(ModelError, match="does not take sample weights"):
        from mythscan.models import make_model

        make_model("attn").fit(*args, sample_weight=w)


def test_prefilter_reads_whole_articles_that_name_the_system():
    pf = Prefilter()
    naming = ["China's social credit system is mostly about companies.", "Buying too much alcohol.", "The weather was fine."]
    assert pf.candidates(naming) == [True, True, True]
    china = [
        "A marathon was held on Sunday.",
        "Runners came from everywhere.",
        "Officials in Beijing tracked citizens with cameras.",
        "A fragment.",
        "The winner ate noodles.",
        "Rain fell later.",
    ]
    assert pf.candidates(china) == [False, True, True, True, False, False]  # a neighbour of a gate match passes
    assert pf.candidates(["The football final ended 2-1."]) == [False]
    assert Prefilter(False).candidates(["The football final ended 2-1."]) == [True]


def test_an_article_repeats_myths_only_on_article_level_evidence():
    def s(p, label="myth"):
        return SentenceResult(text="x", label=label, myth_probability=p, probabilities={})

    rest = [s(0.1, "other")] * 6
    assert assess([s(0.55)] + rest, confident=0.8, page_stance={"repeats-myths": 0.9}) == ("check", 0)  # one borderline flag
    assert assess([s(0.85)] + rest, confident=0.8, page_stance={"repeats-myths": 0.2, "research-based": 0.8}) == ("check", 1)
    assert assess([s(0.85)] + rest, confident=0.8, page_stance={"repeats-myths": 0.7}) == ("repeats-myths", 1)
    assert assess([s(0.85), s(0.9)] + rest, confident=0.8, page_stance={"repeats-myths": 0.1}) == ("repeats-myths", 2)
    assert assess([s(0.85)] + rest, confident=0.8, page_stance=None) == ("repeats-myths", 1)  # no page model: the flag decides
    assert assess(rest, confident=0.8, page_stance=None) == ("no-myths", 0)


def test_high_precision_flags_fewer(context_model, page_sample):
    sel = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    balanced, high = Scorer(str(context_model)), Scorer(str(context_model), precision="high")
    assert high.threshold >= balanced.threshold and high.threshold == load_model(context_model).decision.high_threshold
    flags = [sum(r.label == "myth" for r in sc.classify(sel)) for sc in (balanced, high)]
    assert flags[1] <= flags[0]


@pytest.fixture(scope="module")
def context_home(project_home, context_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("ctxhome")
    for d in ("labels", "training"):
        shutil.copytree(project_home / d, home / d)
    shutil.copytree(context_model, home / "models" / "ctx")
    (home / "models" / "DEFAULT").write_text("ctx\n")
    return home


def test_one_sentence_one_score_in_score_batch_and_classify(context_home, page_sample, tmp_path):
    """The same article through `score`, `batch` and `classify --article-column`: every sentence
    gets the same probabilities (same sentence, same context, same page)."""
    sel = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    texts = sel[sel["article"] == sel["article"].iloc[0]]["text"].tolist()
    texts = ["China's social credit system, explained"] + texts  # names the system: batch reads it whole
    article = tmp_path / "article.txt"
    article.write_text("\n".join(texts) + "\n")
    r = run_cli("score", str(article), "--format", "json", home=context_home)
    assert r.returncode == 0, r.stderr.decode()
    scored = json.loads(r.stdout)
    by_score = [s["myth_probability"] for s in scored["sentences"]]
    assert len(scored["sentences"]) == len(texts)
    texts = [s["text"] for s in scored["sentences"]]  # as split (bullets and spaces trimmed)
    assert scored["summary"]["assessment"] in ("repeats-myths", "check", "no-myths") and scored["summary"]["page_stance"]

    r = run_cli("batch", str(article), "--out", str(tmp_path / "run"), "--all-sentences", "--format", "csv", home=context_home)
    assert r.returncode == 0, r.stderr.decode()
    rows = pd.read_csv(tmp_path / "run" / "sentences.csv").sort_values("sentence")
    assert rows["myth_probability"].round(4).tolist() == by_score
    arts = pd.read_csv(tmp_path / "run" / "articles.csv")
    assert arts["assessment"].iloc[0] == scored["summary"]["assessment"]

    table = tmp_path / "sentences.csv"
    pd.DataFrame({"text": texts, "page": "a"}).to_csv(table, index=False)
    r = run_cli("classify", str(table), "--article-column", "page", home=context_home)
    assert r.returncode == 0, r.stderr.decode()
    assert [json.loads(x)["myth_probability"] for x in r.stdout.decode().splitlines()] == by_score
    pd.DataFrame({"text": texts, "before": [""] + texts[:-1], "page": "a"}).to_csv(table, index=False)
    r = run_cli("classify", str(table), "--article-column", "page", "--context-column", "before", home=context_home)
    assert [json.loads(x)["myth_probability"] for x in r.stdout.decode().splitlines()] == by_score
    r = run_cli("classify", str(table), home=context_home)  # no context: each sentence alone
    alone = [json.loads(x)["myth_probability"] for x in r.stdout.decode().splitlines()]
    assert len(alone) == len(texts) and alone != by_score
    (tmp_path / "s.txt").write_text("\n".join(texts))
    r = run_cli("classify", str(tmp_path / "s.txt"), "--article-column", "page", home=context_home)
    assert r.returncode == 1 and "need a table" in r.stderr.decode()


def test_evaluate_reports_real_coverage_by_page_and_writes_only_when_asked(context_home, page_sample, tmp_path):
    r = run_cli("evaluate", "--data", str(page_sample["select"]), home=context_home)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "select.csv (unambiguous)" in out and "false flags/100: research" in out and "keyword alert" in out
    verdicts = {line.split()[0]: line for line in out.split("article verdicts on select.csv's pages")[1].splitlines()[1:4]}
    assert set(verdicts) == {"mixed", "repeats-myths", "research-based"}
    assert sum(int(line.split()[1]) for line in verdicts.values()) == 8  # every page of the sample once
    assert not (context_home / "evaluate").exists()  # a plain run leaves the tree as it was
    r = run_cli("evaluate", "--data", str(page_sample["select"]), "--out", str(tmp_path / "rep"), home=context_home)
    report = (tmp_path / "rep" / "unambiguous" / "report.md").read_text()
    assert "## By page stance" in report and "research-based" in report
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    lo, hi = metrics["myth_ap_ci95"]
    assert lo <= metrics["myth_average_precision"] <= hi
    r = run_cli("evaluate", "--data", str(page_sample["select"]), "--save", home=context_home)
    assert (context_home / "evaluate" / "reports" / "ctx" / "select" / "report.md").exists()


def test_learning_curve_over_real_pages(tiny_labels, page_sample):
    from mythscan.active import learning_curve

    res = learning_curve(TrainConfig.from_dict(context_config(page_sample)), fractions=(0.5, 1.0), labels_path=tiny_labels)
    assert [p["real_pages"] for p in res["points"]] == [14, 28]
    assert all(p["myth_ap"] is not None and "select.csv (unambiguous)" in p["selection"] for p in res["points"])


def test_prefilter_recall_on_labelled_pages(page_sample):
    from mythscan.batch.prefilter import real_recall

    sample = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    got = real_recall([page_sample["select"]])["select.csv"]
    assert got["myths"] == int(((sample["label"] == "myth") & (sample["ambiguous"] == "0")).sum())
    assert got["recall"] == 1.0 and got["passed"] == got["myths"]  # every myth of these topical pages reaches the model


def test_a_written_model_inside_keeps_no_category_head(tiny_labels, page_sample, tmp_path):
    """The written-label model inside a context model is stored label-only (its category head would
    be dead weight) and scores the same after a round trip."""
    written = {"kind": "stack", "params": {"folds": 3, "base": {"kind": "tfidf", "params": {"C": 5.0}}}}
    cfg = context_config(page_sample, params={**context_config(page_sample)["params"], "written": written})
    model, path, _ = train(TrainConfig.from_dict(cfg), labels_path=tiny_labels, out_dir=tmp_path / "m")
    from safetensors import safe_open

    with safe_open(str(path / "written_stack" / "base_tfidf" / "heads.safetensors"), framework="numpy") as fh:
        assert set(fh.keys()) == {"label_coef", "label_intercept"}
    sel = pd.read_csv(page_sample["select"], dtype=str, keep_default_na=False)
    np.testing.assert_allclose(
        model.predict_proba(sel), load_model(path).predict_proba(sel), atol=1e-9
    )  # fitted (scikit-learn) vs saved (numpy) TF-IDF


def test_the_model_card_says_what_a_model_trained_on_real_pages_learnt_from(context_model, tiny_model):
    """The card of a model trained with real coverage names its real pages, where its threshold and
    high-precision point were chosen, and a limit that fits a model reading context; a model trained
    on the written labels alone keeps the older wording."""
    card = (context_model / "README.md").read_text()
    assert "real pages" in card and "not on real articles" not in card
    assert "folds grouped by article" in card and "high-precision point" in card
    assert "Reads each sentence with the one before it" in card and "scored one at a time" not in card
    plain = (tiny_model / "README.md").read_text()
    assert "not on real articles" in plain and "scored one at a time" in plain
