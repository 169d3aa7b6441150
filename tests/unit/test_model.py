"""The model evaluator (lambdas/fraud/model.py): LightGBM's own predictions, exactly, with no LightGBM.

Parity runs on synthetic data built to reach every kind of split: numerical features with NaN, with
zeros (LightGBM's ``zero_as_missing``), with values LightGBM rounds to zero, categorical features with
many categories (bitset splits) and few (one-vs-rest), and inputs LightGBM never saw: unseen, negative,
fractional and huge categories, infinities. The parity test on the real features' check split is in
tests/quality/test_model_quality.py.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import math

import pytest

from fraud import model as fm
from tests.conftest import require

require(importlib.util.find_spec("lightgbm") is not None, "lightgbm is missing: install the tools extra")

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402

from tools.detection.export import ExportError, trees_from_dump  # noqa: E402

NAMES = ["amount", "gap", "zeroish", "category", "channel", "tiny"]
VOCABULARY = {"category": [f"c{i:02d}" for i in range(12)], "channel": ["atm", "online", "pos"]}
SPECIALS = [
    math.nan,
    0.0,
    -0.0,
    1e-40,
    -1e-40,
    fm.ZERO,
    -fm.ZERO,
    2.5,
    -0.5,
    -1.0,
    -3.0,
    12.0,
    40.0,
    1e10,
    -1e10,
    3.999,
    math.inf,
    -math.inf,
]


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(NAMES)))
    x[:, 0] = rng.normal(size=n)
    x[:, 1] = np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
    x[:, 2] = np.where(rng.random(n) < 0.4, 0.0, rng.normal(size=n))
    x[:, 3] = rng.integers(0, 12, size=n).astype(float)
    x[rng.random(n) < 0.1, 3] = np.nan
    x[:, 4] = rng.integers(0, 3, size=n).astype(float)
    x[:, 5] = np.where(rng.random(n) < 0.5, 0.0, rng.normal(size=n) * 1e-36)
    logit = (
        x[:, 0]
        + np.nan_to_num(x[:, 1]) * 0.8
        - (x[:, 2] == 0) * 1.0
        + np.isin(x[:, 3], [1, 4, 7]) * 1.5
        - (x[:, 4] == 2) * 1.0
        + (x[:, 5] > 0) * 0.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def train(zero_as_missing: bool, rounds: int = 40) -> lgb.Booster:
    x, y = synthetic(8_000, seed=1)
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.2,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "zero_as_missing": zero_as_missing,
        "deterministic": True,
        "num_threads": 1,
        "seed": 1,
        "verbose": -1,
    }
    return lgb.train(params, lgb.Dataset(x, y, categorical_feature=[3, 4]), rounds)


def document(trees: list[dict], names: list[str] = NAMES, categories: dict | None = None) -> dict:
    return {
        "format": fm.FORMAT,
        "format_version": fm.FORMAT_VERSION,
        "version": "test-1",
        "features": names,
        "categories": VOCABULARY if categories is None else categories,
        "feature_spec": {},
        "trees": trees,
        "calibration": {"slope": 1.0, "intercept": -2.0, "points_per_doubling": 5.0, "even_odds_score": 50.0},
        "thresholds": {"review": 40, "alert": 60},
    }


def as_bytes(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True).encode()


@pytest.fixture(scope="module", params=[False, True], ids=["nan-missing", "zero-as-missing"])
def booster(request: pytest.FixtureRequest) -> lgb.Booster:
    return train(zero_as_missing=request.param)


@pytest.fixture(scope="module")
def model(booster: lgb.Booster) -> fm.Model:
    return fm.load(as_bytes(document(trees_from_dump(booster.dump_model()))), check_features=False)


def probe_rows(n: int = 4_000, seed: int = 2) -> np.ndarray:
    """Rows from the training distribution with a fifth of the values replaced by edge cases."""
    rng = np.random.default_rng(seed)
    x, _ = synthetic(n, seed)
    mask = rng.random(x.shape) < 0.2
    x[mask] = rng.choice(SPECIALS, int(mask.sum()))
    return x


def split_kinds(booster: lgb.Booster) -> set[tuple[str, str, bool]]:
    kinds = set()
    for tree in booster.dump_model()["tree_info"]:
        pending = [tree["tree_structure"]]
        while pending:
            node = pending.pop()
            if "split_index" in node:
                kinds.add((node["decision_type"], node["missing_type"], node["default_left"]))
                pending += [node["left_child"], node["right_child"]]
    return kinds


def test_the_synthetic_models_exercise_every_kind_of_split() -> None:
    kinds = split_kinds(train(False)) | split_kinds(train(True))
    assert {decision for decision, _, _ in kinds} == {"<=", "=="}
    assert {missing for decision, missing, _ in kinds if decision == "<="} == {"None", "Zero", "NaN"}
    assert {(missing, left) for decision, missing, left in kinds if missing in ("Zero", "NaN")} >= {
        ("Zero", True),
        ("Zero", False),
        ("NaN", True),
        ("NaN", False),
    }


def test_raw_scores_equal_lightgbm_predictions_on_every_row(booster: lgb.Booster, model: fm.Model) -> None:
    rows = probe_rows()
    expected = booster.predict(rows, raw_score=True)
    ours = np.array([model.raw_score(row) for row in rows.tolist()])
    assert np.max(np.abs(ours - expected)) <= 1e-9


def test_the_compiled_trees_agree_with_walking_them(model: fm.Model) -> None:
    for row in probe_rows(1_000, seed=3).tolist():
        walked = 0.0
        for tree in model.trees:
            walked += tree.leaf_value[fm.leaf_of(tree, row)[0]]
        assert model.raw_score(row) == walked


def test_unseen_and_missing_categories_score_as_lightgbm_scores_a_missing_value(
    booster: lgb.Booster, model: fm.Model
) -> None:
    features = {"amount": 0.3, "gap": math.nan, "zeroish": 0.0, "channel": "online", "tiny": 0.0}
    for category in ("never-seen", None):
        vector = model.vector({**features, "category": category})
        assert math.isnan(vector[NAMES.index("category")])
        expected = booster.predict(np.array([vector]), raw_score=True)[0]
        assert abs(model.raw_score(vector) - expected) <= 1e-9
    known = model.vector({**features, "category": "c04"})
    assert known[NAMES.index("category")] == 4.0 and known[NAMES.index("channel")] == 1.0


def test_a_missing_feature_is_an_error_not_a_silent_nan(model: fm.Model) -> None:
    with pytest.raises(KeyError):
        model.vector({"amount": 1.0})


def test_contributions_plus_the_bias_add_up_to_the_raw_score(model: fm.Model) -> None:
    rows = probe_rows(200, seed=4)
    for row in rows:
        features = {name: value for name, value in zip(NAMES, row.tolist(), strict=True)}
        for name, vocabulary in VOCABULARY.items():
            code = features[name]
            features[name] = vocabulary[int(code)] if code == code and 0 <= code < len(vocabulary) else None
        contributions = model.contributions(features, top=None)
        raw = model.raw_score(model.vector(features))
        assert model.bias + math.fsum(c.contribution for c in contributions) == pytest.approx(raw, abs=1e-9)
        assert [c.contribution for c in contributions] == sorted((c.contribution for c in contributions), reverse=True)
        assert {c.feature for c in contributions} <= set(NAMES)


def test_the_score_is_the_calibrated_log_odds_on_a_0_to_100_scale(model: fm.Model) -> None:
    # slope 1, intercept -2: raw 2 is even odds (50); every 5 points double the odds.
    assert model.calibrate(2.0) == 50
    assert model.calibrate(2.0 + math.log(2)) == 55
    assert model.calibrate(-100.0) == 0 and model.calibrate(100.0) == 100
    assert model.probability(2.0) == pytest.approx(0.5)
    assert [model.decision(s) for s in (39, 40, 59, 60)] == ["allow", "review", "review", "alert"]
    features = {"amount": 2.0, "gap": 1.0, "zeroish": 0.0, "category": "c01", "channel": "pos", "tiny": 0.0}
    assert model.score(features) == model.calibrate(model.raw_score(model.vector(features)))


def chain_tree(depth: int) -> dict:
    """A degenerate tree, ``depth`` splits deep: node i sends ``amount <= i`` left to a leaf."""
    return {
        "feature": [0] * depth,
        "threshold": [float(i) for i in range(depth)],
        "missing": ["NaN"] * depth,
        "default_left": [i % 2 == 0 for i in range(depth)],
        "left": [~i for i in range(depth)],
        "right": [*range(1, depth), ~depth],
        "internal_value": [0.0] * depth,
        "leaf_value": [float(i) for i in range(depth + 1)],
    }


def test_trees_deeper_than_the_compiler_nests_are_still_scored_exactly() -> None:
    deep = fm.load(as_bytes(document([chain_tree(fm.MAX_COMPILED_DEPTH + 20), chain_tree(5)])), check_features=False)
    for amount in (-1.0, 0.5, 30.0, 70.5, 500.0, math.nan):
        row = [amount, 0.0, 0.0, 0.0, 0.0, 0.0]
        assert deep.raw_score(row) == sum(t.leaf_value[fm.leaf_of(t, row)[0]] for t in deep.trees)
    assert deep.raw_score([70.5, 0, 0, 0, 0, 0]) == 71.0 + 5.0
    assert deep.raw_score([math.nan, 0, 0, 0, 0, 0]) == 0.0 + 0.0  # NaN takes node 0's default: left


def test_the_generated_code_holds_numbers_only_never_text_from_the_file() -> None:
    names = ["__import__('os').system('false')", "b", "c", "d", "e", "f"]
    evil = fm.load(as_bytes(document([chain_tree(3)], names=names, categories={})), check_features=False)
    assert "__import__" not in evil.source and "'" not in evil.source and '"' not in evil.source
    assert evil.raw_score([1.5, 0, 0, 0, 0, 0]) == 2.0


def test_a_single_leaf_tree_and_a_single_feature_model_work() -> None:
    one = fm.load(
        as_bytes(document([{"leaf_value": [0.25]}, chain_tree(2)], names=["amount"], categories={})),
        check_features=False,
    )
    assert one.raw_score([0.5]) == 0.25 + 1.0
    assert one.vector({"amount": 3}) == [3.0]


# -- refusing bad artifacts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def good() -> dict:
    return document(trees_from_dump(train(False, rounds=5).dump_model()))


def broken(good: dict, change) -> bytes:
    doc = copy.deepcopy(good)
    change(doc)
    return as_bytes(doc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=2), "format version 2 is not supported"),
        (lambda d: d.update(format="something-else"), "not a fraud model artifact"),
        (lambda d: d.pop("trees"), "trees: expected a list"),
        (lambda d: d.update(trees=[]), "expected 1 to"),
        (lambda d: d["trees"][1]["left"].__setitem__(0, 99), "trees[1].left[0]"),
        (lambda d: d["trees"][0]["right"].__setitem__(0, 0), "reached twice"),
        (lambda d: d["trees"][0]["feature"].__setitem__(0, len(NAMES)), "trees[0].feature[0]"),
        (lambda d: d["trees"][0]["leaf_value"].pop(), "trees[0]"),
        (lambda d: d["trees"][0]["threshold"].__setitem__(0, "1.5"), "trees[0].threshold[0]"),
        (lambda d: d["trees"][0]["missing"].__setitem__(0, "Sometimes"), "trees[0].missing[0]"),
        (lambda d: d.update(features=NAMES[:-1] + ["amount"]), "features: names repeat"),
        (lambda d: d["categories"].update(nope=["a"]), "categories.nope: not one of the features"),
        (lambda d: d["thresholds"].update(review=80), "review <= alert"),
        (lambda d: d["calibration"].update(slope=-1.0), "slope and points_per_doubling must be positive"),
        (lambda d: d["calibration"].pop("intercept"), "calibration.intercept"),
        (lambda d: d.update(categories={}), "a categorical split on a feature that is not categorical"),
    ],
)
def test_an_inconsistent_artifact_is_refused_saying_what_is_wrong(good: dict, change, message: str) -> None:
    with pytest.raises(fm.ModelError) as caught:
        fm.load(broken(good, change), check_features=False)
    assert message in str(caught.value)


def test_a_truncated_or_corrupt_file_is_refused_without_echoing_its_content(good: dict) -> None:
    data = as_bytes(good)
    for bad, message in [
        (data[: len(data) // 2], "not valid JSON (truncated or corrupt)"),
        (b"\xff\xfe" + data, "not UTF-8"),
        (data.replace(b'"slope": 1.0', b'"slope": NaN'), "not strict JSON"),
        (b"[1, 2, 3]", "expected an object"),
    ]:
        with pytest.raises(fm.ModelError) as caught:
            fm.load(bad, check_features=False)
        assert message in str(caught.value)
        assert len(str(caught.value)) < 300


def test_the_expected_sha256_must_match_the_bytes(good: dict) -> None:
    data = as_bytes(good)
    digest = hashlib.sha256(data).hexdigest()
    assert fm.load(data, sha256=digest, check_features=False).sha256 == digest
    with pytest.raises(fm.ModelError, match="sha256"):
        fm.load(data + b" ", sha256=digest, check_features=False)


def test_a_model_knows_whether_this_code_computes_its_features(model: fm.Model) -> None:
    model.require_features(NAMES, {"category", "channel"})
    with pytest.raises(fm.ModelError, match="does not compute: tiny"):
        model.require_features(NAMES[:-1], {"category", "channel"})
    with pytest.raises(fm.ModelError, match="categorical: channel"):
        model.require_features(NAMES, {"category"})


def test_only_binary_boosters_export() -> None:
    x, y = synthetic(500, seed=5)
    regression = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 2)
    with pytest.raises(ExportError, match="only binary"):
        trees_from_dump(regression.dump_model())


def test_serving_refuses_an_artifact_whose_features_this_code_does_not_compute(good: dict) -> None:
    with pytest.raises(fm.ModelError, match="needs features this code does not compute: gap, zeroish"):
        fm.load(as_bytes(good))


def test_serving_reads_the_feature_spec_the_model_was_trained_with() -> None:
    from fraud.config import load_config

    spec = load_config(None).features
    names = ["amount", "seconds_since_last", "amount_z", "category", "night", "count_1h"]
    doc = {**document([chain_tree(4)], names=names, categories={"category": VOCABULARY["category"]})}
    served = fm.load(as_bytes({**doc, "feature_spec": spec.to_document()}))
    assert served.feature_spec == spec
    with pytest.raises(fm.ModelError, match="feature spec this code cannot compute"):
        fm.load(as_bytes({**doc, "feature_spec": {"windows": {}}}))
    with pytest.raises(fm.ModelError, match="disagrees with this code on which features are categorical: night"):
        fm.load(
            as_bytes({**doc, "categories": {"category": ["a"], "night": ["x"]}, "feature_spec": spec.to_document()})
        )


def test_compiled_contributions_equal_walking_the_paths(model: fm.Model) -> None:
    deep = fm.load(
        as_bytes(document([chain_tree(fm.MAX_COMPILED_DEPTH + 5), *model.document["trees"]])), check_features=False
    )
    for m in (model, deep):
        attribute = fm.compile_trees(m.trees, len(NAMES), attribute=True)[0]
        for row in probe_rows(300, seed=6).tolist():
            compiled, walked = [0.0] * len(NAMES), [0.0] * len(NAMES)
            attribute(row, compiled)
            for tree in m.trees:
                fm.attribute_by_walking(tree, row, walked)
            assert compiled == pytest.approx(walked, abs=1e-12)
            assert m.bias + math.fsum(compiled) == pytest.approx(m.raw_score(row), abs=1e-9)
