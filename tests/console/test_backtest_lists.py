"""The backtest replays with a list file: what a list change would have done, as detect-fraud applies it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraud.lists import entry, iter_lines
from tests.console.support import BASE_MS
from tools._cli import ToolError
from tools.detection.backtest import backtest

HOUR_MS = 3_600_000


def traffic(path: Path) -> Path:
    """Two users' ordinary grocery spending, one merchant used by a fraud ring, one big legitimate purchase."""
    lines = []
    for i in range(40):
        user = f"u-{i % 2}"
        lines.append(
            {
                "transaction_id": f"t-{i}",
                "user_id": user,
                "card_id": f"tok_{user}",
                "amount": 40 + i % 5,
                "currency": "USD",
                "merchant_id": "m-ring" if i % 10 == 9 else "m-grocer",
                "merchant_category": "grocery_pos",
                "timestamp": BASE_MS + i * HOUR_MS,
                "country": "US",
                "ip_address": "203.0.113.9" if i == 39 else "198.51.100.1",
                "is_fraud": i % 10 == 9,
            }  # fmt: skip
        )
    lines.append(
        {
            "transaction_id": "big",
            "user_id": "u-0",
            "card_id": "tok_u-0",
            "amount": 9000,
            "currency": "USD",
            "merchant_id": "m-jeweller",
            "merchant_category": "shopping_pos",
            "timestamp": BASE_MS + 41 * HOUR_MS,
            "country": "US",
            "is_fraud": False,
        }  # fmt: skip
    )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def list_file(path: Path, *entries) -> Path:
    path.write_text("".join(line + "\n" for line in iter_lines(entries)))
    return path


def test_a_block_entry_forces_the_alert_band_on_every_transaction_it_names(tmp_path):
    data = traffic(tmp_path / "t.jsonl")
    without = backtest(data)
    assert without.decisions[[tid for tid in without.transaction_ids].index("t-9")] != "alert"
    blocked = list_file(
        tmp_path / "lists.jsonl", entry("block", "merchant_id", "m-ring", reason="ring", by="ana", at=BASE_MS)
    )
    result = backtest(data, lists=blocked)
    decision = dict(zip(result.transaction_ids, result.decisions, strict=True))
    assert all(decision[f"t-{i}"] == "alert" for i in (9, 19, 29, 39))
    assert result.scores == without.scores  # the score is the engine's: the list forces the band only
    summary = result.summary()["lists"]
    assert (summary["entries"], summary["transactions_hit"], summary["fraud_among_them"]) == (1, 4, 4)
    assert summary["version"] == "lists.jsonl"
    assert result.at_alert.tp == 4


def test_identifiers_the_engine_does_not_keep_are_matched_too_and_allow_caps_at_review(tmp_path):
    data = traffic(tmp_path / "t.jsonl")
    without = dict(zip(backtest(data).transaction_ids, backtest(data).decisions, strict=True))
    assert without["big"] == "alert"
    lists = list_file(
        tmp_path / "lists.jsonl",
        entry("allow", "card_id", "tok_u-0", reason="vip", by="root", at=BASE_MS),
        entry("block", "ip_address", "203.0.113.9", reason="proxy", by="ana", at=BASE_MS),
    )
    result = backtest(data, lists=lists)
    decision = dict(zip(result.transaction_ids, result.decisions, strict=True))
    assert decision["big"] == "review"  # allowed card: capped, never dropped
    assert decision["t-39"] == "alert"  # blocked IP (a field the engine's items do not keep)
    assert result.summary()["lists"]["alert_to_review"] >= 1


def test_a_bad_list_file_is_refused_with_its_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"list": "block", "field": "email", "value": "x", "reason": "r", "at": 1}\n')
    with pytest.raises(ToolError, match="line 1"):
        backtest(traffic(tmp_path / "t.jsonl"), lists=bad)
