"""The engine: score combination, decision bands, forced bands, enabled rules, the model's place, and one
definition of the features for the live path and the backtest (same features, no look-ahead)."""

from __future__ import annotations

import json
import random

import pytest

from fraud.config import load_config
from fraud.engine import Engine, Reason, combine
from fraud.features import FEATURE_NAMES, extract
from fraud.history import InMemoryHistoryStore, Item, UserHistory, history_from_items

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
    assert (assessment.score, assessment.decision, assessment.reasons, assessment.drivers) == (0, "allow", (), ())
    assert assessment.model_version is None and assessment.rules_version == load_config(only()).version
    assert not assessment.suspicious


def test_a_rule_with_force_raises_the_decision_whatever_the_score():
    doc = only(merchant_category={"enabled": True, "weight": 5, "risk": {"travel": 1.0}, "force": "review"})
    assessment = Engine(load_config(doc)).assess(txn(1, T0, merchant_category="travel"), empty())
    assert assessment.score == 5 and assessment.decision == "review" and assessment.forced_by == "RISKY_CATEGORY"
    unforced = only(merchant_category={"enabled": True, "weight": 5, "risk": {"travel": 1.0}})
    assert Engine(load_config(unforced)).assess(txn(1, T0, merchant_category="travel"), empty()).decision == "allow"


def test_a_forced_band_never_lowers_the_decision():
    doc = only(
        high_amount={"enabled": True, "weight": 90, "start": 100.0, "full": 200.0},
        merchant_category={"enabled": True, "weight": 5, "risk": {"jewelry": 1.0}, "force": "review"},
    )
    assessment = Engine(load_config(doc)).assess(txn(1, T0, 500.0, merchant_category="jewelry"), empty())
    assert assessment.decision == "alert" and assessment.forced_by is None


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
    assert as_dict["model_version"] is None and as_dict["rules_version"].startswith("rules-")
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
                unusual_hour={"enabled": True, "weight": 25, "min_history": 20, "max_share": 0.02},
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


# -- one definition of the features: the live path equals the backtest, and nothing looks ahead ---------


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


OVERRIDES = [
    {},
    {
        "history": {"max_items": 25},
        "features": {"night": {"window_seconds": 600, "z_min": 0.5, "hours": [0, 1, 2, 3, 4, 5, 6, 7]}},
        "rules": {"velocity": {"min_history": 3}, "unusual_hour": {"min_history": 5}},
    },
    {
        "history": {"window_days": 2},
        "features": {"windows": {"24h": 43200, "7d": 172800}, "small_amount": {"max_amount": 50.0}},
    },
]


def _same(a: dict, b: dict) -> bool:
    """Equal feature by feature, NaN equal to NaN (to the last bit otherwise)."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


@pytest.mark.parametrize("overrides", OVERRIDES)
def test_the_live_path_gives_the_backtests_features_and_assessment_to_the_last_bit(overrides):
    """detect-fraud builds each history fresh from the stored items (history_from_items); the backtest adds and
    evicts incrementally (InMemoryHistoryStore). Every feature and every assessment must be identical."""
    config = load_config(overrides)
    engine, store = Engine(config), InMemoryHistoryStore(config)
    stored: dict[str, list[Item]] = {}
    fired: set = set()
    for arrival, t in enumerate(_stream(len(json.dumps(overrides)))):
        item = Item({**t, "received_at": T0 + arrival})
        incremental = store.history_for(item)
        live = history_from_items(
            stored.get(item.user_id, []), config.history_window_ms, config.history_max_items, item.ts, before=item
        )
        assert _same(extract(item, incremental, config.features), extract(item, live, config.features)), t
        expected = engine.assess(item, incremental)
        assert engine.assess(item, live) == expected, t
        fired.update(expected.codes)
        store.record(item)
        stored.setdefault(item.user_id, []).append(item)
    assert len(fired) >= 8, fired  # the stream exercises most rules


def test_features_do_not_depend_on_what_comes_after_the_transaction():
    """No look-ahead: a transaction's features are the same whatever is stored after it (later timestamps, and
    transactions of the same millisecond that arrived later)."""
    config = load_config()
    stream = [Item({**t, "received_at": T0 + i}) for i, t in enumerate(_stream(5))]
    by_user: dict[str, list[Item]] = {}
    for item in stream:
        by_user.setdefault(item.user_id, []).append(item)
    window, limit = config.history_window_ms, config.history_max_items
    for i in range(0, len(stream), 7):
        item = stream[i]
        mine = by_user[item.user_id]
        before = [other for other in mine if other.order_key() < item.order_key()]
        later = [other for other in mine if other.order_key() > item.order_key()]
        later += [Item({**other_txn(item, k), "received_at": item.arrival + 1 + k}) for k in range(3)]
        alone = extract(item, history_from_items(before, window, limit, item.ts, before=item), config.features)
        everything = history_from_items([*before, *later], window, limit, item.ts, before=item)
        assert _same(alone, extract(item, everything, config.features))


def other_txn(item: Item, k: int) -> dict:
    """A transaction of the same user at the same millisecond, arriving after ``item``."""
    return txn(10_000 + k, item.ts, 1.0, user_id=item.user_id, transaction_id=f"{item.transaction_id}-later{k}")


def test_same_millisecond_transactions_see_each_other_in_arrival_order():
    config = load_config()
    burst = [Item({**txn(i, T0, 1.0), "transaction_id": f"b{i}", "received_at": T0 + i}) for i in range(4)]
    window, limit = config.history_window_ms, config.history_max_items
    counts = [
        extract(item, history_from_items(burst, window, limit, T0, before=item), config.features)["small_amounts"]
        for item in burst
    ]
    assert counts == [1.0, 2.0, 3.0, 4.0]  # each sees the ones that arrived before it, and itself


def test_every_feature_is_named_and_computed():
    features = extract(Item(txn(1, T0, location={"lat": 1.0, "lon": 2.0})), empty(), load_config().features)
    assert tuple(features) == FEATURE_NAMES


# -- with the learned model ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_model():
    from fraud.model import load
    from tests.conftest import ROOT

    return load((ROOT / "models" / "default.json").read_bytes())


def spree_on_a_quiet_card() -> list[dict]:
    """Six weeks of groceries at midday, then large online purchases one after another at night."""
    routine = [txn(i, T0 + i * 20 * HOUR, 40.0 + i % 9, local_hour=12, country="US") for i in range(50)]
    start = T0 + 50 * 20 * HOUR
    spree = [
        txn(
            100 + k,
            start + k * 30 * 60_000,
            700.0 + 90 * k,
            local_hour=1,
            country="US",
            merchant_category="shopping_net",
        )
        for k in range(4)
    ]
    return routine + spree


def test_with_a_model_the_model_scores_and_the_alert_names_what_drove_it(default_model):
    config = load_config()
    engine, store = Engine(config, default_model), InMemoryHistoryStore(config)
    assessments = []
    for t in spree_on_a_quiet_card():
        assessments.append(engine.assess(t, store.history_for(t)))
        store.record(t)
    routine, spree = assessments[:50], assessments[50:]
    assert all(a.decision == "allow" for a in routine[10:]), [a.score for a in routine]
    assert spree[-1].decision == "alert" and spree[-1].score >= default_model.alert_threshold
    assert spree[-1].model_version == default_model.version and spree[-1].rules_version == config.version
    drivers = spree[-1].drivers
    assert 1 <= len(drivers) <= 3 and all(d.contribution > 0 for d in drivers)
    raw_names = [name for name in FEATURE_NAMES if "_" in name]
    for driver in drivers:  # plain words: no raw feature names, no "not known"
        assert not any(name in driver.explanation for name in raw_names), driver
        assert "not known" not in driver.explanation and "nan" not in driver.explanation
    assert spree[-1].codes, "the rules still give their reason codes"
    assert json.loads(json.dumps(spree[-1].to_dict()))["drivers"][0]["explanation"] == drivers[0].explanation


def test_a_model_is_fed_the_features_of_its_own_spec(default_model):
    """A document whose features section differs changes what the rules read, never what the model reads."""
    changed = load_config({"features": {"windows": {"1h": 600}, "night": {"hours": [0]}}})
    assert changed.features != default_model.feature_spec
    stream = spree_on_a_quiet_card()
    scores = []
    for config in (load_config(), changed):
        engine, store = Engine(config, default_model), InMemoryHistoryStore(config)
        run = []
        for t in stream:
            run.append(engine.assess(t, store.history_for(t)).score)
            store.record(t)
        scores.append(run)
    assert scores[0] == scores[1]


def test_a_forced_band_applies_with_a_model_too(default_model):
    config = load_config({"rules": {"merchant_category": {"force": "review"}}})
    quiet = txn(1, T0, 42.0, merchant_category="grocery_pos", local_hour=12)  # risky category 0.8 by default
    assessment = Engine(config, default_model).assess(quiet, empty())
    assert assessment.decision in ("review", "alert") and "RISKY_CATEGORY" in assessment.codes
