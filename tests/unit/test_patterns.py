"""Pattern analysis over one window: each finding type, nothing on benign traffic, bounded memory."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from fraud.config import load_config
from fraud.patterns import FINDING_TYPES, Finding, PatternAnalyzer

PATTERNS = {
    "suppression_minutes": 60,
    "card_testing": {"max_amount": 2.0, "min_count": 4},
    "merchant_spike": {"factor": 3.0, "min_count": 20},
    "shared_device": {"min_users": 3},
    "shared_ip": {"min_users": 4},
    "user_many_cards": {"min_cards": 3},
    "user_many_countries": {"min_countries": 3},
}


@pytest.fixture
def analyzer() -> PatternAnalyzer:
    return PatternAnalyzer(load_config({"patterns": PATTERNS}))


def item(i: int, **fields) -> dict:
    return {
        "user_id": f"u{i}",
        "amount": Decimal("25.00"),
        "currency": "USD",
        "merchant_id": f"m{i % 50}",
        "merchant_category": "grocery_pos",
        "card_id": f"card{i}",
        "device_id": f"dev{i}",
        "ip_address": f"10.0.{i // 250}.{i % 250}",
        "country": "US",
        **fields,
    }


def benign(analyzer: PatternAnalyzer, n: int = 2_000) -> None:
    rng = random.Random(3)
    for _ in range(n):
        user = rng.randrange(400)
        analyzer.add(item(user, amount=Decimal(rng.randint(300, 20_000)) / 100, merchant_id=f"m{rng.randrange(100)}"))


def only(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.type == kind]


def test_benign_traffic_gives_no_finding(analyzer):
    benign(analyzer)
    baseline = {m: float(c) for m, c in analyzer.merchant_counts().items()}
    assert analyzer.findings(baseline) == []


def test_card_testing(analyzer):
    benign(analyzer)
    for _ in range(6):
        analyzer.add(item(7, card_id="tok_victim", amount=Decimal("1.00")))
    [finding] = only(analyzer.findings({}), "CARD_TESTING")
    assert finding.entity == "tok_victim" and finding.details == {"count": 6, "total": "6.00"}
    assert 60 <= finding.score <= 100 and "6 transactions of at most 2.00" in finding.explanation


def test_merchant_spike_against_its_baseline(analyzer):
    for i in range(90):
        analyzer.add(item(i, merchant_id="m_hot"))
    for i in range(25):
        analyzer.add(item(i, merchant_id="m_busy"))  # busy but usual
    baseline = {"m_hot": 10.0, "m_busy": 30.0}
    [finding] = only(analyzer.findings(baseline), "MERCHANT_SPIKE")
    assert finding.entity == "m_hot" and finding.details == {"count": 90, "baseline": 10.0}
    assert "9.0x its recent average of 10.0" in finding.explanation


def test_merchant_spike_needs_a_minimum_count_and_a_baseline(analyzer):
    for i in range(15):
        analyzer.add(item(i, merchant_id="m_new"))
    assert only(analyzer.findings({"other": 1.0}), "MERCHANT_SPIKE") == []  # 15 < min_count 20
    for i in range(15):
        analyzer.add(item(i, merchant_id="m_new"))
    [finding] = only(analyzer.findings({"other": 1.0}), "MERCHANT_SPIKE")
    assert "none in recent windows" in finding.explanation
    assert only(analyzer.findings({}), "MERCHANT_SPIKE") == []  # no baseline at all yet: not judged


def test_shared_device_and_ip(analyzer):
    benign(analyzer)
    for i in range(5):
        analyzer.add(item(1000 + i, device_id="dev_farm", ip_address="198.51.100.7"))
    findings = analyzer.findings({})
    [device] = only(findings, "SHARED_DEVICE")
    [ip] = only(findings, "SHARED_IP")
    assert device.entity == "dev_farm" and device.details["distinct"] == 5
    assert device.details["users"] == [f"u{1000 + i}" for i in range(5)]
    assert ip.entity == "198.51.100.7" and "5 users" in ip.explanation


def test_user_many_cards_and_countries(analyzer):
    benign(analyzer)
    for i, country in enumerate(["US", "BR", "NG", "RO"]):
        analyzer.add(item(9999, card_id=f"tok_{i}", country=country))
    findings = analyzer.findings({})
    [cards] = only(findings, "USER_MANY_CARDS")
    [countries] = only(findings, "USER_MANY_COUNTRIES")
    assert cards.entity == "u9999" and cards.details["cards"] == ["tok_0", "tok_1", "tok_2", "tok_3"]
    assert countries.details["countries"] == ["BR", "NG", "RO", "US"]


def test_sets_are_capped(analyzer):
    for i in range(5_000):
        analyzer.add(item(i, device_id="dev_everyone"))
    [finding] = only(analyzer.findings({}), "SHARED_DEVICE")
    assert finding.details["capped"] is True and len(finding.details["users"]) <= PatternAnalyzer.SAMPLE
    assert "at least" in finding.explanation
    assert len(analyzer._device_users.sets["dev_everyone"]) <= max(
        PATTERNS["shared_device"]["min_users"], PatternAnalyzer.SAMPLE
    )


def test_findings_are_strongest_first_and_typed(analyzer):
    for i in range(12):
        analyzer.add(item(i, device_id="dev_farm"))
    for i in range(3):
        analyzer.add(item(100 + i, device_id="dev_small"))
    findings = analyzer.findings({})
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)
    assert {f.type for f in findings} <= set(FINDING_TYPES)
