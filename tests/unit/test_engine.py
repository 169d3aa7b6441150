"""The engine: score combination, decision bands, enabled rules, the in-memory replay."""

from __future__ import annotations

import json
import random

import pytest

from fraud.config import load_config
from fraud.engine import Assessment, Engine, Reason, combine
from fraud.history import InMemoryHistoryStore, UserHistory

HOUR = 3_600_000
T0 = 1_700_000_000_000
OFF = {"enabled": False}
ALL_OFF = {
    name: OFF
    for name in (
        "amount_anomaly",
        "high_amount",
        "velocity",
        "card_testing",
        "impossible_travel",
        "new_country",
        "new_device",
        "merchant_category",
        "unusual_hour",
        "risky_hour",
        "spree",
    )
}


def only(**rules) -> dict:
    return {"rules": {**ALL_OFF, **rules}}


def txn(i: int, ts: int, amount: float = 50.0, **extra) -> dict:
    return {
        "transaction_id": f"t{i}",
        "user_id": "u1",
        "timestamp": ts,
        "amount": amount,
        "currency": "USD",
        "merchant_id": "m1",
        "merchant_category": "grocery_pos",
        **extra,
    }


def empty() -> UserHistory:
    return UserHistory(30 * 24 * HOUR, 500)


@pytest.mark.parametrize(
    ("contributions", "score"),
    [([], 0), ([40], 40), ([100], 100), ([50, 50], 75), ([40, 30], 58), ([100, 20], 100), ([10] * 30, 96)],
)
def test_combination_is_probabilistic_or(contributions, score):
    assert combine(contributions) == score


def test_score_never_exceeds_100_and_one_rule_alone_gives_its_weight():
    engine = Engine(load_config(only(merchant_category={"enabled": True, "weight": 35, "risk": {"travel": 1.0}})))
    assessment = engine.assess(txn(1, T0, merchant_category="travel"), empty())
    assert assessment.score == 35 and assessment.codes == ("RISKY_CATEGORY",)


@pytest.mark.parametrize(
    ("weight", "decision"), [(39, "allow"), (40, "review"), (69, "review"), (70, "alert"), (100, "alert")]
)
def test_decision_bands(weight, decision):
    doc = only(merchant_category={"enabled": True, "weight": weight, "risk": {"travel": 1.0}})
    doc["bands"] = {"review": 40, "alert": 70}
    assessment = Engine(load_config(doc)).assess(txn(1, T0, merchant_category="travel"), empty())
    assert assessment.decision == decision
    assert assessment.suspicious is (decision != "allow")


def test_quiet_transaction_is_allowed_with_no_reasons():
    assessment = Engine(load_config(only())).assess(txn(1, T0), empty())
    assert assessment == Assessment(0, "allow", ())
    assert not assessment.suspicious


def test_disabled_or_zero_weight_rules_do_not_run():
    doc = only(high_amount={"enabled": True, "weight": 0}, merchant_category={"enabled": False})
    engine = Engine(load_config(doc))
    assert engine.rule_names == ()
    assert engine.assess(txn(1, T0, 100_000.0, merchant_category="shopping_net"), empty()).score == 0


def test_reasons_are_strongest_first_and_to_dict_is_json():
    doc = only(
        high_amount={"enabled": True, "weight": 30, "start": 100.0, "full": 200.0},
        merchant_category={"enabled": True, "weight": 10, "risk": {"jewelry": 1.0}},
    )
    assessment = Engine(load_config(doc)).assess(txn(1, T0, 500.0, merchant_category="jewelry"), empty())
    assert assessment.codes == ("HIGH_AMOUNT", "RISKY_CATEGORY")
    assert assessment.score == 37 and assessment.decision == "allow"
    as_dict = assessment.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["reasons"][0] == {
        "code": "HIGH_AMOUNT",
        "score": 30,
        "explanation": assessment.reasons[0].explanation,
    }


def test_reason_is_immutable():
    reason = Reason("X", 1.0, "why")
    with pytest.raises(AttributeError):
        reason.score = 2.0  # type: ignore[misc]


def test_replay_through_the_in_memory_store_catches_a_takeover():
    """A user with a steady routine, then a new device in a new country spending far above it."""
    config = load_config(
        {
            **only(
                amount_anomaly={"enabled": True, "weight": 40, "low_weight": 0, "z_start": 2.0, "z_full": 4.0},
                new_country={"enabled": True, "weight": 25, "min_history": 5},
                new_device={"enabled": True, "weight": 20, "min_history": 5},
                impossible_travel={
                    "enabled": True,
                    "weight": 50,
                    "max_speed_kmh": 900.0,
                    "full_speed_kmh": 3000.0,
                    "min_distance_km": 300.0,
                },
                unusual_hour={
                    "enabled": True,
                    "weight": 25,
                    "min_history": 20,
                    "max_share": 0.02,
                    "prior_strength": 12.0,
                },
            ),
            "bands": {"review": 40, "alert": 70},
        }
    )
    engine, store = Engine(config), InMemoryHistoryStore(config)
    routine = [
        txn(
            i,
            T0 + i * 8 * HOUR,
            40.0 + i % 7,
            country="US",
            device_id="phone",
            local_hour=12,
            location={"lat": 40.7, "lon": -74.0},
        )
        for i in range(60)
    ]
    for t in routine:
        assert engine.assess(t, store.history_for(t)).decision == "allow", t
        store.record(t)
    takeover = txn(
        99,
        T0 + 59 * 8 * HOUR + 30 * 60_000,
        2500.0,
        country="RU",
        device_id="laptop-x",
        local_hour=3,
        location={"lat": 55.75, "lon": 37.62},
        merchant_category="shopping_net",
    )
    assessment = engine.assess(takeover, store.history_for(takeover))
    assert assessment.decision == "alert"
    assert {"AMOUNT_ANOMALY", "NEW_COUNTRY", "NEW_DEVICE", "IMPOSSIBLE_TRAVEL", "UNUSUAL_HOUR"} <= set(assessment.codes)


# -- the one-pass assess gives exactly what the rule functions give --------------------------------


def _stream(seed: int, n: int = 4_000, users: int = 12) -> list[dict]:
    """Mixed traffic that makes every rule fire now and then: night hours, bursts of small amounts,
    new devices and countries, jumps between continents, categories with and without a prior."""
    rng = random.Random(seed)
    categories = ["grocery_pos", "shopping_net", "misc_net", "gas_transport", "travel", "jewelry", None]
    places = [(40.7, -74.0), (41.9, -87.6), (51.5, -0.1), (35.7, 139.7)]
    out, ts, burst, user = [], T0, 0, 0
    for i in range(n):
        if burst:  # card testing: small amounts on one card seconds apart
            burst -= 1
            ts += 20_000
            amount = round(rng.uniform(0.5, 4.99), 2)
        else:
            burst = 5 if rng.random() < 0.02 else 0
            ts += rng.choice([1_000, 30_000, 600_000, 3 * HOUR, 20 * HOUR])
            user = rng.randrange(users)
            amount = rng.choice(
                [
                    round(rng.uniform(0.5, 4.99), 2),
                    round(rng.lognormvariate(3.8, 1.2), 2) + 0.01,
                    round(rng.uniform(300, 6000), 2),
                ]
            )
        extra: dict = {}
        if rng.random() < 0.8:
            extra["country"] = rng.choice(["US", "US", "US", "GB", "JP"])
        if rng.random() < 0.6:
            extra["device_id"] = f"d{user}-{rng.randrange(3)}"
        if rng.random() < 0.7:
            lat, lon = rng.choice(places)
            extra["location"] = {"lat": lat + rng.uniform(-0.3, 0.3), "lon": lon + rng.uniform(-0.3, 0.3)}
        if rng.random() < 0.5:
            extra["local_hour"] = rng.randrange(24)
        elif rng.random() < 0.5:
            extra["utc_offset_minutes"] = rng.choice([-300, 0, 60, 330, 540])
        out.append(
            txn(
                i,
                ts,
                amount,
                user_id=f"u{user}",
                merchant_category=rng.choice(categories),
                merchant_id=f"m{rng.randrange(30)}",
                **extra,
            )
        )
    return out


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "history": {"max_items": 25},
            "rules": {
                "spree": {"window_seconds": 600_000, "z_min": 0.5, "full_count": 5},
                "velocity": {"min_history": 3},
                "unusual_hour": {"min_history": 5},
            },
        },
        {
            "rules": {
                "amount_anomaly": {"enabled": False},
                "merchant_category": {"weight": 0},
                "spree": {"min_hour_risk": 0.0},
            }
        },
        {
            "rules": {
                "amount_anomaly": {"prior_strength": 0.5, "min_amount": 20.0, "low_weight": 0},
                "card_testing": {"min_count": 2, "full_count": 6},
                "new_country": {"min_history": 1},
                "new_device": {"min_history": 0},
                "risky_hour": {"weight": 0},
            }
        },
    ],
)
def test_assess_equals_the_rule_functions_run_one_by_one(overrides):
    config = load_config(overrides)
    engine, store = Engine(config), InMemoryHistoryStore(config)
    fired: set = set()
    for t in _stream(len(json.dumps(overrides))):
        history = store.history_for(t)
        expected = engine.reference_assess(t, history)
        assert engine.assess(t, history) == expected, t
        fired.update(expected.codes)
        store.record(t)
    assert len(fired) >= 8, fired  # the stream exercises most rules
