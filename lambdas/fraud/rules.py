"""The scoring rules: small pure functions ``rule(item, history, cfg) -> Reason | None``.

Each rule looks at one transaction (an ``Item``) against the user's history *before* it and returns a
``Reason`` (code, score contribution between 0 and the rule's ``weight``, explanation) or ``None``.
Graded rules grow linearly from 0 at a ``start`` threshold to the full weight at a ``full``
threshold, so a score moves smoothly with the evidence (which also keeps calibration smooth).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from fraud.config import (
    AmountAnomalyConfig,
    CardTestingConfig,
    FirstUseConfig,
    HighAmountConfig,
    ImpossibleTravelConfig,
    MerchantCategoryConfig,
    RiskyHourConfig,
    SpreeConfig,
    UnusualHourConfig,
    VelocityConfig,
)
from fraud.history import HOUR_MS, Item, UserHistory

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180


class Reason(NamedTuple):
    """Why a rule fired: a reason code, its score contribution and a human-readable explanation.

    Immutable (a named tuple: as cheap to build as a tuple, the engine makes one per fired rule).
    """

    code: str
    score: float
    explanation: str


def ramp(value: float, start: float, full: float) -> float:
    """0 at or below ``start``, 1 at or above ``full``, linear in between."""
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


def money(value: float) -> str:
    return f"{value:,.2f}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _duration(ms: float) -> str:
    minutes = ms / 60_000
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def amount_baseline(item: Item, history: UserHistory, cfg: AmountAnomalyConfig) -> tuple[float, float, int]:
    """(mean, standard deviation, own count) of log(amount) expected for this user and category.

    The user's own amounts in the category are shrunk toward a prior, with ``prior_strength`` pseudo
    transactions: the population prior of the category when configured, otherwise the user's overall
    amounts (themselves shrunk toward the global prior). A user with no history gets the prior; a
    user with many transactions gets their own behaviour.
    """
    k = cfg.prior_strength
    prior = cfg.category_priors.get(item.category)  # type: ignore[arg-type]
    if prior is None:
        n, mean, var = history.log_stats(overall=True)
        prior_mu = (n * mean + k * cfg.prior.mu) / (n + k)
        prior_var = (n * var + k * cfg.prior.variance) / (n + k)
    else:
        prior_mu, prior_var = prior.mu, prior.variance
    stats = history.categories.get(item.category)
    if stats is None:
        return prior_mu, max(math.sqrt(prior_var), cfg.min_spread), 0
    n, log_sum, log_sq_sum = stats
    # n * mean = log_sum and n * var = log_sq_sum - n * mean ** 2
    mu = (log_sum + k * prior_mu) / (n + k)
    own_var = max(log_sq_sum - log_sum * log_sum / n, 0.0)
    sd = math.sqrt((own_var + k * prior_var) / (n + k))
    return mu, max(sd, cfg.min_spread), n


def amount_anomaly(item: Item, history: UserHistory, cfg: AmountAnomalyConfig) -> Reason | None:
    """Amount far above (or, with a smaller weight, far below) this user's usual for the category."""
    if item.amount < cfg.min_amount:
        return None
    mu, sd, own = amount_baseline(item, history, cfg)
    z = (item.log_amount - mu) / sd
    weight = cfg.weight if z > 0 else cfg.low_weight
    strength = ramp(abs(z), cfg.z_start, cfg.z_full)
    if strength == 0.0 or weight == 0:
        return None
    typical = math.exp(mu)
    whose = "this user's typical" if own else "the typical"
    relation = f"{item.amount / typical:.1f}x" if z > 0 else f"1/{typical / item.amount:.1f} of"
    return Reason(
        "AMOUNT_ANOMALY",
        weight * strength,
        f"amount {money(item.amount)} is {relation} {whose} {money(typical)} for {item.category}"
        f" ({abs(z):.1f} standard deviations, {own} earlier transactions in the category)",
    )


def high_amount(item: Item, history: UserHistory, cfg: HighAmountConfig) -> Reason | None:
    """An absolutely high amount, whatever the user's history (thresholds per category if configured)."""
    start, full = cfg.categories.get(item.category) or (cfg.start, cfg.full)  # type: ignore[arg-type]
    strength = ramp(item.amount, start, full)
    if strength == 0.0:
        return None
    where = f" for {item.category}" if item.category in cfg.categories else ""
    return Reason(
        "HIGH_AMOUNT",
        cfg.weight * strength,
        f"amount {money(item.amount)} is above the high-amount threshold {money(start)}{where}",
    )


def velocity(item: Item, history: UserHistory, cfg: VelocityConfig) -> Reason | None:
    """Too many transactions or too much spent in a sliding window (this transaction included).

    Each window compares its count and sum with absolute limits and, when ``baseline_factor`` > 0 and
    the user has ``min_history`` transactions, with ``baseline_factor`` times the user's own typical
    count and spend over such a window (at least one transaction of the user's average amount). The
    window and measure furthest over its limit count: the contribution starts at the limit and is full
    at twice the limit.
    """
    best = 0.0
    best_text = ""
    for w in cfg.windows:
        window = history.window(w.span_ms)
        count = window.count + 1
        total = window.cents / 100 + item.amount
        ratio, kind = count / w.max_count, 0
        if total / w.max_amount > ratio:
            ratio, kind = total / w.max_amount, 1
        if w.baseline_factor and len(history.items) >= cfg.min_history:
            n = len(history.items)
            typical_count = n * w.span_ms / max(history.now_ms - history.items[0].ts, w.span_ms)
            # At least one average transaction: one purchase is never a spike of a short window.
            typical_total = history.amount_cents / 100 / n * max(typical_count, 1.0)
            if count / (w.baseline_factor * max(typical_count, 1.0)) > ratio:
                ratio, kind = count / (w.baseline_factor * max(typical_count, 1.0)), 2
            if typical_total > 0 and total / (w.baseline_factor * typical_total) > ratio:
                ratio, kind = total / (w.baseline_factor * typical_total), 3
        if ratio - 1.0 > best:
            best = min(ratio - 1.0, 1.0)
            if kind == 3:
                best_text = (
                    f"{money(total)} spent in the last {w.name} ({count} transactions),"
                    f" {total / typical_total:.1f}x this user's typical {money(typical_total)} per {w.name}"
                )
            elif kind == 2:
                best_text = (
                    f"{count} transactions in the last {w.name}, this user's typical is"
                    f" {typical_count:.1f} per {w.name}"
                )
            else:
                best_text = (
                    f"{count} transactions totalling {money(total)} in the last {w.name}"
                    f" (limits {w.max_count} transactions, {money(w.max_amount)})"
                )
    if best == 0.0:
        return None
    return Reason("VELOCITY", cfg.weight * best, best_text)


def card_testing(item: Item, history: UserHistory, cfg: CardTestingConfig) -> Reason | None:
    """A burst of small amounts (typical of testing a stolen card before using it)."""
    count = history.window(cfg.window_ms, cfg.max_amount).count + (1 if item.amount <= cfg.max_amount else 0)
    if count < cfg.min_count:
        return None
    strength = (count - cfg.min_count + 1) / (cfg.full_count - cfg.min_count + 1)
    return Reason(
        "CARD_TESTING",
        cfg.weight * min(strength, 1.0),
        f"{count} transactions of at most {money(cfg.max_amount)} within {_duration(cfg.window_ms)}",
    )


def impossible_travel(item: Item, history: UserHistory, cfg: ImpossibleTravelConfig) -> Reason | None:
    """The distance from the previous located transaction needs a speed no traveller reaches."""
    last = history.last_located
    if last is None or item.lat is None:
        return None
    # Cheap upper bound first (along the meridian, then along the parallel): most pairs are close.
    if (abs(item.lat - last.lat) + abs(item.lon - last.lon)) * KM_PER_DEGREE < cfg.min_distance_km:
        return None
    distance = haversine_km(last.lat, last.lon, item.lat, item.lon)  # type: ignore[arg-type]
    if distance < cfg.min_distance_km:
        return None
    elapsed_ms = max(item.ts - last.ts, 1)
    speed = distance / (elapsed_ms / HOUR_MS)
    strength = ramp(speed, cfg.max_speed_kmh, cfg.full_speed_kmh)
    if strength == 0.0:
        return None
    return Reason(
        "IMPOSSIBLE_TRAVEL",
        cfg.weight * strength,
        f"{distance:,.0f} km from the previous transaction {_duration(elapsed_ms)} earlier"
        f" ({min(speed, 99_999):,.0f} km/h, more than {cfg.max_speed_kmh:,.0f} km/h)",
    )


def new_country(item: Item, history: UserHistory, cfg: FirstUseConfig) -> Reason | None:
    """First transaction from a country for a user with enough history that carries a country."""
    if item.country is None or history.country_count < cfg.min_history or item.country in history.countries:
        return None
    known = ", ".join(sorted(history.countries)[:5])
    return Reason("NEW_COUNTRY", cfg.weight, f"first transaction from {item.country}; earlier ones were from {known}")


def new_device(item: Item, history: UserHistory, cfg: FirstUseConfig) -> Reason | None:
    """First transaction from a device for a user with enough history that carries a device."""
    if item.device is None or history.device_count < cfg.min_history or item.device in history.devices:
        return None
    return Reason(
        "NEW_DEVICE",
        cfg.weight,
        f"first transaction from this device; {len(history.devices)} known device(s)"
        f" over {history.device_count} earlier transactions",
    )


def merchant_category(item: Item, history: UserHistory, cfg: MerchantCategoryConfig) -> Reason | None:
    """A merchant category with a configured risk (0..1)."""
    risk = cfg.risk.get(item.category, 0.0)  # type: ignore[arg-type]
    if risk <= 0:
        return None
    return _category_reason(item.category, risk, cfg.weight)


@functools.lru_cache(maxsize=1024)
def _category_reason(category: str, risk: float, weight: float) -> Reason:
    return Reason("RISKY_CATEGORY", weight * risk, f"merchant category {category} has risk {risk:.2f}")


def hour_share(history: UserHistory, hour: int, prior_strength: float) -> float:
    """Share of the user's transactions in ``hour`` (half weight to the neighbouring hours),
    shrunk toward a uniform day with ``prior_strength`` pseudo transactions."""
    counts = history.hour_counts
    near = counts[hour] + 0.5 * (counts[hour - 1] + counts[(hour + 1) % 24])
    return (near / 2 + prior_strength / 24) / (history.count + prior_strength)


def unusual_hour(item: Item, history: UserHistory, cfg: UnusualHourConfig) -> Reason | None:
    """A time of day at which this user (almost) never transacts."""
    if len(history.items) < cfg.min_history:
        return None
    share = hour_share(history, item.hour, cfg.prior_strength)
    strength = 1.0 - share / cfg.max_share
    if strength <= 0.0:
        return None
    seen = history.hour_counts[item.hour]
    return Reason(
        "UNUSUAL_HOUR",
        cfg.weight * strength,
        f"{item.hour:02d}:00-{item.hour:02d}:59 is unusual for this user:"
        f" {seen} of {history.count} earlier transactions in that hour",
    )


def risky_hour(item: Item, history: UserHistory, cfg: RiskyHourConfig) -> Reason | None:
    """An hour of day with a configured risk (0..1) for everyone, e.g. the small hours."""
    risk = cfg.risk[item.hour]
    if risk <= 0:
        return None
    return _hour_reason(item.hour, risk, cfg.weight)


@functools.lru_cache(maxsize=256)
def _hour_reason(hour: int, risk: float, weight: float) -> Reason:
    return Reason("RISKY_HOUR", weight * risk, f"{hour:02d}:00-{hour:02d}:59 has risk {risk:.2f}")


def spree(item: Item, history: UserHistory, cfg: SpreeConfig) -> Reason | None:
    """Earlier unusual transactions on the card within a short window: a stolen card being used up.

    An earlier transaction of the last ``window_ms`` is unusual when it happened at an hour whose
    ``risky_hour`` risk is at least ``min_hour_risk`` and its amount was either at least the
    ``high_amount`` start for its category or ``z_min`` standard deviations or more from this user's
    usual for the category (either way, against the ``amount_anomaly`` baseline). The contribution
    grows with their count: full weight at ``full_count``. Costs the window's items at risky hours
    (the history keeps that window up to date), and one baseline per category among them.
    """
    z_min = cfg.z_min
    category_high, default_start = cfg.high.categories, cfg.high.start
    baselines: dict = {}  # category -> (mu, sd): the baseline depends on the category only
    count = 0
    # The history keeps the window's items at risky hours (hour_risk >= min_hour_risk) up to date.
    for earlier in history.window(cfg.window_ms, None, cfg.hours).items:
        bounds = category_high.get(earlier.category)  # type: ignore[arg-type]
        if earlier.amount >= (bounds[0] if bounds else default_start):
            count += 1
            continue
        baseline = baselines.get(earlier.category)
        if baseline is None:
            baseline = baselines[earlier.category] = amount_baseline(earlier, history, cfg.amount)[:2]
        if abs(earlier.log_amount - baseline[0]) >= z_min * baseline[1]:
            count += 1
    if count == 0:
        return None
    return spree_reason(count, cfg)


def spree_reason(count: int, cfg: SpreeConfig) -> Reason:
    """The ``SPREE`` reason for ``count`` earlier unusual transactions (depends on nothing else)."""
    return Reason(
        "SPREE",
        cfg.weight * min(count / cfg.full_count, 1.0),
        f"{count} earlier transaction(s) in the last {_duration(cfg.window_ms)} at risky hours"
        f" with unusual amounts for their category",
    )
