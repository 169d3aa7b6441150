"""Alert messages: contract layout, masking, JSON safety, readable email, SNS message structure."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud.alerts import (
    email_body,
    email_subject,
    entity_hash,
    finding_claim_id,
    mask,
    pattern_alert,
    sns_message,
    transaction_alert,
)
from fraud.engine import Assessment, Reason
from fraud.patterns import Finding

NOW = 1_763_000_000_000
KEY = b"a-test-key-of-at-least-32-bytes-long!"
CARD = "tok_4111111111111111"
TXN = {
    "transaction_id": "txn-42",
    "user_id": "u_42",
    "amount": Decimal("912.4"),
    "currency": "USD",
    "merchant_id": "m_123",
    "merchant_category": "shopping_net",
    "timestamp": Decimal(NOW - 5000),
    "card_id": CARD,
    "country": "FR",
    "location": {"lat": Decimal("48.85"), "lon": Decimal("2")},
    "device_id": "device-fingerprint-abcdef",
    "ip_address": "203.0.113.77",
    "channel": "online",
}
ASSESSMENT = Assessment(
    87,
    "alert",
    (
        Reason("AMOUNT_ANOMALY", 35.04, "amount 912.40 is 8.3x this user's typical 110.00 for shopping_net"),
        Reason("NEW_COUNTRY", 25, "first transaction from FR; earlier ones were from US"),
    ),
)


def test_mask_keeps_only_the_last_four():
    assert mask(CARD) == "********1111"
    assert mask("203.0.113.77") == "********3.77"
    assert mask(None) is None
    assert mask("ab") == "********b" and mask("") == "********"


@given(st.text(max_size=64))
def test_mask_never_leaks_more_than_the_last_four_characters(value):
    masked = mask(value)
    assert masked.startswith("********")
    shown = masked[len("********") :]
    assert len(shown) <= 4 and value.endswith(shown)
    assert len(shown) <= len(value) // 2  # a short value is never shown whole


@given(st.text(max_size=64), st.integers(min_value=0, max_value=8))
def test_mask_shows_at_most_keep_characters(value, keep):
    assert len(mask(value, keep=keep)) <= len("********") + keep


def test_transaction_alert_layout_and_masking():
    alert = transaction_alert(TXN, ASSESSMENT, environment="dev", now_ms=NOW)
    assert alert["alert_id"] == "txn-txn-42" and alert["kind"] == "transaction"
    assert alert["created_at"] == NOW and alert["environment"] == "dev"
    assert alert["score"] == 87 and alert["decision"] == "alert"
    assert alert["reasons"][0] == {
        "code": "AMOUNT_ANOMALY",
        "score": 35.0,
        "explanation": ASSESSMENT.reasons[0].explanation,
    }
    shown = alert["transaction"]
    assert shown["amount"] == "912.40"
    assert shown["card_id"] == "********1111" and shown["device_id"] == "********cdef"
    assert shown["ip_address"] == "********3.77"
    assert shown["timestamp"] == NOW - 5000 and shown["location"] == {"lat": 48.85, "lon": 2}
    text = json.dumps(alert)  # no Decimal left
    for secret in (CARD[:-4], "device-fingerprint", "203.0.113"):
        assert secret not in text
    assert transaction_alert(TXN, ASSESSMENT, environment="dev", now_ms=NOW + 1)["alert_id"] == alert["alert_id"]


def test_subject_and_body_are_readable_and_masked():
    alert = transaction_alert(TXN, ASSESSMENT, environment="dev", now_ms=NOW)
    assert email_subject(alert) == "[dev] ALERT 87/100: 912.40 USD at m_123 (user u_42)"
    body = email_body(alert)
    assert "score 87/100" in body and "912.40 USD" in body and "********1111" in body
    for reason in ASSESSMENT.reasons:
        assert reason.explanation in body
    assert "Next steps" in body and CARD not in body


def test_subject_is_at_most_100_characters_on_one_line():
    long_txn = {**TXN, "merchant_id": "m" * 150, "user_id": "u\n" * 20}
    subject = email_subject(transaction_alert(long_txn, ASSESSMENT, environment="dev", now_ms=NOW))
    assert len(subject) < 100 and "\n" not in subject and subject.endswith("...")


def test_subject_has_no_control_characters_validation_lets_through():
    # SNS rejects a subject with control characters; ids may hold C1 controls (only ASCII ones are refused).
    txn = {**TXN, "merchant_id": "m\x80_1\x9b23", "user_id": "u\u200b_42"}
    subject = email_subject(transaction_alert(txn, ASSESSMENT, environment="dev", now_ms=NOW))
    assert subject.isprintable()
    assert subject == "[dev] ALERT 87/100: 912.40 USD at m _1 23 (user u _42)"


def test_subject_is_folded_to_printable_ascii():
    # SNS accepts only ASCII in a subject; the schema lets any Unicode into merchant and user ids.
    txn = {**TXN, "merchant_id": "Café Zürich ﬁne", "user_id": "用户-7 😀"}
    subject = email_subject(transaction_alert(txn, ASSESSMENT, environment="dev", now_ms=NOW))
    assert subject.isascii() and subject.isprintable()
    assert subject == "[dev] ALERT 87/100: 912.40 USD at Cafe Zurich fine (user ??-7 ?)"


def test_email_carries_the_alert_id_so_a_duplicate_is_recognisable():
    alert = transaction_alert(TXN, ASSESSMENT, environment="dev", now_ms=NOW)
    lines = email_body(alert).splitlines()
    assert "Alert id     txn-txn-42" in lines[:4]
    assert "duplicate" in email_body(alert)


def test_card_numbers_in_stored_fields_never_reach_an_alert():
    # Stored before the front door refused them: the alert replaces them all the same.
    txn = {**TXN, "user_id": "4111 1111 1111 1111", "merchant_id": "m-5555555555554444", "transaction_id": "t"}
    text = json.dumps(transaction_alert(txn, ASSESSMENT, environment="dev", now_ms=NOW))
    assert "4111 1111" not in text and "5555555555554444" not in text
    assert "[card number]" in text


def test_pattern_alert_layout_masking_and_ids():
    finding = Finding(
        "SHARED_DEVICE",
        "device-fingerprint-abcdef",
        80,
        "one device used by 5 users in the window",
        {"distinct": 5, "users": ["u1", "u2"], "device_ids": ["device-fingerprint-abcdef"]},
    )
    alert = pattern_alert(finding, window_end_ms=NOW, environment="prod", now_ms=NOW + 10, hash_key=KEY)
    # 1_763_000_000_000 ms is 2025-11-13T02:13:20Z: the window label is its minute.
    prefix, hashed = alert["alert_id"].rsplit("-", 1)
    assert prefix == "pattern-SHARED_DEVICE-20251113T0213Z"
    assert hashed == entity_hash(KEY, "SHARED_DEVICE", "device-fingerprint-abcdef", "20251113T0213Z")
    assert alert == pattern_alert(finding, window_end_ms=NOW, environment="prod", now_ms=NOW + 10, hash_key=KEY)
    assert alert["kind"] == "pattern" and alert["score"] == 80
    assert alert["finding"]["entity"] == "********cdef"
    assert alert["finding"]["details"]["users"] == ["u1", "u2"]
    assert "device-fingerprint" not in json.dumps(alert)
    assert email_subject(alert) == "[prod] ALERT 80/100: SHARED_DEVICE ********cdef"
    assert "one device used by 5 users" in email_body(alert)


def test_user_findings_keep_the_user_id():
    finding = Finding("USER_MANY_CARDS", "u_42", 70, "one user on 4 different cards", {"cards": ["tok_aaaa1111"]})
    alert = pattern_alert(finding, window_end_ms=NOW, environment="dev", now_ms=NOW, hash_key=KEY)
    assert alert["finding"]["entity"] == "u_42"
    assert alert["finding"]["details"]["cards"] == ["********1111"]


def test_sns_message_structure():
    alert = transaction_alert(TXN, ASSESSMENT, environment="dev", now_ms=NOW)
    message = json.loads(sns_message(alert))
    assert set(message) == {"default", "sqs", "email"}
    assert json.loads(message["default"]) == alert == json.loads(message["sqs"])
    assert message["email"] == email_body(alert)


def test_entity_hashes_are_keyed_so_they_cannot_be_recomputed_without_the_key():
    ip = "203.0.113.77"
    hashed = entity_hash(KEY, "SHARED_IP", ip)
    assert hashed == entity_hash(KEY, "SHARED_IP", ip)  # stable: suppression works across runs
    assert hashed != entity_hash(b"another-key-of-at-least-32-bytes!!", "SHARED_IP", ip)
    assert hashed != entity_hash(KEY, "SHARED_DEVICE", ip)  # one value, unlinkable across finding types
    assert len(hashed) == 24 and hashed.isalnum() and hashed.islower()
    with pytest.raises(ValueError, match="32 bytes"):
        entity_hash(b"short", "SHARED_IP", ip)


def test_a_pattern_alert_never_puts_a_hash_of_the_entity_beside_its_masked_tail():
    finding = Finding("SHARED_IP", "203.0.113.77", 80, "one IP address used by 6 users in the window")
    alert = pattern_alert(finding, window_end_ms=NOW, environment="dev", now_ms=NOW, hash_key=KEY)
    text = json.dumps(alert)
    assert alert["finding"]["entity"] == "********3.77"
    assert entity_hash(KEY, "SHARED_IP", "203.0.113.77") not in text  # the suppression hash stays in the state table
    assert finding_claim_id(finding, KEY) == f"finding#SHARED_IP#{entity_hash(KEY, 'SHARED_IP', '203.0.113.77')}"
    assert "suppression_key" not in alert


def test_a_model_alert_explains_itself_in_plain_words_and_names_the_versions():
    from fraud.engine import Driver

    assessment = Assessment(
        93,
        "alert",
        (Reason("RISKY_CATEGORY", 16, "merchant category shopping_net has risk 1.00"),),
        rules_version="rules-abc",
        model_version="20250130-xyz",
        drivers=(Driver("sum_1h", 1.8, "2 earlier transactions totalling 1,820.95 in the last 60 min"),),
        forced_by=None,
    )
    alert = transaction_alert(TXN, assessment, environment="dev", now_ms=NOW)
    body = email_body(alert)
    assert alert["model_version"] == "20250130-xyz" and alert["rules_version"] == "rules-abc"
    assert "Why the model scored it this high:\n  - 2 earlier transactions totalling 1,820.95" in body
    assert "Scored by model 20250130-xyz, rules rules-abc." in body


def test_a_forced_decision_says_which_rule_raised_it():
    forced = Assessment(12, "review", ASSESSMENT.reasons, rules_version="rules-abc", forced_by="NEW_COUNTRY")
    body = email_body(transaction_alert(TXN, forced, environment="dev", now_ms=NOW))
    assert "raised to review by the rule NEW_COUNTRY" in body and "Scored by the rules alone" in body
