"""The rules document: defaults, merging and validation into a typed, read-only view.

The document (``rules.default.json``, overridden by the SSM parameter) is deep-merged over the
defaults, then read key by key into immutable typed records (named tuples: creating a dozen
dataclasses would cost tens of milliseconds of cold start). Reading *is* validating: every value is
checked for type and range where it is read, and every key that was not read is unknown. Any problem
raises ``ConfigError`` naming the key path (``rules.velocity.windows[1].seconds``) and why.
Keys are documented in ``docs/rules.md``.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

DEFAULTS_PATH = pathlib.Path(__file__).resolve().with_name("rules.default.json")
DAY_MS = 86_400_000


class ConfigError(ValueError):
    """An invalid rules document; the message names the key path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"invalid rules configuration: {path or '<document>'}: {reason}")


class CategoryPrior(NamedTuple):
    typical: float  # typical (median) amount
    spread: float  # standard deviation of log(amount)
    mu: float  # log(typical)
    variance: float  # spread ** 2


class AmountAnomalyConfig(NamedTuple):
    enabled: bool
    weight: float
    low_weight: float
    z_start: float
    z_full: float
    min_amount: float
    prior_strength: float
    min_spread: float
    prior: CategoryPrior
    category_priors: Mapping[str, CategoryPrior]


class HighAmountConfig(NamedTuple):
    enabled: bool
    weight: float
    start: float
    full: float
    categories: Mapping[str, tuple[float, float]]  # category -> (start, full), overriding the above


class VelocityWindow(NamedTuple):
    name: str
    span_ms: int
    max_count: int
    max_amount: float
    baseline_factor: float  # 0 disables the comparison with the user's own typical spend


class VelocityConfig(NamedTuple):
    enabled: bool
    weight: float
    min_history: int
    windows: tuple[VelocityWindow, ...]


class CardTestingConfig(NamedTuple):
    enabled: bool
    weight: float
    window_ms: int
    max_amount: float
    min_count: int
    full_count: int


class ImpossibleTravelConfig(NamedTuple):
    enabled: bool
    weight: float
    max_speed_kmh: float
    full_speed_kmh: float
    min_distance_km: float


class FirstUseConfig(NamedTuple):
    enabled: bool
    weight: float
    min_history: int


class MerchantCategoryConfig(NamedTuple):
    enabled: bool
    weight: float
    risk: Mapping[str, float]


class UnusualHourConfig(NamedTuple):
    enabled: bool
    weight: float
    min_history: int
    max_share: float
    prior_strength: float


class RiskyHourConfig(NamedTuple):
    enabled: bool
    weight: float
    risk: tuple[float, ...]  # 24 values, index = hour of day


class SpreeConfig(NamedTuple):
    enabled: bool
    weight: float
    window_ms: int
    full_count: int
    z_min: float
    min_hour_risk: float
    # What "unusual" means for an earlier transaction comes from the other rules' settings:
    hour_risk: tuple[float, ...]  # risky_hour.risk
    amount: AmountAnomalyConfig  # the user's baseline per category (amount_anomaly)
    high: HighAmountConfig  # high amounts, per category (high_amount)
    hours: frozenset[int]  # the hours whose hour_risk is at least min_hour_risk (derived)


class PatternConfig(NamedTuple):
    suppression_ms: int
    card_testing_max_amount: float
    card_testing_min_count: int
    merchant_spike_factor: float
    merchant_spike_min_count: int
    shared_device_min_users: int
    shared_ip_min_users: int
    user_min_cards: int
    user_min_countries: int


@dataclass(frozen=True)
class EngineConfig:
    """Typed view of a validated rules document; ``document`` is the merged document itself."""

    review_threshold: float
    alert_threshold: float
    history_window_ms: int
    history_max_items: int
    amount_anomaly: AmountAnomalyConfig
    high_amount: HighAmountConfig
    velocity: VelocityConfig
    card_testing: CardTestingConfig
    impossible_travel: ImpossibleTravelConfig
    new_country: FirstUseConfig
    new_device: FirstUseConfig
    merchant_category: MerchantCategoryConfig
    unusual_hour: UnusualHourConfig
    risky_hour: RiskyHourConfig
    spree: SpreeConfig
    patterns: PatternConfig
    document: dict = field(repr=False, compare=False)

    def decision(self, score: float) -> str:
        if score >= self.alert_threshold:
            return "alert"
        if score >= self.review_threshold:
            return "review"
        return "allow"


@functools.cache
def _defaults_text() -> str:
    return DEFAULTS_PATH.read_text(encoding="utf-8")


def default_document() -> dict:
    """A fresh deep copy of ``rules.default.json``."""
    return json.loads(_defaults_text())


def merge(base: dict, override: Mapping) -> dict:
    """Deep-merge ``override`` over ``base`` (objects merge key by key; lists and scalars replace)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _Section:
    """Reads typed values from one object of the document and remembers which keys were read."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be an object, got {_kind(data)}")
        self.data = data
        self.path = path
        self._read: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        self._read.add(key)
        if key not in self.data:
            raise ConfigError(self._key(key), "is required")
        return self.data[key]

    def section(self, key: str) -> _Section:
        return _Section(self.raw(key), self._key(key))

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise ConfigError(self._key(key), f"must be true or false, got {_kind(value)}")
        return value

    def string(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(self._key(key), f"must be a non-empty string, got {_kind(value)}")
        return value

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        integer: bool = False,
    ) -> float:
        return _number(
            self.raw(key),
            self._key(key),
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=exclusive_minimum,
            integer=integer,
        )

    def weight(self, key: str = "weight") -> float:
        return self.number(key, minimum=0, maximum=100)

    def count(self, key: str, minimum: int = 1) -> int:
        return int(self.number(key, minimum=minimum, integer=True))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._read, key=str)
        if unknown:
            raise ConfigError(self._key(str(unknown[0])), "unknown key")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _number(
    value: Any,
    path: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    integer: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ConfigError(path, "must be a finite number")
    if integer and value != int(value):
        raise ConfigError(path, f"must be a whole number, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise ConfigError(path, f"must be greater than {minimum}, got {value}")
        if value < minimum:
            raise ConfigError(path, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, f"must be at most {maximum}, got {value}")
    return value


def _prior(section: _Section) -> CategoryPrior:
    typical = section.number("typical", minimum=0, exclusive_minimum=True)
    spread = section.number("spread", minimum=0, exclusive_minimum=True)
    section.done()
    return CategoryPrior(typical, spread, math.log(typical), spread**2)


def _ordered(path: str, low: float, high: float, low_name: str, high_name: str) -> None:
    if not low < high:
        raise ConfigError(path, f"{low_name} ({low}) must be less than {high_name} ({high})")


def _amount_anomaly(s: _Section) -> AmountAnomalyConfig:
    priors = s.section("category_priors")
    category_priors = {str(name): _prior(priors.section(name)) for name in priors.data}
    priors.done()
    cfg = AmountAnomalyConfig(
        enabled=s.boolean("enabled"),
        weight=s.weight(),
        low_weight=s.weight("low_weight"),
        z_start=s.number("z_start", minimum=0),
        z_full=s.number("z_full", minimum=0),
        min_amount=s.number("min_amount", minimum=0),
        prior_strength=s.number("prior_strength", minimum=0, exclusive_minimum=True),
        min_spread=s.number("min_spread", minimum=0, exclusive_minimum=True),
        prior=_prior(s.section("prior")),
        category_priors=category_priors,
    )
    _ordered(s.path, cfg.z_start, cfg.z_full, "z_start", "z_full")
    s.done()
    return cfg


def _velocity(s: _Section) -> VelocityConfig:
    windows_path = f"{s.path}.windows"
    raw_windows = s.raw("windows")
    if not isinstance(raw_windows, list):
        raise ConfigError(windows_path, f"must be a list, got {_kind(raw_windows)}")
    windows = []
    for i, raw in enumerate(raw_windows):
        w = _Section(raw, f"{windows_path}[{i}]")
        windows.append(
            VelocityWindow(
                name=w.string("name"),
                span_ms=int(w.number("seconds", minimum=0, exclusive_minimum=True, integer=True) * 1000),
                max_count=w.count("max_count"),
                max_amount=w.number("max_amount", minimum=0, exclusive_minimum=True),
                baseline_factor=w.number("baseline_factor", minimum=0),
            )
        )
        w.done()
    cfg = VelocityConfig(
        enabled=s.boolean("enabled"), weight=s.weight(), min_history=s.count("min_history", 0), windows=tuple(windows)
    )
    s.done()
    return cfg


def _patterns(s: _Section) -> PatternConfig:
    card = s.section("card_testing")
    spike = s.section("merchant_spike")
    device, ip = s.section("shared_device"), s.section("shared_ip")
    cards, countries = s.section("user_many_cards"), s.section("user_many_countries")
    cfg = PatternConfig(
        suppression_ms=int(s.number("suppression_minutes", minimum=0) * 60_000),
        card_testing_max_amount=card.number("max_amount", minimum=0, exclusive_minimum=True),
        card_testing_min_count=card.count("min_count", 2),
        merchant_spike_factor=spike.number("factor", minimum=1, exclusive_minimum=True),
        merchant_spike_min_count=spike.count("min_count", 1),
        shared_device_min_users=device.count("min_users", 2),
        shared_ip_min_users=ip.count("min_users", 2),
        user_min_cards=cards.count("min_cards", 2),
        user_min_countries=countries.count("min_countries", 2),
    )
    for section in (card, spike, device, ip, cards, countries, s):
        section.done()
    return cfg


def _engine_config(document: dict) -> EngineConfig:
    root = _Section(document, "")
    bands = root.section("bands")
    review = bands.number("review", minimum=0, maximum=100)
    alert = bands.number("alert", minimum=0, maximum=100)
    _ordered("bands", review, alert, "review", "alert")
    bands.done()

    history = root.section("history")
    window_days = history.number("window_days", minimum=0, exclusive_minimum=True)
    max_items = history.count("max_items")
    history.done()

    rules = root.section("rules")

    aa = _amount_anomaly(rules.section("amount_anomaly"))

    s = rules.section("high_amount")
    per_category = {}
    categories = s.section("categories")
    for name in categories.data:
        c = categories.section(name)
        bounds = (
            c.number("start", minimum=0, exclusive_minimum=True),
            c.number("full", minimum=0, exclusive_minimum=True),
        )
        _ordered(c.path, *bounds, "start", "full")
        c.done()
        per_category[str(name)] = bounds
    categories.done()
    high = HighAmountConfig(
        s.boolean("enabled"),
        s.weight(),
        s.number("start", minimum=0, exclusive_minimum=True),
        s.number("full", minimum=0, exclusive_minimum=True),
        per_category,
    )
    _ordered(s.path, high.start, high.full, "start", "full")
    s.done()

    velocity = _velocity(rules.section("velocity"))
    window_ms = int(window_days * DAY_MS)
    for i, w in enumerate(velocity.windows):
        if w.span_ms > window_ms:  # the history would not hold the whole window
            raise ConfigError(
                f"rules.velocity.windows[{i}].seconds",
                f"must not be longer than history.window_days ({window_days} days)",
            )

    s = rules.section("card_testing")
    card = CardTestingConfig(
        enabled=s.boolean("enabled"),
        weight=s.weight(),
        window_ms=int(s.number("window_seconds", minimum=0, exclusive_minimum=True, integer=True) * 1000),
        max_amount=s.number("max_amount", minimum=0, exclusive_minimum=True),
        min_count=s.count("min_count", 2),
        full_count=s.count("full_count", 2),
    )
    if card.window_ms > window_ms:
        raise ConfigError(
            f"{s.path}.window_seconds", f"must not be longer than history.window_days ({window_days} days)"
        )
    if card.full_count < card.min_count:
        raise ConfigError(f"{s.path}.full_count", f"must be at least min_count ({card.min_count})")
    s.done()

    s = rules.section("impossible_travel")
    travel = ImpossibleTravelConfig(
        enabled=s.boolean("enabled"),
        weight=s.weight(),
        max_speed_kmh=s.number("max_speed_kmh", minimum=0, exclusive_minimum=True),
        full_speed_kmh=s.number("full_speed_kmh", minimum=0, exclusive_minimum=True),
        min_distance_km=s.number("min_distance_km", minimum=0),
    )
    _ordered(s.path, travel.max_speed_kmh, travel.full_speed_kmh, "max_speed_kmh", "full_speed_kmh")
    s.done()

    first_use = {}
    for name in ("new_country", "new_device"):
        s = rules.section(name)
        first_use[name] = FirstUseConfig(s.boolean("enabled"), s.weight(), s.count("min_history", 0))
        s.done()

    s = rules.section("merchant_category")
    risk_section = s.section("risk")
    risk = {str(k): _number(v, f"{risk_section.path}.{k}", minimum=0, maximum=1) for k, v in risk_section.data.items()}
    category = MerchantCategoryConfig(s.boolean("enabled"), s.weight(), risk)
    s.done()

    s = rules.section("unusual_hour")
    hour = UnusualHourConfig(
        enabled=s.boolean("enabled"),
        weight=s.weight(),
        min_history=s.count("min_history", 0),
        max_share=s.number("max_share", minimum=0, maximum=1, exclusive_minimum=True),
        prior_strength=s.number("prior_strength", minimum=0),
    )
    s.done()

    s = rules.section("risky_hour")
    risk_section = s.section("risk")
    hour_risk = [0.0] * 24
    for key, value in risk_section.data.items():
        path = f"{risk_section.path}.{key}"
        if not (isinstance(key, str) and key.isdigit() and 0 <= int(key) <= 23):
            raise ConfigError(path, 'must be an hour of day, "0" to "23"')
        hour_risk[int(key)] = _number(value, path, minimum=0, maximum=1)
    risky_hour = RiskyHourConfig(s.boolean("enabled"), s.weight(), tuple(hour_risk))
    s.done()

    s = rules.section("spree")
    spree = SpreeConfig(
        enabled=s.boolean("enabled"),
        weight=s.weight(),
        window_ms=int(s.number("window_seconds", minimum=0, exclusive_minimum=True, integer=True) * 1000),
        full_count=s.count("full_count"),
        z_min=s.number("z_min", minimum=0),
        min_hour_risk=s.number("min_hour_risk", minimum=0, maximum=1),
        hour_risk=risky_hour.risk,
        amount=aa,
        high=high,
        hours=frozenset(),
    )
    spree = spree._replace(hours=frozenset(h for h, risk in enumerate(spree.hour_risk) if risk >= spree.min_hour_risk))
    if spree.window_ms > window_ms:
        raise ConfigError(
            f"{s.path}.window_seconds", f"must not be longer than history.window_days ({window_days} days)"
        )
    s.done()
    rules.done()

    patterns = _patterns(root.section("patterns"))
    root.done()
    return EngineConfig(
        review_threshold=review,
        alert_threshold=alert,
        history_window_ms=window_ms,
        history_max_items=max_items,
        amount_anomaly=aa,
        high_amount=high,
        velocity=velocity,
        card_testing=card,
        impossible_travel=travel,
        new_country=first_use["new_country"],
        new_device=first_use["new_device"],
        merchant_category=category,
        unusual_hour=hour,
        risky_hour=risky_hour,
        spree=spree,
        patterns=patterns,
        document=document,
    )


def load_config(document: dict | str | bytes | None = None) -> EngineConfig:
    """Validate a (partial) rules document merged over the defaults; ``None`` gives the defaults.

    Raises ``ConfigError`` naming the bad key and why.
    """
    if document is None:
        override: Any = {}
    elif isinstance(document, (str, bytes, bytearray)):
        try:
            override = json.loads(document)
        except ValueError as exc:
            raise ConfigError("", f"is not valid JSON: {exc}") from None
    else:
        override = document
    if not isinstance(override, Mapping):
        raise ConfigError("", f"must be a JSON object, got {_kind(override)}")
    return _engine_config(merge(default_document(), override))
