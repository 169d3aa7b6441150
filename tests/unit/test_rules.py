"""Each rule of the registry: fires when it should, stays quiet otherwise, and explains itself.

Each test builds one rule from a rules document (its settings, and the ``features`` section where the rule's
features depend on it) and evaluates it on the features of a transaction, as the engine does. Thresholds are set
explicitly here: the defaults are calibrated elsewhere and will change.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from fraud import features, rules
from fraud.config import load_config
from fraud.features import extract
from fraud.history import Item, UserHistory
from fraud.rules import RULES, Reason, Rule

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def txn(ts: int, amount: float = 50.0, category: str = "grocery_pos", **extra) -> dict:
    return {
        "transaction_id": f"t{ts}",
        "user_id": "u1",
        "timestamp": ts,
        "amount": amount,
        "merchant_category": category,
        "merchant_id": "m1",
        **extra,
    }


def history(*txns: dict, now: int | None = None, window_ms: int = 30 * DAY) -> UserHistory:
    h = UserHistory(window_ms, 500)
    for t in txns:
        h.add(t)
    h.advance(now if now is not None else max([t["timestamp"] for t in txns], default=T0) + 1)
    return h


def cfg(rule: str, feature_settings: dict | None = None, **settings) -> Rule:
    """The rule ``rule`` with ``settings`` (and a ``features`` section) merged over the defaults."""
    config = load_config({"features": feature_settings or {}, "rules": {rule: settings}})
    common, own = config.rules[rule]
    return RULES[rule](common, own, config.features)


def run(rule: Rule, transaction: dict, history: UserHistory) -> Reason | None:
    """Evaluate ``rule`` on the features of ``transaction`` against ``history``, as the engine does."""
    item = Item(transaction)
    return rule.evaluate(item, extract(item, history, rule.spec), history)


def test_ramp_and_haversine():
    assert rules.ramp(1, 2, 4) == 0 and rules.ramp(3, 2, 4) == 0.5 and rules.ramp(9, 2, 4) == 1
    assert features.haversine_km(40.7128, -74.006, 51.5074, -0.1278) == pytest.approx(5570, rel=0.01)


# -- amount anomaly --------------------------------------------------------------------------------

AMOUNT = dict(weight=40, low_weight=10, z_start=2.0, z_full=4.0, min_amount=1.0)
BASELINE = {
    "amount": {
        "prior_strength": 3.0,
        "min_spread": 0.2,
        "prior": {"typical": 50.0, "spread": 1.0, "high": 1000.0},
        "categories": {"grocery_pos": {"typical": 60.0, "spread": 0.5, "high": 250.0}},
    }
}


def steady_grocery(n: int = 30, amount: float = 100.0) -> UserHistory:
    # amounts 90..110: this user's grocery spend is about 100, tightly
    return history(*[txn(T0 + i * HOUR, amount * (0.9 + 0.2 * (i % 5) / 4)) for i in range(n)])


def test_amount_anomaly_fires_far_above_the_users_own_typical():
    reason = run(cfg("amount_anomaly", BASELINE, **AMOUNT), txn(T0 + 40 * HOUR, 912.40), steady_grocery())
    assert reason.code == "AMOUNT_ANOMALY" and reason.score == 40
    assert "amount 912.40 is" in reason.explanation and "x this user's typical" in reason.explanation
    assert "for grocery_pos" in reason.explanation


def test_amount_anomaly_quiet_for_a_usual_amount():
    assert run(cfg("amount_anomaly", BASELINE, **AMOUNT), txn(T0 + 40 * HOUR, 105.0), steady_grocery()) is None


def test_amount_anomaly_learns_the_user_not_the_population():
    # 300 is 5x the grocery prior (60) but usual for a user who always spends about 300.
    c = cfg("amount_anomaly", BASELINE, **AMOUNT)
    assert run(c, txn(T0, 300.0), history()) is not None
    assert run(c, txn(T0 + 40 * HOUR, 300.0), steady_grocery(amount=300.0)) is None


def test_amount_anomaly_short_history_is_shrunk_toward_the_prior():
    # One earlier transaction of 20 must not make 60 (the category's typical amount) an anomaly.
    c = cfg("amount_anomaly", BASELINE, **AMOUNT)
    assert run(c, txn(T0 + HOUR, 60.0), history(txn(T0, 20.0))) is None


def test_amount_anomaly_unknown_category_uses_the_users_overall_level():
    c = cfg("amount_anomaly", BASELINE, **AMOUNT)
    reason = run(c, txn(T0 + 40 * HOUR, 5000.0, "jewelry"), steady_grocery())
    assert reason is not None and "for jewelry" in reason.explanation


def test_amount_anomaly_far_below_uses_the_low_weight():
    reason = run(cfg("amount_anomaly", BASELINE, **AMOUNT), txn(T0 + 40 * HOUR, 2.0), steady_grocery())
    assert reason is not None and reason.score == 10 and "1/" in reason.explanation
    quiet = cfg("amount_anomaly", BASELINE, **{**AMOUNT, "low_weight": 0})
    assert run(quiet, txn(T0 + 40 * HOUR, 2.0), steady_grocery()) is None


def test_amount_baseline_is_the_users_log_mean_with_enough_history():
    spec = load_config({"features": {"amount": {**BASELINE["amount"], "prior_strength": 0.001}}}).features
    mu, sd, n = features.baseline("grocery_pos", history(*[txn(T0 + i, 100.0) for i in range(10)]), spec)
    assert n == 10 and math.exp(mu) == pytest.approx(100.0, rel=1e-3) and sd == 0.2  # min_spread


# -- high amount -----------------------------------------------------------------------------------


def test_high_amount_grows_between_start_and_full():
    # "jewelry" has no per-category thresholds (in the defaults either): the global ones apply
    c = cfg("high_amount", weight=30, start=1000.0, full=3000.0)
    assert run(c, txn(T0, 999.0, "jewelry"), history()) is None
    reason = run(c, txn(T0, 2000.0, "jewelry"), history())
    assert reason.code == "HIGH_AMOUNT" and reason.score == 15
    assert "2,000.00" in reason.explanation and "1,000.00" in reason.explanation
    assert run(c, txn(T0, 9000.0, "jewelry"), history()).score == 30


def test_high_amount_per_category_thresholds():
    c = cfg(
        "high_amount", weight=30, start=1000.0, full=3000.0, categories={"grocery_pos": {"start": 250.0, "full": 350.0}}
    )
    reason = run(c, txn(T0, 300.0, "grocery_pos"), history())
    assert reason.score == 15 and "250.00 for grocery_pos" in reason.explanation
    assert run(c, txn(T0, 300.0, "jewelry"), history()) is None


# -- velocity --------------------------------------------------------------------------------------

VELOCITY = dict(
    weight=30,
    min_history=5,
    windows=[
        {"window": "1h", "max_count": 3, "max_amount": 1000.0, "baseline_factor": 0},
        {"window": "24h", "max_count": 50, "max_amount": 100000.0, "baseline_factor": 3.0},
    ],
)


def test_velocity_count_in_a_window():
    c = cfg("velocity", **VELOCITY)
    recent = [txn(T0 + i * 60_000, 10.0) for i in range(5)]  # 5 in 5 minutes
    reason = run(c, txn(T0 + 6 * 60_000, 10.0), history(*recent))
    assert reason.code == "VELOCITY" and reason.score == 30  # 6 / 3 = twice the limit: full weight
    assert "6 transactions totalling 60.00 in the last 1h" in reason.explanation


def test_velocity_quiet_when_spread_out():
    c = cfg("velocity", **VELOCITY)
    spread = [txn(T0 + i * 2 * HOUR, 10.0) for i in range(5)]
    assert run(c, txn(T0 + 11 * HOUR, 10.0), history(*spread)) is None


def test_velocity_sum_in_a_window():
    c = cfg("velocity", **VELOCITY)
    reason = run(c, txn(T0 + 60_000, 900.0), history(txn(T0, 600.0)))
    assert reason is not None and "1,500.00" in reason.explanation


def test_velocity_count_against_the_users_own_rate():
    c = cfg(
        "velocity",
        {"windows": {"1h": 3 * 3600, "24h": 86400, "7d": 604800}},  # the first window is 3 hours long here
        weight=30,
        min_history=5,
        windows=[{"window": "1h", "max_count": 100, "max_amount": 100000.0, "baseline_factor": 2.0}],
    )
    usual = [txn(T0 + d * DAY, 50.0) for d in range(20)]  # one a day: 0.125 per 3 hours
    burst = [txn(T0 + 20 * DAY + i * 20 * 60_000, 50.0) for i in range(3)]
    reason = run(c, txn(T0 + 20 * DAY + HOUR + 60_000, 50.0), history(*usual, *burst))
    assert reason is not None and reason.score == 30  # 4 >= twice 2 x max(0.125, 1)
    assert reason.explanation.startswith("4 transactions in the last 1h, this user's typical is")
    assert run(c, txn(T0 + 20 * DAY + 60_000, 50.0), history(*usual)) is None


def test_velocity_against_the_users_own_daily_spend():
    c = cfg("velocity", **VELOCITY)
    usual = [txn(T0 + d * DAY, 50.0) for d in range(20)]  # 50 a day for 20 days
    spree = [txn(T0 + 20 * DAY + i * 2 * HOUR, 150.0) for i in range(3)]
    reason = run(c, txn(T0 + 20 * DAY + 7 * HOUR, 150.0), history(*usual, *spree))
    assert reason is not None and "this user's typical" in reason.explanation and "per 24h" in reason.explanation


# -- spree ------------------------------------------------------------------------------------------


def test_spree_counts_earlier_unusual_night_transactions():
    night = {"night": {"hours": [23, 0, 1], "window_seconds": 86400, "z_min": 3.0}}
    c = cfg("spree", {**BASELINE, **night}, weight=40, full_count=2)
    earlier = [
        txn(T0, 300.0, local_hour=23),  # high for grocery_pos, at a risky hour: counts
        txn(T0 + HOUR, 1200.0, "travel", local_hour=0),  # high, risky hour: counts
        txn(T0 + 2 * HOUR, 1500.0, "travel", local_hour=12),  # high but at noon: does not count
    ]
    reason = run(c, txn(T0 + 3 * HOUR, 12.0, local_hour=1), history(*earlier))
    assert reason.code == "SPREE" and reason.score == 40
    assert reason.explanation.startswith("2 earlier transaction(s) in the last 24.0 h at risky hours")
    assert run(c, txn(T0 + 30 * HOUR, 12.0), history(*earlier, now=T0 + 30 * HOUR)) is None  # too old
    assert run(c, txn(T0 + HOUR, 5000.0, local_hour=23), history(txn(T0, 50.0, local_hour=23))) is None


# -- card testing ----------------------------------------------------------------------------------

CARD = dict(weight=50, min_count=3, full_count=5)
SMALL = {"small_amount": {"max_amount": 2.0, "window_seconds": 600}}


def test_card_testing_burst_of_small_amounts():
    c = cfg("card_testing", SMALL, **CARD)
    probes = [txn(T0 + i * 30_000, 1.0) for i in range(3)]
    reason = run(c, txn(T0 + 100_000, 1.5), history(*probes))
    assert reason.code == "CARD_TESTING" and reason.score == pytest.approx(50 * 2 / 3)
    assert reason.explanation == "4 transactions of at most 2.00 within 10 min"


def test_card_testing_quiet_for_few_or_old_small_amounts():
    c = cfg("card_testing", SMALL, **CARD)
    assert run(c, txn(T0 + 60_000, 1.0), history(txn(T0, 1.0))) is None
    old = [txn(T0 + i * 1000, 1.0) for i in range(5)]
    assert run(c, txn(T0 + HOUR, 1.0), history(*old, now=T0 + HOUR)) is None


# -- impossible travel -----------------------------------------------------------------------------

TRAVEL = dict(weight=50, max_speed_kmh=900.0, full_speed_kmh=1800.0, min_distance_km=100.0)
NEW_YORK = {"lat": 40.7128, "lon": -74.006}
LONDON = {"lat": 51.5074, "lon": -0.1278}


def test_impossible_travel_fires_for_new_york_to_london_in_an_hour():
    c = cfg("impossible_travel", **TRAVEL)
    reason = run(c, txn(T0 + HOUR, location=LONDON), history(txn(T0, location=NEW_YORK)))
    assert reason.code == "IMPOSSIBLE_TRAVEL" and reason.score == 50
    assert "5,5" in reason.explanation and "60 min" in reason.explanation


def test_impossible_travel_quiet_for_a_flight_or_a_short_hop():
    c = cfg("impossible_travel", **TRAVEL)
    assert run(c, txn(T0 + 8 * HOUR, location=LONDON), history(txn(T0, location=NEW_YORK))) is None
    near = {"lat": 40.80, "lon": -74.10}
    assert run(c, txn(T0 + 60_000, location=near), history(txn(T0, location=NEW_YORK))) is None
    assert run(c, txn(T0 + 60_000), history(txn(T0, location=NEW_YORK))) is None


def test_impossible_travel_uses_the_last_located_transaction():
    c = cfg("impossible_travel", **TRAVEL)
    h = history(txn(T0, location=NEW_YORK), txn(T0 + 7 * HOUR, location=LONDON), txn(T0 + 8 * HOUR))
    assert run(c, txn(T0 + 9 * HOUR, location=LONDON), h) is None


# -- first use of a country or device --------------------------------------------------------------


def test_new_country_after_enough_history():
    c = cfg("new_country", weight=25, min_history=3)
    h = history(*[txn(T0 + i, country="US") for i in range(3)])
    reason = run(c, txn(T0 + HOUR, country="FR"), h)
    assert (
        reason.code == "NEW_COUNTRY"
        and reason.score == 25
        and "FR" in reason.explanation
        and "US" in reason.explanation
    )
    assert run(c, txn(T0 + HOUR, country="US"), h) is None
    assert run(c, txn(T0 + HOUR, country="FR"), history(txn(T0, country="US"))) is None
    assert run(c, txn(T0 + HOUR), h) is None


def test_new_device_after_enough_history():
    c = cfg("new_device", weight=20, min_history=3)
    h = history(*[txn(T0 + i, device_id="d1") for i in range(3)])
    reason = run(c, txn(T0 + HOUR, device_id="d2"), h)
    assert reason.code == "NEW_DEVICE" and reason.score == 20 and "1 known device" in reason.explanation
    assert run(c, txn(T0 + HOUR, device_id="d1"), h) is None
    assert run(c, txn(T0 + HOUR, device_id="d2"), history(txn(T0, device_id="d1"))) is None


# -- merchant category -----------------------------------------------------------------------------


def test_risky_category_scales_with_its_risk():
    c = cfg("merchant_category", weight=20, risk={"shopping_net": 1.0, "travel": 0.5, "home": 0.0})
    assert run(c, txn(T0, category="shopping_net"), history()).score == 20
    reason = run(c, txn(T0, category="travel"), history())
    assert reason.score == 10 and "travel" in reason.explanation
    assert run(c, txn(T0, category="home"), history()) is None


# -- unusual hour ----------------------------------------------------------------------------------

HOURLY = dict(weight=25, min_history=10, max_share=0.02)
HOUR_PRIOR = {"hour_prior_strength": 2.0}


def daytime_user(n: int = 40) -> UserHistory:
    return history(*[txn(T0 + d * HOUR, local_hour=9 + d % 8) for d in range(n)])  # 09:00-16:59


def test_unusual_hour_fires_at_night_for_a_daytime_user():
    reason = run(cfg("unusual_hour", HOUR_PRIOR, **HOURLY), txn(T0 + 41 * HOUR, local_hour=3), daytime_user())
    assert reason.code == "UNUSUAL_HOUR" and 0 < reason.score <= 25
    assert reason.explanation.startswith("03:00-03:59 is unusual") and "0 of 40" in reason.explanation


def test_unusual_hour_quiet_at_a_usual_hour_or_with_short_history():
    c = cfg("unusual_hour", HOUR_PRIOR, **HOURLY)
    assert run(c, txn(T0 + 41 * HOUR, local_hour=12), daytime_user()) is None
    assert run(c, txn(T0 + 41 * HOUR, local_hour=3), daytime_user(5)) is None


def test_hour_defaults_to_utc_from_the_timestamp():
    utc_hour = (T0 // HOUR) % 24  # 22
    h = history(*[txn(T0 - d * DAY + 14 * HOUR) for d in range(1, 30)])  # always 12:13 UTC
    reason = run(cfg("unusual_hour", HOUR_PRIOR, **HOURLY), txn(T0), h)
    assert reason is not None and reason.explanation.startswith(f"{utc_hour:02d}:00")


def test_hour_is_local_with_utc_offset_minutes_and_local_hour_wins():
    c = cfg("risky_hour", weight=20, risk={"23": 1.0, "2": 0.5, "12": 0.0})
    utc_hour = (T0 // HOUR) % 24  # 22
    assert Item(txn(T0)).hour == utc_hour
    assert Item(txn(T0, utc_offset_minutes=-300)).hour == 17  # New York in winter
    assert Item(txn(T0, utc_offset_minutes=330)).hour == 3  # 22:13 UTC is 03:43 in India
    assert Item(txn(T0, utc_offset_minutes=240)).hour == 2  # past midnight: the next day's hour
    assert Item(txn(T0 + 2 * HOUR, utc_offset_minutes=-720)).hour == 12
    assert Item(txn(T0, utc_offset_minutes=-300, local_hour=23)).hour == 23  # explicit local_hour wins
    assert Item(txn(T0, utc_offset_minutes=Decimal(240))).hour == 2  # as read back from DynamoDB
    assert run(c, txn(T0, utc_offset_minutes=240), history()).score == 10
    assert run(c, txn(T0 + 2 * HOUR, utc_offset_minutes=-720), history()) is None  # noon


# -- risky hour ------------------------------------------------------------------------------------


def test_risky_hour_scales_with_the_hours_risk():
    c = cfg("risky_hour", weight=20, risk={"23": 1.0, "2": 0.5, "12": 0.0})
    assert run(c, txn(T0, local_hour=23), history()).score == 20
    reason = run(c, txn(T0, local_hour=2), history())
    assert reason.code == "RISKY_HOUR" and reason.score == 10 and reason.explanation.startswith("02:00-02:59")
    assert run(c, txn(T0, local_hour=12), history()) is None
