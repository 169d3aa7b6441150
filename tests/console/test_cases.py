"""Cases: opened once per alert, the queue's order and filters, decisions with their label and trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fraud.cases import (
    CaseConflict,
    CaseError,
    CaseNotFound,
    CaseStore,
    QueueFilter,
    case_from_alert,
    revealable,
    set_revealable,
)
from fraud.labels import LabelStore
from tests.console.support import (
    BASE_MS,
    CASES_TABLE,
    LABELS_TABLE,
    PATTERN_ALERT,
    create_case_tables,
    transaction_alert,
)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_case_tables(client)
        yield client


@pytest.fixture
def store(dynamodb: Any) -> CaseStore:
    return CaseStore(dynamodb, CASES_TABLE, LABELS_TABLE)


def open_case(store: CaseStore, alert: dict) -> Any:
    store.open(case_from_alert(alert, opened_at=alert["created_at"] + 500))
    return store.get(alert["alert_id"])


def test_an_alert_opens_one_case_however_often_it_is_delivered(store):
    alert = transaction_alert("t-1")
    case = case_from_alert(alert, opened_at=BASE_MS + 500)
    assert store.open(case) is True
    assert store.open(case) is False
    assert store.open(case_from_alert(alert, opened_at=BASE_MS + 9000)) is False  # a later redelivery
    opened = store.get("txn-t-1")
    assert (opened.status, opened.score, opened.rule_codes) == ("open", 87, ("AMOUNT_ANOMALY", "VELOCITY"))
    assert [e.action for e in opened.events] == ["opened"]
    assert opened.alert["transaction"]["card_id"] == "********0042"  # kept masked, as published


def test_the_queue_is_ordered_by_score_then_age_and_leaves_out_decided_cases(store):
    for tid, score, created in (("a", 60, BASE_MS), ("b", 95, BASE_MS + 5), ("c", 95, BASE_MS), ("d", 80, BASE_MS)):
        open_case(store, transaction_alert(tid, score=score, created_at=created))
    store.decide(store.get("txn-d"), "legitimate", by="ana", now_ms=BASE_MS + 10)
    assert [c.case_id for c in store.queue(QueueFilter())] == ["txn-c", "txn-b", "txn-a"]
    decided = store.queue(QueueFilter(statuses=("legitimate",)))
    assert [c.case_id for c in decided] == ["txn-d"]


def test_the_queue_filters_by_score_rule_and_age(store):
    open_case(store, transaction_alert("old", score=70, created_at=BASE_MS - 48 * 3_600_000))
    open_case(store, transaction_alert("new", score=90, created_at=BASE_MS))
    open_case(store, PATTERN_ALERT)
    # Both score 90: the older first.
    assert [c.case_id for c in store.queue(QueueFilter(min_score=80))] == ["txn-new", PATTERN_ALERT["alert_id"]]
    assert [c.case_id for c in store.queue(QueueFilter(min_score=71))] == ["txn-new", PATTERN_ALERT["alert_id"]]
    assert len(store.queue(QueueFilter(min_score=70))) == 3
    assert [c.case_id for c in store.queue(QueueFilter(rule="CARD_TESTING"))] == [PATTERN_ALERT["alert_id"]]
    assert [c.case_id for c in store.queue(QueueFilter(older_than_ms=BASE_MS - 3_600_000))] == ["txn-old"]
    assert {c.case_id for c in store.queue(QueueFilter(newer_than_ms=BASE_MS - 3_600_000))} == {
        "txn-new",
        PATTERN_ALERT["alert_id"],
    }
    with pytest.raises(CaseError):
        QueueFilter(statuses=("closed",)).check()


def test_a_decision_is_the_analysts_label_written_with_it_and_on_the_trail(store, dynamodb):
    case = open_case(store, transaction_alert("t-9"))
    store.assign(case, "ana", by="ana", now_ms=BASE_MS + 1000)
    case = store.get("txn-t-9")
    assert (case.status, case.assignee) == ("in_review", "ana")
    store.comment(case, "called the customer: card stolen 4111 1111 1111 1111", by="ana", now_ms=BASE_MS + 2000)
    label = store.decide(store.get("txn-t-9"), "fraud", by="ana", now_ms=BASE_MS + 3000, note="confirmed")
    case = store.get("txn-t-9")
    assert (case.status, case.decided_by, case.decided_at) == ("fraud", "ana", BASE_MS + 3000)
    assert [(e.action, e.by) for e in case.events] == [
        ("opened", "alert flow"),
        ("assigned", "ana"),
        ("commented", "ana"),
        ("decided", "ana"),
    ]
    assert "4111" not in case.events[2].detail["note"]  # a note never keeps a card number
    assert case.events[3].detail == {"status": "fraud", "from": "in_review", "note": "confirmed"}
    [stored] = LabelStore(dynamodb, LABELS_TABLE).of("t-9")
    assert stored == label
    assert stored.to_dict() == {
        "transaction_id": "t-9",
        "label": "fraud",
        "source": "analyst",
        "by": "ana",
        "at": BASE_MS + 3000,
        "case_id": "txn-t-9",
        "note": "confirmed",
    }


def test_a_changed_decision_replaces_the_label_and_a_duplicate_labels_nothing(store, dynamodb):
    case = open_case(store, transaction_alert("t-2"))
    store.decide(case, "fraud", by="ana", now_ms=BASE_MS + 1)
    store.decide(store.get("txn-t-2"), "legitimate", by="bob", now_ms=BASE_MS + 2)
    [label] = LabelStore(dynamodb, LABELS_TABLE).of("t-2")
    assert (label.label, label.by) == ("legitimate", "bob")
    other = open_case(store, transaction_alert("t-3"))
    assert store.decide(other, "duplicate", by="ana", now_ms=BASE_MS + 3) is None
    assert LabelStore(dynamodb, LABELS_TABLE).of("t-3") == []


def test_a_pattern_case_is_decided_without_a_transaction_label(store, dynamodb):
    case = open_case(store, PATTERN_ALERT)
    assert store.decide(case, "fraud", by="ana", now_ms=BASE_MS + 1) is None
    assert list(LabelStore(dynamodb, LABELS_TABLE).all()) == []


def test_two_analysts_never_overwrite_each_other(store):
    case = open_case(store, transaction_alert("t-4"))
    store.decide(case, "fraud", by="ana", now_ms=BASE_MS + 1)
    with pytest.raises(CaseConflict):
        store.decide(case, "legitimate", by="bob", now_ms=BASE_MS + 2)  # bob's page was read before ana decided
    assert store.get("txn-t-4").status == "fraud"


def test_bad_requests_say_what_to_change(store):
    case = open_case(store, transaction_alert("t-5"))
    with pytest.raises(CaseError, match="decision must be"):
        store.decide(case, "maybe", by="ana", now_ms=BASE_MS)
    with pytest.raises(CaseError, match="write a note"):
        store.comment(case, "   ", by="ana", now_ms=BASE_MS)
    with pytest.raises(CaseNotFound):
        store.get("txn-nope")


def test_what_analysts_may_reveal_is_an_admins_decision_on_the_trail(store):
    assert revealable(store) == ()
    set_revealable(store, ["device_id"], by="root", now_ms=BASE_MS)
    assert revealable(store) == ("device_id",)
    [event] = store.trail("settings")
    assert (event.by, event.detail) == ("root", {"revealable": ["device_id"]})
    with pytest.raises(CaseError):
        set_revealable(store, ["amount"], by="root", now_ms=BASE_MS)
