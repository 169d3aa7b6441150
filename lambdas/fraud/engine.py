"""The fraud engine: runs the enabled rules and combines their contributions into a 0-100 score.

Combination: ``score = 100 * (1 - prod(1 - c_i / 100))`` over the rules that fired, where ``c_i`` is
a rule's contribution (0..its weight, weights are 0..100). Independent evidence accumulates, the score
never exceeds 100, and one rule at full weight ``w`` alone gives exactly ``w``. The decision comes from
the configured bands: ``alert`` at or above ``bands.alert``, ``review`` at or above ``bands.review``,
otherwise ``allow``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from fraud import rules
from fraud.config import AmountAnomalyConfig, EngineConfig
from fraud.history import Item, UserHistory, as_item
from fraud.rules import Reason

__all__ = ["Assessment", "Engine", "Reason", "combine"]

DECISIONS = ("allow", "review", "alert")


@dataclass(frozen=True)
class Assessment:
    score: int
    decision: str  # "allow", "review" or "alert"
    reasons: tuple[Reason, ...]  # strongest first

    @property
    def suspicious(self) -> bool:
        return self.decision != "allow"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "decision": self.decision,
            "reasons": [
                {"code": r.code, "score": round(r.score, 1), "explanation": r.explanation} for r in self.reasons
            ],
        }


def combine(contributions: list[float]) -> int:
    """``100 * (1 - prod(1 - c / 100))``, rounded to an integer score."""
    remaining = 1.0
    for contribution in contributions:
        remaining *= 1.0 - contribution / 100.0
    return round(100.0 * (1.0 - remaining))


class Engine:
    """Scores transactions against a user's history with the rules of one configuration.

    ``assess`` gives exactly what running the rule functions of ``fraud.rules`` in order would give
    (``reference_assess`` does that, and the tests compare the two), but runs in one pass: settings
    are read once here, each rule's firing test is evaluated inline on values shared between rules
    (the amount baseline of a category is computed once per transaction), no ``Reason`` is built for
    a rule that does not fire, the reasons that depend on nothing but the configuration and the
    category, hour or count (risky category, risky hour, card testing, spree) are built once, and
    the reason of a rule that fires otherwise comes from the rule function itself, so its
    explanation has one definition.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        candidates: list[tuple[Callable[[Item, UserHistory, Any], Reason | None], Any]] = [
            (rules.amount_anomaly, config.amount_anomaly),
            (rules.high_amount, config.high_amount),
            (rules.velocity, config.velocity),
            (rules.card_testing, config.card_testing),
            (rules.impossible_travel, config.impossible_travel),
            (rules.new_country, config.new_country),
            (rules.new_device, config.new_device),
            (rules.merchant_category, config.merchant_category),
            (rules.unusual_hour, config.unusual_hour),
            (rules.risky_hour, config.risky_hour),
            (rules.spree, config.spree),
        ]
        self._rules = [(rule, cfg) for rule, cfg in candidates if cfg.enabled and cfg.weight > 0]
        self._nothing = Assessment(0, config.decision(0), ())  # immutable, shared by every quiet transaction
        self._decision = config.decision
        self._alert = config.alert_threshold
        self._review = config.review_threshold

        def on(cfg: Any) -> Any:
            return cfg if cfg.enabled and cfg.weight > 0 else None

        # Precomputed settings of each enabled rule (None: the rule does not run).
        aa = self._aa = on(config.amount_anomaly)
        if aa is not None:
            self._aa_priors = _prior_constants(aa)
        self._high = high = on(config.high_amount)
        if high is not None:
            self._high_bounds = dict(high.categories)
            self._high_default = (high.start, high.full)
        self._velocity = velocity = on(config.velocity)
        if velocity is not None:
            self._velocity_windows = tuple(
                ((w.span_ms, None, None), w.span_ms, w.max_count, w.max_amount, w.baseline_factor)
                for w in velocity.windows
            )
        self._card = card = on(config.card_testing)
        if card is not None:
            self._card_key = (card.window_ms, card.max_amount, None)
            self._card_reasons: dict[int, Reason] = {}
        self._travel = on(config.impossible_travel)
        self._new_country = on(config.new_country)
        self._new_device = on(config.new_device)
        category = on(config.merchant_category)
        self._category_reasons = (
            {}
            if category is None
            else {
                name: rules._category_reason(name, risk, category.weight)
                for name, risk in category.risk.items()
                if risk > 0
            }
        )
        self._unusual = unusual = on(config.unusual_hour)
        if unusual is not None:
            self._unusual_prior = unusual.prior_strength / 24
        risky = on(config.risky_hour)
        self._hour_reasons = tuple(
            rules._hour_reason(hour, risk, risky.weight) if risky is not None and risk > 0 else None
            for hour, risk in enumerate(config.risky_hour.risk)
        )
        self._spree = spree = on(config.spree)
        if spree is not None:
            self._spree_key = (spree.window_ms, None, spree.hours)
            self._spree_start = {name: bounds[0] for name, bounds in spree.high.categories.items() if bounds}
            self._spree_reasons: dict[int, Reason] = {}
            # The spree's baselines are amount_anomaly's when both read the same settings.
            self._shared_baseline = aa is not None and spree.amount == aa
            self._spree_priors = _prior_constants(spree.amount)

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.__name__ for rule, _ in self._rules)

    def reference_assess(self, txn: dict | Item, history: UserHistory) -> Assessment:
        """``assess`` the plain way: every enabled rule function in order. Slower; for tests."""
        item = as_item(txn)
        reasons = []
        for rule, cfg in self._rules:
            reason = rule(item, history, cfg)
            if reason is not None:
                reasons.append(reason)
        if not reasons:
            return self._nothing
        if len(reasons) == 1:
            score = round(reasons[0].score)
        else:
            reasons.sort(key=_by_score, reverse=True)
            score = combine([r.score for r in reasons])
        return Assessment(score, self._decision(score), tuple(reasons))

    def assess(self, txn: dict | Item, history: UserHistory) -> Assessment:
        """Score ``txn`` against ``history`` (the user's transactions before it)."""
        item = txn if type(txn) is Item else Item(txn)
        reasons = []
        amount = item.amount
        category = item.category
        items = history.items
        baseline = None  # amount_anomaly's (mu, sd, own) for this item's category

        aa = self._aa
        if aa is not None and amount >= aa.min_amount:
            baseline = _baseline(category, history, self._aa_priors)
            z = (item.log_amount - baseline[0]) / baseline[1]
            weight = aa.weight if z > 0 else aa.low_weight
            zabs = abs(z)
            if zabs > aa.z_start and weight != 0:  # ramp(|z|, z_start, z_full) > 0
                reasons.append(rules.amount_anomaly(item, history, aa))

        if self._high is not None:
            start, full = self._high_bounds.get(category) or self._high_default
            if amount > start:
                reasons.append(rules.high_amount(item, history, self._high))

        velocity = self._velocity
        if velocity is not None:
            windows = history._windows
            n = len(items)
            for key, span_ms, max_count, max_amount, factor in self._velocity_windows:
                window = windows.get(key) or history.window(span_ms)
                count = window.count + 1
                if count / max_count > 1.0:
                    break
                total = window.cents / 100 + amount
                if total / max_amount > 1.0:
                    break
                if factor and n >= velocity.min_history:
                    typical_count = n * span_ms / max(history.now_ms - items[0].ts, span_ms)
                    typical_total = history.amount_cents / 100 / n * max(typical_count, 1.0)
                    if count / (factor * max(typical_count, 1.0)) > 1.0:
                        break
                    if typical_total > 0 and total / (factor * typical_total) > 1.0:
                        break
            else:
                velocity = None
            if velocity is not None:
                reasons.append(rules.velocity(item, history, velocity))

        card = self._card
        if card is not None:
            window = history._windows.get(self._card_key) or history.window(card.window_ms, card.max_amount)
            count = window.count + (1 if amount <= card.max_amount else 0)
            if count >= card.min_count:
                reason = self._card_reasons.get(count)
                if reason is None:
                    reason = self._card_reasons[count] = rules.card_testing(item, history, card)
                reasons.append(reason)

        travel = self._travel
        if travel is not None and item.lat is not None:
            last = history.last_located
            if last is not None and (
                (abs(item.lat - last.lat) + abs(item.lon - last.lon)) * rules.KM_PER_DEGREE >= travel.min_distance_km
            ):
                reason = rules.impossible_travel(item, history, travel)
                if reason is not None:
                    reasons.append(reason)

        first = self._new_country
        if (
            first is not None
            and item.country is not None
            and history.country_count >= first.min_history
            and item.country not in history.countries
        ):
            reasons.append(rules.new_country(item, history, first))
        first = self._new_device
        if (
            first is not None
            and item.device is not None
            and history.device_count >= first.min_history
            and item.device not in history.devices
        ):
            reasons.append(rules.new_device(item, history, first))

        reason = self._category_reasons.get(category)
        if reason is not None:
            reasons.append(reason)

        hour = item.hour
        unusual = self._unusual
        if unusual is not None and len(items) >= unusual.min_history:
            counts = history.hour_counts
            near = counts[hour] + 0.5 * (counts[hour - 1] + counts[(hour + 1) % 24])
            share = (near / 2 + self._unusual_prior) / (len(items) + unusual.prior_strength)
            if 1.0 - share / unusual.max_share > 0.0:
                reasons.append(rules.unusual_hour(item, history, unusual))

        reason = self._hour_reasons[hour]
        if reason is not None:
            reasons.append(reason)

        spree = self._spree
        if spree is not None:
            window = history._windows.get(self._spree_key) or history.window(spree.window_ms, None, spree.hours)
            if window.count:
                count = 0
                starts, default_start = self._spree_start, spree.high.start
                z_min = spree.z_min
                priors = self._spree_priors
                baselines: dict = {}
                if baseline is not None and self._shared_baseline:
                    baselines[category] = baseline
                for earlier in window.items:
                    if earlier.amount >= starts.get(earlier.category, default_start):
                        count += 1
                        continue
                    found = baselines.get(earlier.category)
                    if found is None:
                        found = baselines[earlier.category] = _baseline(earlier.category, history, priors)
                    if abs(earlier.log_amount - found[0]) >= z_min * found[1]:
                        count += 1
                if count:
                    reason = self._spree_reasons.get(count)
                    if reason is None:
                        reason = self._spree_reasons[count] = rules.spree_reason(count, spree)
                    reasons.append(reason)

        if not reasons:
            return self._nothing
        if len(reasons) == 1:
            score = round(reasons[0].score)
        else:
            reasons.sort(key=_by_score, reverse=True)
            remaining = 1.0
            for reason in reasons:
                remaining *= 1.0 - reason.score / 100.0
            score = round(100.0 * (1.0 - remaining))
        if score >= self._alert:
            return Assessment(score, "alert", tuple(reasons))
        return Assessment(score, "review" if score >= self._review else "allow", tuple(reasons))


_by_score = operator.itemgetter(1)  # Reason.score


class _Priors(NamedTuple):
    """``rules.amount_baseline``'s settings, read once: per category with a prior of its own, the
    prior's (mu, variance, baseline without own history); the rest for the other categories."""

    categories: dict
    prior_strength: float
    prior_mu: float
    prior_variance: float
    min_spread: float


def _prior_constants(cfg: AmountAnomalyConfig) -> _Priors:
    return _Priors(
        {
            name: (p.mu, p.variance, max(math.sqrt(p.variance), cfg.min_spread))
            for name, p in cfg.category_priors.items()
        },
        cfg.prior_strength,
        cfg.prior.mu,
        cfg.prior.variance,
        cfg.min_spread,
    )


def _baseline(category: str | None, history: UserHistory, priors: _Priors) -> tuple[float, float, int]:
    """``rules.amount_baseline`` for ``category`` with the settings read once (same arithmetic, same
    result to the last bit)."""
    k = priors.prior_strength
    prior = priors.categories.get(category)  # type: ignore[arg-type]
    stats = history.categories.get(category)
    if prior is None:
        n = len(history.items)
        if n == 0:
            mean = var = 0.0
        else:
            mean = history.log_sum / n
            var = history.log_sq_sum / n - mean * mean
            if var < 0.0:
                var = 0.0
        prior_mu = (n * mean + k * priors.prior_mu) / (n + k)
        prior_var = (n * var + k * priors.prior_variance) / (n + k)
        if stats is None:
            sd = math.sqrt(prior_var)
            return prior_mu, (sd if sd >= priors.min_spread else priors.min_spread), 0
    elif stats is None:
        return prior[0], prior[2], 0
    else:
        prior_mu, prior_var = prior[0], prior[1]
    n, log_sum, log_sq_sum = stats
    mu = (log_sum + k * prior_mu) / (n + k)
    own_var = log_sq_sum - log_sum * log_sum / n
    if own_var < 0.0:
        own_var = 0.0
    sd = math.sqrt((own_var + k * prior_var) / (n + k))
    return mu, (sd if sd >= priors.min_spread else priors.min_spread), n
