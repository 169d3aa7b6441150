"""The engine: features once, the rules of the registry over them, and the learned model when there is one.

Without a model (rules only) the score is the rules' combination, ``100 * (1 - prod(1 - c_i / 100))`` over the
rules that fired (``c_i`` a rule's contribution, 0..its weight): independent evidence accumulates, the score never
exceeds 100, and one rule at full weight ``w`` alone gives exactly ``w``; the decision comes from the document's
``bands``. With a model, the model gives the 0-100 score and its own review/alert thresholds decide, and the rules
still give their reason codes. Either way a rule with ``force`` raises the decision to at least its band when it
fires ("always review X"), and a suspicious decision explains itself: the rules that fired and, with a model, the
features that pushed its score most, in plain words (``drivers``).

The model is fed features computed with the spec it was trained with (the artifact keeps it); the rules read the
features of the document's spec. In the usual case they are the same spec and the features are computed once.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fraud.config import EngineConfig
from fraud.document import DECISIONS
from fraud.features import FeatureSpec, describe, extract
from fraud.history import Item, UserHistory, as_item
from fraud.rules import RULES, Reason, Rule

__all__ = ["Assessment", "Driver", "Engine", "Reason", "combine"]

DRIVERS = 3  # features named in an explanation
_RANK = {decision: rank for rank, decision in enumerate(DECISIONS)}


class Model(Protocol):
    """What the engine needs of a model (``fraud.model.Model``)."""

    version: str
    feature_spec: FeatureSpec
    review_threshold: float
    alert_threshold: float

    def score(self, features: Mapping[str, Any]) -> float: ...

    def contributions(self, features: Mapping[str, Any]) -> Sequence[tuple[str, float]]: ...


@dataclass(frozen=True)
class Driver:
    """A feature that pushed the model's score up: its name, its share of the raw score, and what it means."""

    feature: str
    contribution: float
    explanation: str


@dataclass(frozen=True)
class Assessment:
    score: int
    decision: str  # "allow", "review" or "alert"
    reasons: tuple[Reason, ...]  # rules that fired, strongest first
    rules_version: str = ""
    model_version: str | None = None  # None: scored by the rules alone
    drivers: tuple[Driver, ...] = ()  # with a model and a suspicious decision: what drove the score
    forced_by: str | None = None  # the rule code that forced the decision up, if one did

    @property
    def suspicious(self) -> bool:
        return self.decision != "allow"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "decision": self.decision,
            "reasons": [
                {"code": r.code, "score": round(r.score, 1), "explanation": r.explanation} for r in self.reasons
            ],
            "drivers": [
                {"feature": d.feature, "contribution": round(d.contribution, 3), "explanation": d.explanation}
                for d in self.drivers
            ],
            "forced_by": self.forced_by,
            "model_version": self.model_version,
            "rules_version": self.rules_version,
        }


def combine(contributions: Sequence[float]) -> int:
    """``100 * (1 - prod(1 - c / 100))``, rounded to an integer score."""
    remaining = 1.0
    for contribution in contributions:
        remaining *= 1.0 - contribution / 100.0
    return round(100.0 * (1.0 - remaining))


_by_score = operator.itemgetter(1)  # Reason.score


class Engine:
    """Scores transactions against a user's history with the rules of one configuration and, optionally, a model."""

    def __init__(self, config: EngineConfig, model: Model | None = None) -> None:
        self.config = config
        self.spec = config.features
        self.rules: tuple[Rule, ...] = tuple(
            RULES[name](common, settings, self.spec)
            for name, (common, settings) in config.rules.items()
            if common.enabled and common.weight > 0
        )
        self.model = model
        self.model_spec = None if model is None else model.feature_spec
        self._own_spec = model is None or model.feature_spec == self.spec
        self._nothing = Assessment(0, config.decision(0), (), config.version)
        self.rules_version = config.version

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    @property
    def model_version(self) -> str | None:
        return None if self.model is None else self.model.version

    def features(self, txn: dict | Item, history: UserHistory) -> dict[str, Any]:
        """The features the rules read (the document's spec)."""
        return extract(as_item(txn), history, self.spec)

    def assess(self, txn: dict | Item, history: UserHistory) -> Assessment:
        """Score ``txn`` against ``history`` (the user's transactions before it)."""
        item = txn if isinstance(txn, Item) else Item(txn)
        features = extract(item, history, self.spec)
        reasons = []
        forced = 0
        forced_by = None
        for rule in self.rules:
            reason = rule.evaluate(item, features, history)
            if reason is not None:
                reasons.append(reason)
                if rule.force is not None and _RANK[rule.force] > forced:
                    forced, forced_by = _RANK[rule.force], reason.code
        if len(reasons) > 1:
            reasons.sort(key=_by_score, reverse=True)

        model = self.model
        if model is None:
            if not reasons:
                return self._nothing
            if len(reasons) == 1:
                score = round(reasons[0].score)
            else:
                remaining = 1.0
                for reason in reasons:
                    remaining *= 1.0 - reason.score / 100.0
                score = round(100.0 * (1.0 - remaining))
            decision = self.config.decision(score)
            drivers: tuple[Driver, ...] = ()
        else:
            model_features = features if self._own_spec else extract(item, history, self.model_spec)  # type: ignore[arg-type]
            exact = model.score(model_features)
            score = round(exact)
            decision = (
                "alert" if exact >= model.alert_threshold else "review" if exact >= model.review_threshold else "allow"
            )
            drivers = ()
        if forced > _RANK[decision]:
            decision = DECISIONS[forced]
        else:
            forced_by = None
        if model is not None and decision != "allow":
            drivers = self.drivers(model, model_features)
        return Assessment(score, decision, tuple(reasons), self.rules_version, self.model_version, drivers, forced_by)

    def drivers(self, model: Model, features: Mapping[str, Any]) -> tuple[Driver, ...]:
        """The features that pushed the model's score up most, in plain words (one sentence per feature:
        features that describe the same thing, such as an amount and its ratio to the typical, are named once)."""
        spec = self.model_spec or self.spec
        drivers: list[Driver] = []
        said: set[str] = set()
        for name, contribution in model.contributions(features):
            if contribution <= 0 or len(drivers) == DRIVERS:
                break
            value = features.get(name)
            if isinstance(value, float) and value != value:
                continue  # "not known" (no location, no history) explains nothing to a reader
            text = describe(name, features, spec)
            if text in said:
                continue
            said.add(text)
            drivers.append(Driver(name, contribution, text))
        return tuple(drivers)
