"""The rule registry: each rule is one unit that declares its settings, the features it reads and its reason.

A rule reads the transaction's features (``fraud.features``) and returns a ``Reason`` (code, score contribution
between 0 and the rule's ``weight``, explanation) or None. Graded rules grow linearly from 0 at a start threshold
to the full weight at a full threshold, so a score moves smoothly with the evidence. Every rule's settings are the
``rules.<name>`` section of the rules document; besides its own keys each takes ``enabled``, ``weight`` and an
optional ``force`` (``review`` or ``alert``: when the rule fires, the decision is at least that band, whatever the
score). ``RULES`` lists them in the order they run; the config parser and the engine loop over it, so adding a
rule is one class here, its defaults in ``rules.default.json``, its test and its line in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

from fraud.document import DECISIONS, ConfigError, Section, number, ordered
from fraud.features import WINDOW_NAMES, FeatureSpec, duration, money
from fraud.history import Item, UserHistory

FORCEABLE = DECISIONS[1:]  # a rule can force "review" or "alert"


class Reason(NamedTuple):
    """Why a rule fired: a reason code, its score contribution and a human-readable explanation."""

    code: str
    score: float
    explanation: str


class Common(NamedTuple):
    """The settings every rule has."""

    enabled: bool
    weight: float
    force: str | None  # None, "review" or "alert"


def ramp(value: float, start: float, full: float) -> float:
    """0 at or below ``start``, 1 at or above ``full``, linear in between."""
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


class Rule:
    """One rule: ``name`` (its key under ``rules`` in the document), ``code`` (its reason code), ``reads`` (the
    features it reads), ``Settings`` (its own settings, parsed by ``read_settings``) and ``evaluate``."""

    name: ClassVar[str]
    code: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]

    settings: Any  # the rule's own settings (its Settings named tuple, or None)

    def __init__(self, common: Common, settings: Any, spec: FeatureSpec) -> None:
        self.common = common
        self.weight = common.weight
        self.force = common.force
        self.settings = settings
        self.spec = spec
        self._reasons: dict[Any, Reason] = {}  # for rules whose reason depends on one value only

    @classmethod
    def parse(cls, s: Section, spec: FeatureSpec) -> tuple[Common, Any]:
        """This rule's section of the document: the common settings and its own (``s.done()`` is called)."""
        common = Common(s.boolean("enabled"), s.weight(), s.choice("force", FORCEABLE, optional=True))
        own = cls.read_settings(s, spec)
        s.done()
        return common, own

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Any:
        return None

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        raise NotImplementedError


class AmountAnomaly(Rule):
    """Amount far above (or, with another weight, far below) this card's usual for the category."""

    name, code = "amount_anomaly", "AMOUNT_ANOMALY"
    reads = ("amount", "amount_z", "typical_amount", "category_count")

    class Settings(NamedTuple):
        low_weight: float
        z_start: float
        z_full: float
        min_amount: float

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        own = cls.Settings(s.weight("low_weight"), s.number("z_start", minimum=0), s.number("z_full", minimum=0),
                           s.number("min_amount", minimum=0))  # fmt: skip
        ordered(s.path, own.z_start, own.z_full, "z_start", "z_full")
        return own

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        cfg = self.settings
        amount = f["amount"]
        if amount < cfg.min_amount:
            return None
        z = f["amount_z"]
        weight = self.weight if z > 0 else cfg.low_weight
        strength = ramp(abs(z), cfg.z_start, cfg.z_full)
        if strength == 0.0 or weight == 0:
            return None
        typical, own = f["typical_amount"], int(f["category_count"])
        whose = "this user's typical" if own else "the typical"
        relation = f"{amount / typical:.1f}x" if z > 0 else f"1/{typical / amount:.1f} of"
        return Reason(
            self.code,
            weight * strength,
            f"amount {money(amount)} is {relation} {whose} {money(typical)} for {item.category}"
            f" ({abs(z):.1f} standard deviations, {own} earlier transactions in the category)",
        )


class HighAmount(Rule):
    """An absolutely high amount, whatever the history (thresholds per category if configured)."""

    name, code = "high_amount", "HIGH_AMOUNT"
    reads = ("amount", "category")

    class Settings(NamedTuple):
        start: float
        full: float
        categories: Mapping[str, tuple[float, float]]  # category -> (start, full), overriding the above

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        categories = {}
        for name, c in s.sections("categories").items():
            bounds = (c.positive("start"), c.positive("full"))
            ordered(c.path, *bounds, "start", "full")
            c.done()
            categories[name] = bounds
        own = cls.Settings(s.positive("start"), s.positive("full"), categories)
        ordered(s.path, own.start, own.full, "start", "full")
        return own

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        cfg = self.settings
        category = f["category"]
        start, full = cfg.categories.get(category) or (cfg.start, cfg.full)
        amount = f["amount"]
        if amount <= start:
            return None
        where = f" for {category}" if category in cfg.categories else ""
        return Reason(
            self.code,
            self.weight * ramp(amount, start, full),
            f"amount {money(amount)} is above the high-amount threshold {money(start)}{where}",
        )


class Velocity(Rule):
    """Too many transactions or too much spent in a sliding window (this transaction included).

    Each window compares its count and sum with absolute limits and, when ``baseline_factor`` > 0 and the user
    has ``min_history`` transactions, with ``baseline_factor`` times the user's own typical count and spend over
    such a window (at least one transaction of the user's average amount). The window and measure furthest over
    its limit count: the contribution starts at the limit and is full at twice the limit.
    """

    name, code = "velocity", "VELOCITY"
    reads = (
        *(f"{kind}_{w}" for w in WINDOW_NAMES for kind in ("count", "sum")),
        "amount",
        "history_count",
        "history_span_ms",
        "mean_amount",
    )

    class Window(NamedTuple):
        name: str  # one of the feature windows (features.windows)
        span_ms: int
        max_count: int
        max_amount: float
        baseline_factor: float  # 0 disables the comparison with the user's own typical spend

    class Settings(NamedTuple):
        min_history: int
        windows: tuple[Velocity.Window, ...]

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        windows = []
        for w in s.items("windows"):
            name = str(w.choice("window", WINDOW_NAMES))
            windows.append(cls.Window(name, spec.window_ms(name), w.count("max_count"), w.positive("max_amount"),
                                      w.number("baseline_factor", minimum=0)))  # fmt: skip
            w.done()
        return cls.Settings(s.count("min_history", 0), tuple(windows))

    def __init__(self, common: Common, settings: Any, spec: FeatureSpec) -> None:
        super().__init__(common, settings, spec)
        self._windows = tuple(
            ("count_" + w.name, "sum_" + w.name, w.span_ms, w.max_count, w.max_amount, w.baseline_factor, w)
            for w in settings.windows
        )

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        amount = f["amount"]
        n = f["history_count"]
        with_baseline = n >= self.settings.min_history
        for count_key, sum_key, span_ms, max_count, max_amount, factor, _ in self._windows:
            count = f[count_key] + 1
            if count > max_count:
                break
            total = f[sum_key] + amount
            if total > max_amount:
                break
            if factor and with_baseline:  # the same comparisons as _measure, without building the reason
                typical_count = max(n * span_ms / max(f["history_span_ms"], span_ms), 1.0)
                if count > factor * typical_count:
                    break
                typical_total = f["mean_amount"] * typical_count
                if typical_total > 0 and total > factor * typical_total:
                    break
        else:
            return None  # no window over any of its limits: the usual case, decided cheaply
        return self._measure(f, amount, int(n), with_baseline)

    def _measure(self, f: Mapping[str, Any], amount: float, n: int, with_baseline: bool) -> Reason | None:
        """The window and measure furthest over its limit, and the reason for it."""
        best, best_text = 0.0, ""
        for count_key, sum_key, span_ms, max_count, max_amount, factor, w in self._windows:
            count = f[count_key] + 1
            total = f[sum_key] + amount
            ratio, kind = count / max_count, 0
            if total / max_amount > ratio:
                ratio, kind = total / max_amount, 1
            if factor and with_baseline:
                typical_count = n * span_ms / max(f["history_span_ms"], span_ms)
                # At least one average transaction: one purchase is never a spike of a short window.
                typical_total = f["mean_amount"] * max(typical_count, 1.0)
                if count / (factor * max(typical_count, 1.0)) > ratio:
                    ratio, kind = count / (factor * max(typical_count, 1.0)), 2
                if typical_total > 0 and total / (factor * typical_total) > ratio:
                    ratio, kind = total / (factor * typical_total), 3
            if ratio - 1.0 > best:
                best = min(ratio - 1.0, 1.0)
                span = w.name
                if kind == 3:
                    best_text = (
                        f"{money(total)} spent in the last {span} ({count:.0f} transactions),"
                        f" {total / typical_total:.1f}x this user's typical {money(typical_total)} per {span}"
                    )
                elif kind == 2:
                    best_text = (
                        f"{count:.0f} transactions in the last {span}, this user's typical is"
                        f" {typical_count:.1f} per {span}"
                    )
                else:
                    best_text = (
                        f"{count:.0f} transactions totalling {money(total)} in the last {span}"
                        f" (limits {w.max_count} transactions, {money(w.max_amount)})"
                    )
        if best == 0.0:
            return None
        return Reason(self.code, self.weight * best, best_text)


class CardTesting(Rule):
    """A burst of small amounts (typical of testing a stolen card before using it)."""

    name, code = "card_testing", "CARD_TESTING"
    reads = ("small_amounts",)

    class Settings(NamedTuple):
        min_count: int
        full_count: int

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        own = cls.Settings(s.count("min_count", 2), s.count("full_count", 2))
        if own.full_count < own.min_count:
            raise ConfigError(s.key("full_count"), f"must be at least min_count ({own.min_count})")
        return own

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        cfg = self.settings
        count = int(f["small_amounts"])
        if count < cfg.min_count:
            return None
        reason = self._reasons.get(count)
        if reason is None:  # the reason depends on the count alone: built once per count
            strength = (count - cfg.min_count + 1) / (cfg.full_count - cfg.min_count + 1)
            reason = self._reasons[count] = Reason(
                self.code,
                self.weight * min(strength, 1.0),
                f"{count} transactions of at most {money(self.spec.small_amount)}"
                f" within {duration(self.spec.small_window_ms)}",
            )
        return reason


class ImpossibleTravel(Rule):
    """The distance from the previous located transaction needs a speed no traveller reaches."""

    name, code = "impossible_travel", "IMPOSSIBLE_TRAVEL"
    reads = ("travel_km", "travel_kmh")

    class Settings(NamedTuple):
        max_speed_kmh: float
        full_speed_kmh: float
        min_distance_km: float

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        own = cls.Settings(s.positive("max_speed_kmh"), s.positive("full_speed_kmh"),
                           s.number("min_distance_km", minimum=0))  # fmt: skip
        ordered(s.path, own.max_speed_kmh, own.full_speed_kmh, "max_speed_kmh", "full_speed_kmh")
        return own

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        cfg = self.settings
        distance = f["travel_km"]
        if not distance >= cfg.min_distance_km:  # NaN (no location) is not
            return None
        speed = f["travel_kmh"]
        strength = ramp(speed, cfg.max_speed_kmh, cfg.full_speed_kmh)
        if strength == 0.0:
            return None
        elapsed_ms = max(item.ts - history.last_located.ts, 1)  # type: ignore[union-attr]
        return Reason(
            self.code,
            self.weight * strength,
            f"{distance:,.0f} km from the previous transaction {duration(elapsed_ms)} earlier"
            f" ({min(speed, 99_999):,.0f} km/h, more than {cfg.max_speed_kmh:,.0f} km/h)",
        )


class FirstUse(Rule):
    """The first transaction from a country (or a device) for a user with enough history that carries one."""

    class Settings(NamedTuple):
        min_history: int

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        return cls.Settings(s.count("min_history", 0))


class NewCountry(FirstUse):
    name, code = "new_country", "NEW_COUNTRY"
    reads = ("new_country", "country_history")

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        if f["new_country"] != 1.0 or f["country_history"] < self.settings.min_history:
            return None
        known = ", ".join(sorted(history.countries)[:5])
        return Reason(self.code, self.weight, f"first transaction from {item.country}; earlier ones were from {known}")


class NewDevice(FirstUse):
    name, code = "new_device", "NEW_DEVICE"
    reads = ("new_device", "device_history", "device_count")

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        if f["new_device"] != 1.0 or f["device_history"] < self.settings.min_history:
            return None
        return Reason(
            self.code,
            self.weight,
            f"first transaction from this device; {f['device_count']:.0f} known device(s)"
            f" over {f['device_history']:.0f} earlier transactions",
        )


class MerchantCategory(Rule):
    """A merchant category with a configured risk (0..1)."""

    name, code = "merchant_category", "RISKY_CATEGORY"
    reads = ("category",)

    class Settings(NamedTuple):
        risk: Mapping[str, float]

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        risk = s.section("risk")
        values = {str(k): number(v, risk.key(str(k)), minimum=0, maximum=1) for k, v in risk.data.items()}
        return cls.Settings(values)

    def __init__(self, common: Common, settings: Any, spec: FeatureSpec) -> None:
        super().__init__(common, settings, spec)
        self._reasons = {
            name: Reason(self.code, self.weight * risk, f"merchant category {name} has risk {risk:.2f}")
            for name, risk in settings.risk.items()
            if risk > 0
        }

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        return self._reasons.get(f["category"])


class UnusualHour(Rule):
    """A time of day at which this user (almost) never transacts."""

    name, code = "unusual_hour", "UNUSUAL_HOUR"
    reads = ("hour", "hour_share", "history_count")

    class Settings(NamedTuple):
        min_history: int
        max_share: float

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        return cls.Settings(s.count("min_history", 0), s.number("max_share", minimum=0, maximum=1,
                                                                exclusive_minimum=True))  # fmt: skip

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        cfg = self.settings
        if f["history_count"] < cfg.min_history:
            return None
        strength = 1.0 - f["hour_share"] / cfg.max_share
        if strength <= 0.0:
            return None
        hour = item.hour
        return Reason(
            self.code,
            self.weight * strength,
            f"{hour:02d}:00-{hour:02d}:59 is unusual for this user:"
            f" {history.hour_counts[hour]} of {history.count} earlier transactions in that hour",
        )


class RiskyHour(Rule):
    """An hour of day with a configured risk (0..1) for everyone, e.g. the small hours."""

    name, code = "risky_hour", "RISKY_HOUR"
    reads = ("hour",)

    class Settings(NamedTuple):
        risk: tuple[float, ...]  # 24 values, index = hour of day

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        risk_section = s.section("risk")
        risk = [0.0] * 24
        for key, value in risk_section.data.items():
            path = risk_section.key(str(key))
            if not (isinstance(key, str) and key.isdigit() and 0 <= int(key) <= 23):
                raise ConfigError(path, 'must be an hour of day, "0" to "23"')
            risk[int(key)] = number(value, path, minimum=0, maximum=1)
        return cls.Settings(tuple(risk))

    def __init__(self, common: Common, settings: Any, spec: FeatureSpec) -> None:
        super().__init__(common, settings, spec)
        self._hours: tuple[Reason | None, ...] = tuple(
            Reason(self.code, self.weight * risk, f"{hour:02d}:00-{hour:02d}:59 has risk {risk:.2f}")
            if risk > 0
            else None
            for hour, risk in enumerate(settings.risk)
        )

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        return self._hours[item.hour]


class Spree(Rule):
    """Earlier unusual night-time transactions on the card within a short window: a stolen card being used up.

    Reads ``night_unusual``: the earlier transactions of the last ``features.night.window_seconds`` at night
    hours whose amount was high for their category or ``features.night.z_min`` standard deviations or more from
    this card's usual. The contribution grows with their count: full weight at ``full_count``.
    """

    name, code = "spree", "SPREE"
    reads = ("night_unusual",)

    class Settings(NamedTuple):
        full_count: int

    @classmethod
    def read_settings(cls, s: Section, spec: FeatureSpec) -> Settings:
        return cls.Settings(s.count("full_count"))

    def evaluate(self, item: Item, f: Mapping[str, Any], history: UserHistory) -> Reason | None:
        count = int(f["night_unusual"])
        if not count:
            return None
        reason = self._reasons.get(count)
        if reason is None:  # the reason depends on the count alone: built once per count
            reason = self._reasons[count] = Reason(
                self.code,
                self.weight * min(count / self.settings.full_count, 1.0),
                f"{count} earlier transaction(s) in the last {duration(self.spec.night_window_ms)} at risky hours"
                f" with unusual amounts for their category",
            )
        return reason


RULES: dict[str, type[Rule]] = {
    rule.name: rule
    for rule in (
        AmountAnomaly,
        HighAmount,
        Velocity,
        CardTesting,
        ImpossibleTravel,
        NewCountry,
        NewDevice,
        MerchantCategory,
        UnusualHour,
        RiskyHour,
        Spree,
    )
}
"""Every rule by its key in the document, in the order the engine runs them."""
