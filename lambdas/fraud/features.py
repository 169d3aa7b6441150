"""The named feature vector of a transaction against the user's history: what the rules and the model read.

One definition for every consumer: the rules of ``fraud.rules`` read these features, the model reads the same
vector, and detect-fraud, the backtest and the trainer all call ``extract``. Features only use what was known
before the transaction: its own fields and the user's history strictly before it (``fraud.history``), so a
transaction's features do not depend on anything that comes after it.

The parameters that shape the features (the windows, the amount baselines, what a small amount and a night are)
are the ``features`` section of the rules document, read into a ``FeatureSpec``. A model artifact keeps the spec it
was trained with and is always fed features computed with that spec (``fraud.engine``), so changing the document's
``features`` section never feeds a model features it was not trained on.

Numeric features are floats; "not known" (no history, no location, no country) is NaN. ``category`` is the one
categorical feature (a string or None). ``describe`` turns a feature into plain words for an alert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from fraud.document import ConfigError, Section, ordered
from fraud.history import HOUR_MS, LOG_SCALE, Item, UserHistory

NAN = math.nan
DAY_MS = 86_400_000
EARTH_RADIUS_KM = 6371.0088
WINDOW_NAMES = ("1h", "24h", "7d")
"""The sliding windows every spec defines (their lengths are the spec's): count_<name> and sum_<name>."""

FEATURE_NAMES: tuple[str, ...] = (
    # the transaction itself
    "amount",
    "log_amount",
    "category",
    "hour",
    "night",
    # against the card's own amounts (the amount baseline of the category, shrunk toward a prior)
    "amount_z",
    "typical_amount",
    "amount_over_typical",
    "amount_over_high",
    "category_count",
    "category_share",
    # the history as a whole
    "history_count",
    "history_span_ms",
    "mean_amount",
    "amount_over_mean",
    "seconds_since_last",
    # sliding windows before the transaction
    "count_1h",
    "sum_1h",
    "count_24h",
    "sum_24h",
    "count_7d",
    "sum_7d",
    "small_amounts",
    "night_count",
    "night_unusual",
    # place, device, time of day
    "travel_km",
    "travel_kmh",
    "new_country",
    "country_history",
    "new_device",
    "device_history",
    "device_count",
    "hour_share",
)
CATEGORICAL = frozenset({"category"})


class AmountPrior(NamedTuple):
    typical: float  # typical (median) amount
    spread: float  # standard deviation of log(amount)
    high: float  # a high amount for the category (the night_unusual feature counts those)
    mu: float  # log(typical)
    variance: float  # spread ** 2
    sd: float  # spread, at least the spec's min_spread


class FeatureSpec(NamedTuple):
    """The parameters of every feature (the ``features`` section of the rules document)."""

    windows_ms: tuple[int, ...]  # lengths of WINDOW_NAMES, in order
    prior_strength: float  # pseudo-transactions of the prior in the amount baselines
    min_spread: float  # lower bound of a baseline's standard deviation of log(amount)
    prior: AmountPrior  # for a category without a prior of its own
    categories: Mapping[str, AmountPrior]  # category -> its population prior
    small_amount: float  # small_amounts counts amounts at most this ...
    small_window_ms: int  # ... within this window (this transaction included)
    night_hours: frozenset[int]  # local hours that are "night"
    night_window_ms: int  # night_count / night_unusual look back this far
    night_z_min: float  # an earlier night transaction is unusual at |z| >= this (or at a high amount)
    hour_prior_strength: float  # pseudo-transactions of a uniform day in hour_share
    # Derived: the history's window keys (span_ms, max_amount, hours) of the 1h, 24h and 7d windows, the small
    # amounts and the night, in that order (extract reads them without building the keys every time).
    window_keys: tuple[tuple[int, float | None, frozenset[int] | None], ...] = ()

    @classmethod
    def parse(cls, s: Section) -> FeatureSpec:
        """Read and validate the ``features`` section (``s.done()`` is called)."""
        windows = s.section("windows")
        windows_ms = tuple(windows.milliseconds(name) for name in WINDOW_NAMES)
        windows.done()
        amount = s.section("amount")
        min_spread = amount.positive("min_spread")

        def prior(p: Section) -> AmountPrior:
            typical, spread, high = p.positive("typical"), p.positive("spread"), p.positive("high")
            p.done()
            return AmountPrior(typical, spread, high, math.log(typical), spread**2, max(spread, min_spread))

        spec_prior = prior(amount.section("prior"))
        categories = {name: prior(section) for name, section in amount.sections("categories").items()}
        prior_strength = amount.positive("prior_strength")
        amount.done()
        small = s.section("small_amount")
        small_amount, small_window_ms = small.positive("max_amount"), small.milliseconds("window_seconds")
        small.done()
        night = s.section("night")
        hours = night.raw("hours")
        if not isinstance(hours, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in hours):
            raise ConfigError(night.key("hours"), "must be a list of hours of day, 0 to 23")
        if any(not 0 <= h <= 23 for h in hours) or len(set(hours)) != len(hours):
            raise ConfigError(night.key("hours"), "must be distinct hours of day, 0 to 23")
        night_window_ms = night.milliseconds("window_seconds")
        night_z_min = night.number("z_min", minimum=0)
        night.done()
        spec = cls(
            windows_ms=windows_ms,
            prior_strength=prior_strength,
            min_spread=min_spread,
            prior=spec_prior,
            categories=categories,
            small_amount=small_amount,
            small_window_ms=small_window_ms,
            night_hours=frozenset(hours),
            night_window_ms=night_window_ms,
            night_z_min=night_z_min,
            hour_prior_strength=s.number("hour_prior_strength", minimum=0),
        )
        spec = spec._replace(
            window_keys=(
                *((ms, None, None) for ms in windows_ms),
                (small_window_ms, small_amount, None),
                (night_window_ms, None, spec.night_hours),
            )
        )
        for i in range(len(WINDOW_NAMES) - 1):  # each window longer than the one before
            ordered(s.key("windows"), windows_ms[i], windows_ms[i + 1], WINDOW_NAMES[i], WINDOW_NAMES[i + 1])
        s.done()
        return spec

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> FeatureSpec:
        """A spec from a ``features`` section on its own (e.g. the one a model artifact keeps)."""
        return cls.parse(Section(document, "features"))

    def to_document(self) -> dict[str, Any]:
        """The ``features`` section this spec was read from (``from_document(to_document())`` is equal)."""

        def prior(p: AmountPrior) -> dict[str, float]:
            return {"typical": p.typical, "spread": p.spread, "high": p.high}

        return {
            "windows": {name: ms // 1000 for name, ms in zip(WINDOW_NAMES, self.windows_ms, strict=True)},
            "amount": {
                "prior_strength": self.prior_strength,
                "min_spread": self.min_spread,
                "prior": prior(self.prior),
                "categories": {name: prior(p) for name, p in sorted(self.categories.items())},
            },
            "small_amount": {"max_amount": self.small_amount, "window_seconds": self.small_window_ms // 1000},
            "night": {
                "hours": sorted(self.night_hours),
                "window_seconds": self.night_window_ms // 1000,
                "z_min": self.night_z_min,
            },
            "hour_prior_strength": self.hour_prior_strength,
        }

    def window_ms(self, name: str) -> int:
        return self.windows_ms[WINDOW_NAMES.index(name)]


def baseline(category: str | None, history: UserHistory, spec: FeatureSpec) -> tuple[float, float, int]:
    """(mean, standard deviation, own count) of log(amount) expected for this user and category.

    The user's own amounts in the category are shrunk toward a prior with ``prior_strength`` pseudo
    transactions: the category's population prior when the spec has one, otherwise the user's overall amounts
    (themselves shrunk toward the spec's prior). A user with no history gets the prior; a user with many
    transactions gets their own behaviour. Sums are exact integers (``fraud.history``), so the result does not
    depend on how the history was built.
    """
    k = spec.prior_strength
    prior = spec.categories.get(category)  # type: ignore[arg-type]
    stats = history.categories.get(category)
    if prior is None:
        n = len(history.items)
        # n * mean and n * variance of log(amount) over the whole history, from the exact integer sums
        n_mean = history.log_sum / LOG_SCALE
        n_var = (history.log_sq_sum * n - history.log_sum * history.log_sum) / (n * LOG_SCALE * LOG_SCALE) if n else 0.0
        prior_mu = (n_mean + k * spec.prior.mu) / (n + k)
        prior_var = (n_var + k * spec.prior.variance) / (n + k)
        if stats is None:
            sd = math.sqrt(prior_var)
            return prior_mu, (sd if sd >= spec.min_spread else spec.min_spread), 0
    elif stats is None:
        return prior.mu, prior.sd, 0
    else:
        prior_mu, prior_var = prior.mu, prior.variance
    n, log_sum, log_sq_sum = stats
    mu = (log_sum / LOG_SCALE + k * prior_mu) / (n + k)
    own_var = (log_sq_sum * n - log_sum * log_sum) / (n * LOG_SCALE * LOG_SCALE)  # exact numerator, >= 0
    sd = math.sqrt((own_var + k * prior_var) / (n + k))
    return mu, (sd if sd >= spec.min_spread else spec.min_spread), n


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def extract(item: Item, history: UserHistory, spec: FeatureSpec) -> dict[str, Any]:
    """Every feature of ``item`` against ``history`` (the user's transactions before it, window ending at the
    item's timestamp), with the parameters of ``spec``, in ``FEATURE_NAMES`` order."""
    amount = item.amount
    log_amount = item.log_amount
    category = item.category
    hour = item.hour
    items = history.items
    n = len(items)
    mu, sd, own = baseline(category, history, spec)
    typical = math.exp(mu)
    prior = spec.categories.get(category)  # type: ignore[arg-type]
    get, keys = history._windows.get, spec.window_keys
    hour_w = get(keys[0]) or history.window(*keys[0])
    day_w = get(keys[1]) or history.window(*keys[1])
    week_w = get(keys[2]) or history.window(*keys[2])
    small = get(keys[3]) or history.window(*keys[3])
    night = get(keys[4]) or history.window(*keys[4])

    if n:
        mean = history.amount_cents / 100 / n
        span_ms = float(history.now_ms - items[0].ts)
        over_mean = amount / mean if mean > 0 else NAN
        since_last = (item.ts - items[-1].ts) / 1000
    else:
        mean = span_ms = over_mean = since_last = NAN

    unusual = 0
    if night.count:
        baselines: dict[str | None, tuple[float, float, int]] = {category: (mu, sd, own)}
        z_min, categories, default_high = spec.night_z_min, spec.categories, spec.prior.high
        for earlier in night.items:
            earlier_prior = categories.get(earlier.category)  # type: ignore[arg-type]
            if earlier.amount >= (earlier_prior.high if earlier_prior is not None else default_high):
                unusual += 1
                continue
            found = baselines.get(earlier.category)
            if found is None:
                found = baselines[earlier.category] = baseline(earlier.category, history, spec)
            if abs(earlier.log_amount - found[0]) >= z_min * found[1]:
                unusual += 1

    last = history.last_located
    if last is not None and item.lat is not None:
        distance = haversine_km(last.lat, last.lon, item.lat, item.lon)  # type: ignore[arg-type]
        speed = distance / (max(item.ts - last.ts, 1) / HOUR_MS)
    else:
        distance = speed = NAN

    country, device = item.country, item.device
    counts = history.hour_counts
    near = counts[hour] + 0.5 * (counts[hour - 1] + counts[(hour + 1) % 24])
    prior_strength = spec.hour_prior_strength
    return {
        "amount": amount,
        "log_amount": log_amount,
        "category": category,
        "hour": float(hour),
        "night": 1.0 if hour in spec.night_hours else 0.0,
        "amount_z": (log_amount - mu) / sd,
        "typical_amount": typical,
        "amount_over_typical": amount / typical,
        "amount_over_high": amount / (prior.high if prior is not None else spec.prior.high),
        "category_count": float(own),
        "category_share": own / n if n else NAN,
        "history_count": float(n),
        "history_span_ms": span_ms,
        "mean_amount": mean,
        "amount_over_mean": over_mean,
        "seconds_since_last": since_last,
        "count_1h": float(hour_w.count),
        "sum_1h": hour_w.cents / 100,
        "count_24h": float(day_w.count),
        "sum_24h": day_w.cents / 100,
        "count_7d": float(week_w.count),
        "sum_7d": week_w.cents / 100,
        "small_amounts": float(small.count + (1 if amount <= spec.small_amount else 0)),
        "night_count": float(night.count),
        "night_unusual": float(unusual),
        "travel_km": distance,
        "travel_kmh": speed,
        "new_country": NAN if country is None else (0.0 if country in history.countries else 1.0),
        "country_history": float(history.country_count),
        "new_device": NAN if device is None else (0.0 if device in history.devices else 1.0),
        "device_history": float(history.device_count),
        "device_count": float(len(history.devices)),
        "hour_share": (near / 2 + prior_strength / 24) / (n + prior_strength),
    }


def money(value: float) -> str:
    return f"{value:,.2f}"


def duration(ms: float) -> str:
    minutes = ms / 60_000
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 72 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _count(n: float, what: str) -> str:
    return f"{n:.0f} {what}" + ("" if n == 1 else "s")


def describe(name: str, features: Mapping[str, Any], spec: FeatureSpec) -> str:
    """``name`` in plain words for an alert: what this transaction's value of it means.

    E.g. "amount 912.40 is 9.1x this card's typical 100.27 for grocery_pos" or "4 earlier transactions in the
    last 1 hour". Names without a sentence of their own are shown as ``name = value``.
    """
    f = features
    category = f.get("category") or "this category"
    value: Any = f.get(name)
    if isinstance(value, float) and math.isnan(value):
        return f"{name.replace('_', ' ')} not known (no earlier transaction to compare with)"
    if name in ("amount", "log_amount", "amount_over_typical", "amount_z", "typical_amount"):
        ratio = f["amount_over_typical"]
        relation = f"{ratio:.1f}x" if ratio >= 1 else f"1/{1 / ratio:.1f} of"
        return (
            f"amount {money(f['amount'])} is {relation} this card's typical {money(f['typical_amount'])}"
            f" for {category} ({abs(f['amount_z']):.1f} standard deviations)"
        )
    if name == "amount_over_high":
        return f"amount {money(f['amount'])} is {value:.1f}x what is a high amount for {category}"
    if name == "amount_over_mean":
        return f"amount {money(f['amount'])} is {value:.1f}x this card's average {money(f['mean_amount'])}"
    if name in ("category_count", "category_share", "category"):
        if f["category_count"] == 0:
            return f"the card's first transaction in {category}"
        return f"{_count(f['category_count'], 'earlier transaction')} of this card in {category}"
    if name.startswith(("count_", "sum_")):
        window = name.split("_", 1)[1]
        span = duration(spec.window_ms(window))
        return (
            f"{_count(f['count_' + window], 'earlier transaction')} totalling {money(f['sum_' + window])}"
            f" in the last {span}"
        )
    if name == "small_amounts":
        return (
            f"{_count(value, 'transaction')} of at most {money(spec.small_amount)} within "
            f"{duration(spec.small_window_ms)}, this one included"
        )
    if name in ("night_unusual", "night_count", "night", "hour"):
        when = f"at {f['hour']:02.0f}:00 local time" + (", at night" if f["night"] else "")
        if not f["night_unusual"]:
            return when
        return (
            f"{when}, after {_count(f['night_unusual'], 'earlier night-time transaction')}"
            f" with an unusual amount in the last {duration(spec.night_window_ms)}"
        )
    if name in ("travel_km", "travel_kmh"):
        return (
            f"{f['travel_km']:,.0f} km from the previous located transaction ({min(f['travel_kmh'], 99_999):,.0f} km/h)"
        )
    if name in ("new_country", "country_history"):
        if not f["country_history"]:
            return "no earlier transaction of this card with a country"
        seen = "a country this card has used before" if f["new_country"] == 0.0 else "a country new to this card"
        return f"{seen} ({_count(f['country_history'], 'earlier transaction')} with a country)"
    if name in ("new_device", "device_history", "device_count"):
        if not f["device_history"]:
            return "no earlier transaction of this card from a device"
        seen = "a device this card has used before" if f["new_device"] == 0.0 else "a device new to this card"
        return f"{seen} ({_count(f['device_count'], 'known device')})"
    if name == "seconds_since_last":
        return f"{duration(value * 1000)} since the card's previous transaction"
    if name in ("history_count", "history_span_ms", "mean_amount"):
        if not f["history_count"]:
            return "the card's first transaction"
        return f"{_count(f['history_count'], 'earlier transaction')} in the last {duration(f['history_span_ms'])}"
    if name == "hour_share":
        return f"local hour {f['hour']:02.0f}:00 is rare for this card ({100 * value:.1f} % of its transactions)"
    return f"{name} = {value}"
