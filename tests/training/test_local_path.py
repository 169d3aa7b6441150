"""The local path end to end, as `make train-at-scale` runs it: deploy into the local cloud, post a small simulated
history through the API, export the table with the ground truth as chargebacks, compute the features on Spark
local[2], train, report beside the live model and the rules, and push the candidate as shadow. The offline
features must be the live ones: every feature of every transaction of a sample of users equals what detect-fraud's
code computes from the deployed table, and every live score equals the live model's score of the offline row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fraud import model as fraud_model
from tests.conftest import in_ci, require
from tools._cli import provider_mirror
from tools.training import local

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow]


@pytest.fixture(scope="module")
def summary(terraform_bin: str, spark: Any) -> dict[str, Any]:
    require(
        provider_mirror() is not None or not in_ci(),
        "no provider mirror: set TF_PLUGIN_DIR to a directory holding registry.terraform.io/hashicorp/aws",
    )
    # 36 users over 21 days (about 1,900 transactions, some 25 chargebacks in the check days): enough for every
    # path to be exercised, small enough for the CI session (`make train-at-scale` runs the default 60).
    return local.run_path(local._parser().parse_args(["--users", "36"]))


def test_the_offline_features_and_scores_are_the_live_ones(summary: dict[str, Any]) -> None:
    parity = summary["parity"]
    assert parity["transactions"] > 100 and parity["features_compared"] == parity["transactions"] * 33
    assert parity["feature_mismatch_count"] == 0, parity["feature_mismatches"]
    assert parity["live_scores_compared"] == summary["transactions"] and parity["live_scores_missing"] == 0
    assert parity["score_mismatches"] == []


def test_the_export_carries_every_transaction_and_the_chargebacks(summary: dict[str, Any]) -> None:
    export = summary["export"]
    assert export["labels"] == {"table": 0, "file": summary["labels"], "total": summary["labels"]}
    assert export["manifests"].startswith("written by tools.training.export")
    assert summary["features"]["rows"] == summary["transactions"]
    local_copy = Path(export["local"])
    assert next(local_copy.glob("AWSDynamoDB/*/manifest-files.json")).is_file()


def test_the_candidate_is_reported_beside_the_live_model_and_the_rules_and_shipped_as_shadow(
    summary: dict[str, Any],
) -> None:
    check = summary["check"]
    assert set(check) == {"model", "live", "rules"}
    assert check["model"]["positives"] > 0
    coverage = summary["label_coverage"]
    assert coverage["check_labeled"] == check["model"]["positives"]  # chargebacks only: every label is a fraud
    shadow = summary["pointer"]["shadow"]
    assert shadow["version"] == summary["candidate"]
    artifact = Path(summary["model"]).read_bytes()
    assert fraud_model.load(artifact, shadow["sha256"]).version == summary["candidate"]
    assert summary["pointer"]["live"]["version"] == summary["live_model"]
    report = Path(summary["report"]).read_text()
    assert "| live model |" in report and "Label coverage" in report
    assert (
        json.loads(Path(summary["report"]).with_name("summary.json").read_text())["candidate"] == summary["candidate"]
    )
    assert summary["emulator_errors"] == []
