"""The calibrated default rules: detection quality at the default alert band on labeled data.

A behaviour test of ``lambdas/fraud/rules.default.json`` (see docs/detection-quality.md): on the
Sparkov training file the defaults must catch at least 90 % of the fraud with at least 40 % of the
alerts being fraud, and they must hold on the held-out third of the cards (users whose id hashes to
the ``check`` part; the per-category high-amount thresholds were fitted on the other part only).
"""

from __future__ import annotations

import pytest

from tools.detection import backtest, simulate


@pytest.mark.slow
def test_defaults_reach_the_target_on_the_training_file(sparkov_file):
    summary = backtest.backtest(sparkov_file).summary()
    assert summary["transactions"] == 262_769 and summary["positives"] == 1_428
    assert summary["recall"] >= 0.9, summary
    assert summary["precision"] >= 0.4, summary


@pytest.mark.slow
def test_defaults_hold_on_cards_held_out_from_calibration(sparkov_file):
    summary = backtest.backtest(sparkov_file, part="check").summary()
    assert summary["recall"] >= 0.9, summary
    assert summary["precision"] >= 0.4, summary


def test_defaults_catch_most_simulated_sprees_and_rarely_flag_genuine_traffic(tmp_path):
    path = tmp_path / "sim.jsonl"
    with path.open("w") as handle:
        simulate.write_jsonl(simulate.generate(n_users=300, days=30, seed=17, fraud_rate=0.01), handle)
    scenarios = backtest.backtest(path).summary()["per_scenario"]
    assert scenarios["stolen_card_spree"]["flagged_share"] >= 0.7
    assert scenarios["legit"]["flagged_share"] <= 0.01
    for name in simulate.SCENARIOS:
        assert scenarios[name]["flagged"] > 0, name
