"""Live scoring equals the backtest: the deployed pipeline scores a labeled sequence exactly as the backtest does.

A sequence with a card-testing burst (five transactions with one millisecond timestamp), a night-time spree and
ordinary traffic is posted through the API, scored by the deployed detect-fraud, and replayed by
``tools.detection.backtest`` (the same engine over the in-memory history). Every transaction must get the same
score and the same decision in both. detect-fraud's "Transaction scored" log lines give the live scores: the
local cloud writes each function's log to build/<suffix>/logs; on AWS the test reads them from CloudWatch Logs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.clock import traffic_now_ms
from tools.detection import backtest

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.deployments("eventbridge", "direct", "prod-eventbridge", "prod-direct"),
]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def labeled_sequence(new_id: Callable[[str], str]) -> list[dict[str, Any]]:
    """A card's ordinary weeks, a night-time spree, a card-testing burst in one millisecond, then ordinary again.

    Ids sort in posting order, so the arrival order of same-millisecond transactions is the file order the
    backtest replays in (both paths order ties by arrival, then id).
    """
    user = new_id("parity-user")
    now = traffic_now_ms()
    midnight = now - now % DAY_MS
    sequence: list[dict[str, Any]] = []

    def add(ts: int, amount: float, category: str, fraud: bool, **extra: Any) -> None:
        sequence.append(
            {
                "transaction_id": new_id(f"p{len(sequence):03d}"),
                "user_id": user,
                "card_id": f"tok-{user}",
                "amount": amount,
                "currency": "USD",
                "merchant_id": f"m-{category}",
                "merchant_category": category,
                "timestamp": ts,
                "utc_offset_minutes": 0,
                "country": "US",
                "device_id": "device-home",
                "location": {"lat": 40.71, "lon": -74.01},
                "channel": "pos",
                "is_fraud": fraud,
                **extra,
            }
        )

    for day in range(20, 3, -1):  # ordinary weeks: groceries and gas at midday and in the evening
        add(midnight - day * DAY_MS + 12 * HOUR_MS, 38.0 + day % 7, "grocery_pos", False)
        if day % 3 == 0:
            add(midnight - day * DAY_MS + 18 * HOUR_MS + 5 * MINUTE_MS, 61.5, "gas_transport", False)
    spree = midnight - 3 * DAY_MS + 23 * HOUR_MS
    for i, amount in enumerate((640.0, 880.0, 412.0, 975.0)):  # a stolen card used up at night
        add(spree + i * 40 * MINUTE_MS, amount, "shopping_net", True, channel="online", device_id="device-new")
    burst = midnight - 2 * DAY_MS + 14 * HOUR_MS + 123
    for amount in (1.0, 1.5, 2.0, 1.25, 0.99):  # card testing: five probes in the same millisecond
        add(burst, amount, "misc_net", True, channel="online", device_id="device-new")
    # Ordinary again, after the burst in time as in posting order: a transaction posted after others but
    # stamped before them is a late arrival, and whether the live path scores the others before it arrived
    # depends on timing (the backtest replays in timestamp order).
    for day in range(2, 0, -1):
        add(midnight - day * DAY_MS + 18 * HOUR_MS + 30 * MINUTE_MS, 41.0, "grocery_pos", False)
    assert [t["timestamp"] for t in sequence] == sorted(t["timestamp"] for t in sequence)
    return sequence


def deployed_model(pipeline: Pipeline, tmp_path: Path) -> Path | None:
    """The live model of the deployment (its pointer's artifact, from the bucket), for the backtest to use too."""
    name = pipeline.outputs.get("model_parameter_name")
    if not name:
        return None
    pointer = json.loads(pipeline.session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    if not pointer or not pointer.get("live"):
        return None
    body = pipeline.session.client("s3").get_object(
        Bucket=pipeline.outputs["model_bucket_name"], Key=pointer["live"]["key"]
    )
    path = tmp_path / "live-model.json"
    path.write_bytes(body["Body"].read())
    return path


def live_scores(pipeline: Pipeline, ids: set[str], timeout_s: float = 120) -> dict[str, tuple[int, str]]:
    """(score, decision) of each transaction in ``ids`` from detect-fraud's "Transaction scored" log lines."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, tuple[int, str]] = {}
    while True:
        for line in _detect_fraud_log_lines(pipeline):
            if line.get("message") == "Transaction scored" and line.get("transaction_id") in ids:
                found[line["transaction_id"]] = (int(line["score"]), line["decision"])
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found
        pipeline.settle()


def _detect_fraud_log_lines(pipeline: Pipeline) -> list[dict[str, Any]]:
    name = pipeline.outputs["function_names"]["detect-fraud"]
    if pipeline.local:
        texts = Path(pipeline.cloud.log_dir, f"{name}.log").read_text(encoding="utf-8").splitlines()
    else:
        logs = pipeline.session.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}", filterPattern='"Transaction scored"'
        )
        texts = [event["message"] for page in pages for event in page["events"]]
    lines = []
    for text in texts:
        try:
            line = json.loads(text)
        except ValueError:
            continue  # START / END / REPORT lines
        if isinstance(line, dict):
            lines.append(line)
    return lines


def test_every_transaction_of_a_labeled_sequence_scores_live_as_in_the_backtest(
    pipeline: Pipeline, new_id: Callable[[str], str], tmp_path: Path
) -> None:
    sequence = labeled_sequence(new_id)
    for body in sequence:  # one at a time: arrival order is posting order
        status, answer = pipeline.post({k: v for k, v in body.items() if k != "is_fraud"})
        assert status == 201, answer
    live = live_scores(pipeline, {body["transaction_id"] for body in sequence})

    path = tmp_path / "sequence.jsonl"
    path.write_text("".join(json.dumps(body) + "\n" for body in sequence))
    replayed = backtest.backtest(path, "ours", model=deployed_model(pipeline, tmp_path))
    offline = dict(zip(replayed.transaction_ids, zip(replayed.scores, replayed.decisions, strict=True), strict=True))

    assert len(live) == len(sequence), "every posted transaction was scored"
    assert live == offline
    decisions = {body["transaction_id"]: live[body["transaction_id"]][1] for body in sequence}
    assert any(decisions[b["transaction_id"]] != "allow" for b in sequence if b["is_fraud"]), decisions
