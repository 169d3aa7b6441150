"""The deployed pipeline end to end: what a client, the fraud team and the on-call engineer rely on.

Every test runs in both ``stream_consumer`` modes (see conftest.py). Transactions use fresh ids and
users per test, so the tests do not see each other's alerts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tests.clock import traffic_now_ms

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.deployments("eventbridge", "direct", "prod-eventbridge", "prod-direct"),
]

MINUTE_MS = 60_000
DAY_MS = 86_400_000


def now_ms() -> int:
    """ "Now" for the traffic (tests/clock.py): a pinned time of day, never the hour the suite happens to run at."""
    return traffic_now_ms()


def transaction(transaction_id: str, user_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "transaction_id": transaction_id,
        "user_id": user_id,
        "amount": 42.5,
        "currency": "USD",
        "merchant_id": "m-grocery-17",
        "merchant_category": "grocery_pos",
        "timestamp": now_ms() - MINUTE_MS,
        "card_id": f"tok-{user_id}",
        "country": "US",
        "device_id": f"dev-{user_id}",
        "channel": "pos",
    }
    body.update(fields)
    return body


def midday(days_ago: int) -> int:
    """12:00 UTC, ``days_ago`` days back: ordinary hours whatever time the suite runs."""
    return (now_ms() // DAY_MS - days_ago) * DAY_MS + 12 * 3_600_000


def history(new_id: Callable[[str], str], user: str, count: int = 8) -> list[dict[str, Any]]:
    """A cardholder's ordinary weeks: grocery purchases around 40 USD at midday, same card and device."""
    return [transaction(new_id(f"h{i}"), user, amount=35 + i, timestamp=midday(2 * (count - i))) for i in range(count)]


def post_all(pipeline: Pipeline, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        status, answer = pipeline.post(body)
        assert status == 201, answer


# -- the API ----------------------------------------------------------------------------------------------


def test_a_valid_transaction_is_accepted_and_stored_exactly_once(
    pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id("valid"), new_id("user"))

    status, answer = pipeline.post(body)
    retry_status, retry_answer = pipeline.post(body)

    assert status == 201 and answer["transaction_id"] == body["transaction_id"]
    assert (retry_status, retry_answer) == (status, answer), "an exact retry gets the same answer"
    kinds = sorted(item["kind"]["S"] for item in pipeline.items(body["transaction_id"]))
    assert kinds == ["claim", "transaction"], "one transaction item (and the claim that guards its id)"


def test_the_same_id_with_a_different_body_is_a_conflict_and_changes_nothing(
    pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id("conflict"), new_id("user"))
    assert pipeline.post(body)[0] == 201

    status, _ = pipeline.post({**body, "amount": 99.99})

    assert status == 409
    stored = [i for i in pipeline.items(body["transaction_id"]) if i["kind"]["S"] == "transaction"]
    assert [Decimal(i["amount"]["N"]) for i in stored] == [Decimal("42.5")]


@pytest.mark.parametrize(
    "change",
    [
        {"amount": -5},
        {"amount": 10.001},
        {"currency": "dollars"},
        {"unknown_field": 1},
        {"transaction_id": "has spaces"},
    ],
    ids=["negative-amount", "three-decimals", "bad-currency", "unknown-field", "bad-id"],
)
def test_an_invalid_body_is_rejected_with_400_and_not_stored(
    pipeline: Pipeline, new_id: Callable[[str], str], change: dict[str, Any]
) -> None:
    body = {**transaction(new_id("invalid"), new_id("user")), **change}

    status, answer = pipeline.post(body)

    assert status == 400, answer
    assert pipeline.items(str(body["transaction_id"])) == []


def test_a_missing_field_is_rejected_with_400(pipeline: Pipeline, new_id: Callable[[str], str]) -> None:
    body = transaction(new_id("missing"), new_id("user"))
    del body["currency"]

    assert pipeline.post(body)[0] == 400


def test_malformed_json_is_rejected_with_400(pipeline: Pipeline) -> None:
    assert pipeline.post(b"{not json")[0] == 400


@pytest.mark.parametrize("api_key", [None, "not-the-key"], ids=["no-key", "wrong-key"])
def test_a_request_without_the_api_key_is_forbidden(
    pipeline: Pipeline, new_id: Callable[[str], str], api_key: str | None
) -> None:
    body = transaction(new_id("nokey"), new_id("user"))

    status, answer = pipeline.post(body, api_key=api_key)

    # The gateway's own JSON error body (modules/api): a fixed message, the response type, the request id.
    assert status == 403 and answer["message"].startswith("Forbidden") and answer["request_id"]
    assert pipeline.items(body["transaction_id"]) == []


# -- scoring and alerting ---------------------------------------------------------------------------------


def test_a_fraudulent_sequence_produces_one_alert_for_the_fraud_team(
    pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    user = new_id("victim")
    post_all(pipeline, history(new_id, user))
    pipeline.settle()
    fraud = transaction(
        new_id("fraud"),
        user,
        amount=4999.0,
        merchant_category="shopping_net",
        merchant_id="m-unknown-9",
        country="NG",
        device_id=new_id("new-device"),
        channel="online",
        timestamp=now_ms() - 1000,
    )

    post_all(pipeline, [fraud])
    alert = pipeline.wait_for_alert(
        lambda a: a.get("kind") == "transaction" and a["transaction"]["transaction_id"] == fraud["transaction_id"]
    )

    assert alert is not None, "no alert reached the topic's SQS subscription"
    assert alert["decision"] in ("review", "alert") and alert["score"] >= 40
    assert {r["code"] for r in alert["reasons"]} >= {"AMOUNT_ANOMALY"}
    assert fraud["card_id"] not in str(alert), "identifiers are masked in alerts"
    pipeline.settle()
    assert len(pipeline.transaction_alerts(fraud["transaction_id"])) == 1
    assert pipeline.deliveries[alert["alert_id"]] == 1, "published once"


def test_the_local_tally_follows_a_fraudulent_transaction_through_every_stage(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    pipeline = local_pipeline
    fraud = fraud_after_history(pipeline, new_id, "tally")
    before = pipeline.tally()

    post_all(pipeline, [fraud])
    pipeline.settle()

    after = pipeline.tally()
    assert {stage: after[stage] - before[stage] for stage in after} == {
        "posted": 1,
        "stored": 1,
        "scored": 1,
        "alerted": 1,
    }


def test_a_benign_sequence_produces_no_alert(pipeline: Pipeline, new_id: Callable[[str], str]) -> None:
    user = new_id("regular")
    bodies = history(new_id, user)
    bodies.append(transaction(new_id("latest"), user, amount=41.0, timestamp=midday(1)))

    post_all(pipeline, bodies)
    pipeline.settle()

    for body in bodies:
        alerts = pipeline.transaction_alerts(body["transaction_id"])
        assert alerts == [], [(a["decision"], a["reasons"]) for a in alerts]


def card_testing_burst(new_id: Callable[[str], str], name: str, card: str, *, first_ms: int) -> list[dict[str, Any]]:
    """Eight small purchases on one card by eight users at eight merchants, 10 s apart from ``first_ms``."""
    return [
        transaction(
            new_id(f"{name}{i}"),
            new_id(f"{name}-user{i}"),
            amount=1.0 + i / 100,
            card_id=card,
            merchant_category="misc_net",
            merchant_id=f"m-{name}-{i}",
            timestamp=first_ms + i * 10_000,
        )
        for i in range(8)
    ]


def test_analyze_patterns_finds_a_card_testing_burst(pipeline: Pipeline, new_id: Callable[[str], str]) -> None:
    card = new_id("card") + "Zq7x"  # the alert masks the card: its last 4 characters identify it
    burst = card_testing_burst(new_id, "probe", card, first_ms=now_ms() - 200_000)
    post_all(pipeline, burst)
    pipeline.settle()

    # The run after the minute the burst was received in has closed (windows are whole minutes of
    # receive time, so a run looks at the minutes before its own).
    pipeline.run_analysis(minutes_later=1)
    finding = pipeline.wait_for_alert(
        lambda a: (
            a.get("kind") == "pattern"
            and a["finding"]["type"] == "CARD_TESTING"
            and a["finding"]["entity"].endswith("Zq7x")
        )
    )

    assert finding is not None, "analyze-patterns published no CARD_TESTING finding for the card"
    assert card not in str(finding), "the card is masked"


# -- failures: retries, dead letters, outages (local emulator only) ---------------------------------------


def fraud_after_history(pipeline: Pipeline, new_id: Callable[[str], str], name: str) -> dict[str, Any]:
    user = new_id(name)
    post_all(pipeline, history(new_id, user, count=5))
    pipeline.settle()
    return fraudulent(new_id, name, user)


def fraudulent(new_id: Callable[[str], str], name: str, user: str) -> dict[str, Any]:
    """A purchase unlike the user's history (amount, category, country, device, channel): alerted."""
    return transaction(
        new_id(f"{name}-fraud"),
        user,
        amount=3999.0,
        merchant_category="shopping_net",
        country="RU",
        device_id=new_id("dev"),
        channel="online",
        timestamp=now_ms() - 1000,
    )


def test_an_alert_that_keeps_failing_in_notify_team_ends_in_the_dlq_after_3_receives(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    notify = pipeline.outputs["function_names"]["notify-team"]
    dlq = pipeline.outputs["alerts_dlq_url"]
    fraud = fraud_after_history(pipeline, new_id, "poison")
    before = cloud.runtime.stats()[notify]["invocations"]

    cloud.runtime.inject_failure(notify, "notify-team is broken")
    try:
        post_all(pipeline, [fraud])
        pipeline.settle()
    finally:
        cloud.runtime.clear_failure(notify)

    # SQS moves a message to its dead-letter queue on the receive that finds it over maxReceiveCount, in
    # two steps (out of the queue, into the DLQ): look for a while (a received message stays received).
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not any(fraud["transaction_id"] in m["Body"] for m in dead) and time.monotonic() < deadline:
        dead += pipeline.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
    assert [m for m in dead if fraud["transaction_id"] in m["Body"]], "the alert is in the DLQ"
    assert cloud.runtime.stats()[notify]["invocations"] - before == 3, "received (and failed) exactly 3 times"
    assert pipeline.transaction_alerts(fraud["transaction_id"]) == [], "never published"
    pipeline.sqs.purge_queue(QueueUrl=dlq)


def test_an_sns_outage_delays_alerts_and_loses_none(local_pipeline: Pipeline, new_id: Callable[[str], str]) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    fraud = fraud_after_history(pipeline, new_id, "outage")

    with cloud.outage("sns") as outage:
        post_all(pipeline, [fraud])
        deadline = time.monotonic() + 60
        while outage.hits == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outage.hits > 0, "notify-team tried to publish during the outage"
        assert pipeline.transaction_alerts(fraud["transaction_id"]) == []

    alert = pipeline.wait_for_alert(
        lambda a: a.get("kind") == "transaction" and a["transaction"]["transaction_id"] == fraud["transaction_id"]
    )
    pipeline.settle()

    assert alert is not None, "the alert arrived after the outage"
    assert pipeline.deliveries[alert["alert_id"]] == 1, "exactly once"
    assert pipeline.queue_depth(pipeline.outputs["alerts_dlq_url"]) == 0, "nothing dead-lettered"
