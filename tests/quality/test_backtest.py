"""The backtest: its --json contract, the report, and what it measures on known inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tools._cli import ToolError
from tools.detection import backtest, readers, simulate

CONTRACT_KEYS = {"transactions", "positives", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "recall_at_1pct_fpr"}


def test_json_contract_prints_one_object_on_stdout(sparkov_slice):
    done = subprocess.run(
        [sys.executable, "-m", "tools.detection.backtest", str(sparkov_slice), "--format", "sparkov", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    summary = json.loads(done.stdout)  # the whole of stdout is one JSON object
    assert set(summary) >= CONTRACT_KEYS
    assert summary["transactions"] == 5000
    assert summary["tp"] + summary["fp"] + summary["fn"] + summary["tn"] == 5000
    assert (
        summary["positives"]
        == summary["tp"] + summary["fn"]
        == sum(record.is_fraud for record in readers.read(sparkov_slice))
    )
    assert 0 <= summary["recall_at_1pct_fpr"] <= 1
    assert "backtest" in done.stderr  # progress went to stderr


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "sim.jsonl"
    with path.open("w") as handle:
        simulate.write_jsonl(simulate.generate(n_users=80, days=30, seed=21, fraud_rate=0.02), handle)
    return path


def test_report_has_metrics_rules_scenarios_and_the_curve(simulated, tmp_path):
    report = tmp_path / "out" / "report.md"
    assert backtest.main([str(simulated), "--report", str(report), "--quiet"]) == 0
    text = report.read_text()
    png = report.with_name("report-pr.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![precision-recall curve](report-pr.png)" in text
    for section in ("| precision |", "recall at 1 % false-positive rate", "## Rules", "## Scenarios", "## Throughput"):
        assert section in text
    for scenario in simulate.SCENARIOS:
        assert f"`{scenario}`" in text


def test_per_scenario_counts_add_up_and_the_rules_table_is_consistent(simulated):
    result = backtest.backtest(simulated)
    summary = result.summary()
    scenarios = summary["per_scenario"]
    assert set(scenarios) == {"legit", *simulate.SCENARIOS}
    assert sum(row["transactions"] for row in scenarios.values()) == summary["transactions"]
    assert sum(row["flagged"] for name, row in scenarios.items() if name != "legit") == summary["tp"]
    assert scenarios["legit"]["flagged"] == summary["fp"]
    for row in summary["per_rule"].values():
        assert row["hits"] > 0 and 0 <= row["fraud_hits"] <= row["hits"]


def test_a_stricter_alert_band_never_flags_more(simulated, tmp_path):
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"bands": {"review": 90, "alert": 99}}))
    default = backtest.backtest(simulated).summary()
    stricter = backtest.backtest(simulated, rules=str(strict)).summary()
    assert stricter["flagged"] <= default["flagged"]
    assert stricter["config"].startswith(str(strict))


def test_split_parts_partition_the_users(simulated):
    whole = backtest.backtest(simulated).summary()
    fit = backtest.backtest(simulated, part="fit").summary()
    check = backtest.backtest(simulated, part="check").summary()
    assert fit["transactions"] + check["transactions"] == whole["transactions"]
    assert fit["positives"] + check["positives"] == whole["positives"]


def test_an_invalid_rules_document_is_a_user_error(simulated, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": {"velocity": {"weight": 150}}}))
    with pytest.raises(ToolError, match=r"rules\.velocity\.weight: must be at most 100"):
        backtest.main([str(simulated), "--config", str(bad), "--quiet"])
