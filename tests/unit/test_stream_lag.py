"""detect-fraud reports how long each transaction waited between its stream record and its scoring
(``StreamLag``, ms): the lag both routings alarm on, since EventBridge Pipes publish no iterator age."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.handler_support import (
    BASE_TS,
    MINUTE_MS,
    api_event,
    emf_values,
    eventbridge_event,
    make_transaction,
    stream_batch,
    stream_records,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CREATED_S = BASE_TS // 1000 + 10 * 60  # when DynamoDB wrote the stream records (pinned)


def records(aws: SimpleNamespace, process_transaction: Any, context: Any) -> dict[str, dict[str, Any]]:
    """The stream records of two stored transactions and their claims (by id and kind), created at ``CREATED_S``."""
    for i in range(2):
        body = make_transaction(transaction_id=f"lag-{i}", timestamp=BASE_TS + i * MINUTE_MS)
        assert process_transaction.handler(api_event(body), context)["statusCode"] == 201
    found = {}
    for record in stream_records(aws):
        record["dynamodb"]["ApproximateCreationDateTime"] = CREATED_S
        image = record["dynamodb"].get("NewImage", {})
        if image.get("kind", {}).get("S") in ("transaction", "claim"):
            found[f"{image['transaction_id']['S']}/{image['kind']['S']}"] = record
    return found


def scored_at(monkeypatch: pytest.MonkeyPatch, detect_fraud: Any, epoch_s: float) -> None:
    """detect-fraud's clock (its module's ``time``) reads ``epoch_s``; nothing else's does."""
    monkeypatch.setattr(detect_fraud, "time", SimpleNamespace(time=lambda: epoch_s))


def lags(captured_stdout: str) -> list[tuple[str, float]]:
    return [(unit, value) for name, unit, value in emf_values(captured_stdout) if name == "StreamLag"]


def test_the_pipe_routing_reports_the_lag_of_its_record(
    detect_fraud, process_transaction, aws, lambda_context, capsys, monkeypatch
):
    found = records(aws, process_transaction, lambda_context)
    capsys.readouterr()
    scored_at(monkeypatch, detect_fraud, CREATED_S + 2.5)

    detect_fraud.handler(eventbridge_event(found["lag-0/transaction"]), lambda_context)

    assert lags(capsys.readouterr().out) == [("Milliseconds", 2500.0)]


def test_the_direct_routing_reports_one_lag_per_transaction_and_none_for_skipped_records(
    detect_fraud, process_transaction, aws, lambda_context, capsys, monkeypatch
):
    found = records(aws, process_transaction, lambda_context)
    capsys.readouterr()
    scored_at(monkeypatch, detect_fraud, CREATED_S + 90)
    batch = [found["lag-0/transaction"], found["lag-0/claim"], found["lag-1/transaction"]]

    assert detect_fraud.handler(stream_batch(batch), lambda_context) == {"batchItemFailures": []}

    assert lags(capsys.readouterr().out) == [("Milliseconds", 90_000.0)] * 2


def test_a_record_stamped_after_the_clock_reads_no_negative_lag(
    detect_fraud, process_transaction, aws, lambda_context, capsys, monkeypatch
):
    found = records(aws, process_transaction, lambda_context)
    capsys.readouterr()
    scored_at(monkeypatch, detect_fraud, CREATED_S - 1)  # clocks disagree by a second

    detect_fraud.handler(eventbridge_event(found["lag-1/transaction"]), lambda_context)

    assert lags(capsys.readouterr().out) == [("Milliseconds", 0.0)]
