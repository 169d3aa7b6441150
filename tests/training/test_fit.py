"""Training on the feature table: a time split with nothing fitted on the check window, the label policy, negative
down-sampling of the train rows only, and the guarantees of ``make train``: an artifact the Lambda serves, the
evaluator equal to LightGBM, the same bytes for the same table."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from fraud import model as fraud_model
from fraud.config import load_config
from tests.conftest import ROOT
from tests.training.conftest import DAY_MS, FeatureTable
from tools._cli import ToolError
from tools.detection.train import Settings, round_fitted
from tools.training import fit

POLICY = fit.Policy(check_days=6, validation_days=5, maturity_days=2, negative_rate=0.4)
SETTINGS = Settings(rounds=40)


@pytest.fixture(scope="module")
def loaded(table: FeatureTable) -> fit.Table:
    return fit.read_table(table.path)


@pytest.fixture(scope="module")
def trained(loaded: fit.Table) -> fit.Trained:
    live = fraud_model.load((ROOT / "models" / "default.json").read_bytes())
    return fit.train(loaded, load_config(None), live=live, policy=POLICY, settings=SETTINGS)


def test_the_artifact_loads_in_the_lambda_and_its_evaluator_equals_lightgbm_on_the_check_rows(
    trained: fit.Trained,
) -> None:
    model = fraud_model.load(trained.artifact, hashlib.sha256(trained.artifact).hexdigest())
    check = trained.document["metrics"]["check"]
    assert model.version == trained.document["version"]
    assert check["parity_tolerance"] == 1e-9 and trained.parity <= 1e-9
    assert check["parity_rows"] == trained.document["training"]["splits"]["check"]["transactions"]
    assert model.feature_spec == load_config(None).features


def test_the_same_table_and_settings_give_the_same_bytes(loaded: fit.Table, trained: fit.Trained) -> None:
    live = fraud_model.load((ROOT / "models" / "default.json").read_bytes())
    again = fit.train(loaded, load_config(None), live=live, policy=POLICY, settings=SETTINGS)
    assert again.artifact == trained.artifact
    calibration = json.loads(trained.artifact)["calibration"]
    assert all(value == round_fitted(value) for value in (calibration["slope"], calibration["intercept"]))


def test_splits_follow_time_and_leave_out_the_immature_days(loaded: fit.Table) -> None:
    parts = fit.split(loaded, POLICY, seed=1)
    ts = loaded.frame["timestamp"].to_numpy()
    train, validation, check = (ts[parts.indexes[s]] for s in fit.SPLITS)
    assert train.max() <= validation.min() and validation.max() <= check.min()
    newest = ts.max()
    assert check.max() <= newest - POLICY.maturity_days * DAY_MS
    assert parts.coverage["immature_left_out"] == int((ts > newest - POLICY.maturity_days * DAY_MS).sum())
    # validation and check are every row of their windows; only legitimate train rows are sampled
    windows = parts.window_ms
    for name in ("validation", "check"):
        start, end = windows[name]
        assert len(parts.indexes[name]) == int(((ts > start) & (ts <= end)).sum())
    labels = parts.labels
    train_rows = ts <= windows["train"][1]
    assert labels[parts.indexes["train"]].sum() == labels[train_rows].sum()  # every fraud kept
    kept_share = (len(parts.indexes["train"]) - labels[train_rows].sum()) / (~labels[train_rows]).sum()
    assert abs(kept_share - POLICY.negative_rate) < 0.05


def test_unlabeled_mature_rows_count_as_legitimate_and_labels_are_the_tables(loaded: fit.Table) -> None:
    parts = fit.split(loaded, POLICY, seed=1)
    frame = loaded.frame
    assert np.array_equal(parts.labels, (frame["label"] == "fraud").to_numpy())
    coverage = parts.coverage
    assert coverage["check_labeled"] + coverage["check_assumed_legitimate"] == coverage["check_transactions"]
    assert sum(coverage["check_by_label_and_source"].values()) == coverage["check_labeled"]


def test_the_report_compares_candidate_live_model_and_rules_on_the_check_window(trained: fit.Trained) -> None:
    metrics = trained.document["metrics"]["check"]["all"]
    assert set(metrics) == {"model", "live", "rules"}
    assert metrics["model"]["transactions"] == metrics["live"]["transactions"] == metrics["rules"]["transactions"]
    text = fit.render(trained)
    for needle in ("| candidate |", "| live model |", "| rules alone |", "Label coverage", "Per reason code"):
        assert needle in text
    reasons = trained.reasons
    assert reasons and all(
        {"hits", "precision", "model_recall", "live_recall", "rules_recall"} <= set(r) for r in reasons.values()
    )


def test_a_window_without_fraud_is_a_clear_error(loaded: fit.Table) -> None:
    with pytest.raises(ToolError, match="split has .* it needs both classes"):
        fit.split(loaded, fit.Policy(check_days=0.01, validation_days=5, maturity_days=0), seed=1)


def test_round_fitted_keeps_twelve_significant_digits() -> None:
    assert round_fitted(1 / 3) == 0.333333333333
    assert round_fitted(-123456.7890123456) == -123456.789012
