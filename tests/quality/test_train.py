"""The trainer (tools.detection.train): splits by card, thresholds and calibration from validation only, an
artifact the Lambda serves, byte-identical for the same inputs, and the default model reproducible."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import random
from pathlib import Path

import pytest

from fraud import model as fraud_model
from fraud.config import load_config
from tests.conftest import ROOT, require
from tools._cli import ToolError
from tools.detection import train
from tools.detection.backtest import part_of
from tools.detection.metrics import ScoreHistogram
from tools.detection.model import same_artifact

require(importlib.util.find_spec("lightgbm") is not None, "lightgbm is missing: install the tools extra")


def small_sources(sparkov_slice: Path) -> list[train.Source]:
    return [train.read_source(sparkov_slice), train.simulated_source(300, 20, seed=3, fraud_rate=0.03)]


@pytest.fixture(scope="module")
def trained(sparkov_slice: Path) -> train.Trained:
    settings = train.Settings(rounds=30)
    return train.fit(small_sources(sparkov_slice), load_config(None), settings=settings)


def test_splits_are_by_card_and_check_is_the_backtests_held_out_part(trained: train.Trained) -> None:
    rows = trained.rows
    by_user: dict[str, set[str]] = {}
    for i, split in enumerate(rows.split):
        by_user.setdefault(rows.user[i], set()).add(split)
    assert all(len(splits) == 1 for splits in by_user.values())
    assert all((part_of(user) == "check") == (splits == {"check"}) for user, splits in by_user.items())
    assert set(rows.split) == set(train.SPLITS)


def test_the_artifact_is_served_by_the_lambda_code_and_matches_lightgbm(trained: train.Trained) -> None:
    model = fraud_model.load(trained.artifact, hashlib.sha256(trained.artifact).hexdigest())
    doc = json.loads(trained.artifact)
    assert model.version == doc["version"] and model.feature_spec == load_config(None).features
    assert doc["metrics"]["check"]["parity_tolerance"] == 1e-9 and trained.parity <= 1e-9
    assert doc["metrics"]["check"]["parity_rows"] == trained.rows.split.count("check")
    for key in ("inputs", "inputs_sha256", "params", "best_iteration", "splits"):
        assert key in doc["training"]
    assert set(doc["libraries"]) == {"lightgbm", "numpy", "python"}
    assert doc["categories"]["category"] == sorted(doc["categories"]["category"])


def test_thresholds_and_calibration_come_from_the_validation_split(trained: train.Trained) -> None:
    rows, doc = trained.rows, trained.document
    validation = rows.in_split("validation")
    model = trained.model
    vector = model.vector
    raw = [model.raw_score(vector(rows.features[i])) for i in validation]
    slope, intercept = train.platt(raw, [rows.label[i] for i in validation])
    fitted = (train.round_fitted(slope), train.round_fitted(intercept))
    assert (doc["calibration"]["slope"], doc["calibration"]["intercept"]) == fitted
    assert doc["calibration"]["intercept"] == pytest.approx(intercept, rel=1e-11), "12 significant digits kept"
    review, alert, _ = train.choose_thresholds(
        [trained.scores[i] for i in validation], [rows.label[i] for i in validation], train.Targets()
    )
    assert doc["thresholds"] == {"review": review, "alert": alert}
    assert trained.scores == [model.score(f) for f in rows.features]


def test_the_same_inputs_and_seed_give_a_byte_identical_artifact(sparkov_slice: Path, trained: train.Trained) -> None:
    again = train.fit(small_sources(sparkov_slice), load_config(None), settings=train.Settings(rounds=30))
    assert same_artifact(trained.artifact, again.artifact) is None
    other = train.fit(small_sources(sparkov_slice), load_config(None), settings=train.Settings(rounds=29))
    assert other.document["version"] != trained.document["version"]


def test_last_bit_differences_in_the_fitted_calibration_leave_the_artifact_unchanged(
    sparkov_slice: Path, trained: train.Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another machine's floating-point kernels move the Platt fit's last bits (a BLAS or summation order of its
    own): the artifact, rounded to 12 significant digits, keeps its bytes."""
    exact = train.platt

    def on_another_machine(raw: list[float], labels: list[bool]) -> tuple[float, float]:
        slope, intercept = exact(raw, labels)
        return slope * (1 + 4e-16), intercept * (1 - 4e-16)  # a few units in the last place

    monkeypatch.setattr(train, "platt", on_another_machine)
    elsewhere = train.fit(small_sources(sparkov_slice), load_config(None), settings=train.Settings(rounds=30))
    intercept = trained.document["calibration"]["intercept"]
    assert intercept * (1 - 4e-16) != intercept, "the perturbation moves the float"
    assert same_artifact(trained.artifact, elsewhere.artifact) is None


def test_a_real_change_fails_the_comparison_quickly_naming_the_fields_that_differ(
    sparkov_slice: Path, trained: train.Trained
) -> None:
    other = train.fit(small_sources(sparkov_slice), load_config(None), settings=train.Settings(rounds=30, seed=2))
    message = same_artifact(trained.artifact, other.artifact)
    assert message is not None
    lines = message.splitlines()
    assert lines[0].startswith("the artifacts differ: sha256 ")
    assert any(line.strip().startswith("$.") and " -> " in line for line in lines[1:]), message
    assert "$.training.seed: 1 -> 2" in message or "$.trees" in message, message
    assert len(lines) <= 6 and len(message) < 2_000, "a few named fields, never a diff of megabytes"


def test_the_version_id_is_the_newest_training_day_and_a_content_hash(trained: train.Trained) -> None:
    doc = trained.document
    day, digest = doc["version"].split("-")
    assert len(day) == 8 and len(digest) == 12
    assert train.version_id(doc) == doc["version"]
    assert train.version_id({**doc, "thresholds": {"review": 1, "alert": 2}}) != doc["version"]


def test_the_report_shows_the_model_beside_the_rules(trained: train.Trained, tmp_path: Path) -> None:
    path = train.write_report(trained, tmp_path / "model.md")
    text = path.read_text()
    assert "## Check split" in text and "rules only" in text and "Recall by scenario" in text
    assert (tmp_path / "model-check-pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_platt_scaling_recovers_a_known_calibration() -> None:
    rng = random.Random(4)
    raw = [rng.gauss(0, 2) for _ in range(20_000)]
    labels = [rng.random() < 1 / (1 + math.exp(-(0.5 * x - 1.0))) for x in raw]
    slope, intercept = train.platt(raw, labels)
    assert slope == pytest.approx(0.5, abs=0.05) and intercept == pytest.approx(-1.0, abs=0.08)


def test_alert_is_the_lowest_score_that_meets_the_precision_and_false_positive_targets() -> None:
    # 100 fraud at scores 60..99, 10,000 legit mostly low, 30 legit at 50..79
    scores = [60 + i % 40 for i in range(100)] + [i % 40 for i in range(9_970)] + [50 + i for i in range(30)]
    labels = [True] * 100 + [False] * 10_000
    review, alert, how = train.choose_thresholds(scores, labels, train.Targets(0.9, 0.005, 0.01))
    assert how.startswith("lowest score")
    histogram = ScoreHistogram.of(scores, labels)
    ok = [
        t
        for t in range(1, 101)
        if histogram.at_threshold(t).tp
        and histogram.at_threshold(t).precision >= 0.9
        and histogram.at_threshold(t).false_positive_rate <= 0.005
    ]
    assert alert == min(ok)
    assert review <= alert
    assert histogram.at_threshold(review).false_positive_rate <= 0.01


def test_a_split_without_fraud_is_a_clear_error(sparkov_slice: Path) -> None:
    quiet = train.simulated_source(60, 5, seed=3, fraud_rate=0.0)
    with pytest.raises(ToolError, match="split has .* it needs both classes"):
        train.fit([quiet], load_config(None), settings=train.Settings(rounds=5))


def test_unknown_features_are_refused(sparkov_slice: Path) -> None:
    with pytest.raises(ToolError, match="unknown features: nope"):
        train.fit(small_sources(sparkov_slice), load_config(None), settings=train.Settings(feature_names=("nope",)))


@pytest.mark.slow
def test_make_train_reproduces_the_default_model_byte_for_byte(sparkov_file: Path, tmp_path: Path) -> None:
    """The documented command, on ../shared/data and the simulator: the same bytes as models/default.json,
    and the evaluator equal to LightGBM on every row of the check split (the trainer checks it)."""
    output = tmp_path / "default.json"
    assert train.main([str(sparkov_file), "--output", str(output), "--quiet"]) == 0
    difference = same_artifact((ROOT / "models" / "default.json").read_bytes(), output.read_bytes())
    if difference is not None:
        pytest.fail(f"make train no longer reproduces models/default.json: {difference}", pytrace=False)
    metrics = json.loads(output.read_bytes())["metrics"]["check"]
    assert metrics["parity_tolerance"] == 1e-9 and metrics["parity_rows"] > 100_000
