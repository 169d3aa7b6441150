"""The rules document: defaults, merging and validation into a typed, read-only view.

The document (``rules.default.json``, overridden by the SSM parameter) is deep-merged over the defaults, then read
section by section: ``bands`` and ``history`` here, ``features`` by ``fraud.features.FeatureSpec``, each
``rules.<name>`` by its rule in the registry (``fraud.rules.RULES``), ``patterns`` here. Reading *is* validating:
every value is checked for type and range where it is read, and every key that was not read is unknown. Any
problem raises ``ConfigError`` naming the key path and why. Keys are documented in ``docs/rules.md``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fraud.document import ConfigError, Section, kind, ordered
from fraud.features import FeatureSpec
from fraud.rules import RULES, Common

__all__ = ["ConfigError", "EngineConfig", "PatternConfig", "default_document", "load_config", "merge"]

DEFAULTS_PATH = pathlib.Path(__file__).resolve().with_name("rules.default.json")
DAY_MS = 86_400_000


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
    features: FeatureSpec
    rules: Mapping[str, tuple[Common, Any]]  # rule name -> (common settings, the rule's own settings)
    patterns: PatternConfig
    document: dict = field(repr=False, compare=False)

    def decision(self, score: float) -> str:
        if score >= self.alert_threshold:
            return "alert"
        if score >= self.review_threshold:
            return "review"
        return "allow"

    def rule(self, name: str) -> Any:
        """A rule's own settings (``config.rule("velocity").windows``)."""
        return self.rules[name][1]

    @functools.cached_property
    def version(self) -> str:
        """A short hash of the merged document: which rules scored a transaction (alerts and logs carry it)."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return "rules-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


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


def _patterns(s: Section) -> PatternConfig:
    card = s.section("card_testing")
    spike = s.section("merchant_spike")
    device, ip = s.section("shared_device"), s.section("shared_ip")
    cards, countries = s.section("user_many_cards"), s.section("user_many_countries")
    cfg = PatternConfig(
        suppression_ms=int(s.number("suppression_minutes", minimum=0) * 60_000),
        card_testing_max_amount=card.positive("max_amount"),
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
    root = Section(document, "")
    bands = root.section("bands")
    review = bands.number("review", minimum=0, maximum=100)
    alert = bands.number("alert", minimum=0, maximum=100)
    ordered("bands", review, alert, "review", "alert")
    bands.done()

    history = root.section("history")
    window_days = history.positive("window_days")
    max_items = history.count("max_items")
    history.done()
    window_ms = int(window_days * DAY_MS)

    spec = FeatureSpec.parse(root.section("features"))
    for name, span_ms in (
        *(("windows." + w, ms) for w, ms in zip(("1h", "24h", "7d"), spec.windows_ms, strict=True)),
        ("small_amount.window_seconds", spec.small_window_ms),
        ("night.window_seconds", spec.night_window_ms),
    ):
        if span_ms > window_ms:  # the history would not hold the whole window
            raise ConfigError(f"features.{name}", f"must not be longer than history.window_days ({window_days} days)")

    rules_section = root.section("rules")
    rules = {name: rule.parse(rules_section.section(name), spec) for name, rule in RULES.items()}
    rules_section.done()

    patterns = _patterns(root.section("patterns"))
    root.done()
    return EngineConfig(
        review_threshold=review,
        alert_threshold=alert,
        history_window_ms=window_ms,
        history_max_items=max_items,
        features=spec,
        rules=rules,
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
        raise ConfigError("", f"must be a JSON object, got {kind(override)}")
    return _engine_config(merge(default_document(), override))
