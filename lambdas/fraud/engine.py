"""The fraud engine: runs the enabled rules and combines their contributions into a 0-100 score.

Combination: ``score = 100 * (1 - prod(1 - c_i / 100))`` over the rules that fired, where ``c_i`` is
a rule's contribution (0..its weight, weights are 0..100). Independent evidence accumulates, the score
never exceeds 100, and one rule at full weight ``w`` alone gives exactly ``w``. The decision comes from
the configured bands: ``alert`` at or above ``bands.alert``, ``review`` at or above ``bands.review``,
otherwise ``allow``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fraud import rules
from fraud.config import EngineConfig
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
    """Scores transactions against a user's history with the rules of one configuration."""

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

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.__name__ for rule, _ in self._rules)

    def assess(self, txn: dict | Item, history: UserHistory) -> Assessment:
        """Score ``txn`` against ``history`` (the user's transactions before it)."""
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


def _by_score(reason: Reason) -> float:
    return reason.score
