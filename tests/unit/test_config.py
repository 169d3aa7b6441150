"""Rules configuration: defaults, partial documents merged over them, loud and precise errors."""

from __future__ import annotations

import json

import pytest

from fraud.config import DEFAULTS_PATH, ConfigError, default_document, load_config


def test_defaults_load_and_match_the_file():
    config = load_config()
    assert config.document == json.loads(DEFAULTS_PATH.read_text())
    assert 0 < config.review_threshold < config.alert_threshold <= 100
    assert config.history_window_ms == 30 * 86_400_000 and config.history_max_items == 500
    assert config.decision(config.alert_threshold) == "alert"
    assert config.decision(config.review_threshold) == "review"
    assert config.decision(config.review_threshold - 1) == "allow"


def test_default_document_is_a_fresh_copy():
    doc = default_document()
    doc["bands"]["alert"] = 1
    assert default_document()["bands"]["alert"] != 1


def test_partial_document_is_merged_over_defaults():
    config = load_config({"bands": {"alert": 90}, "rules": {"merchant_category": {"risk": {"travel": 0.5}}}})
    assert config.alert_threshold == 90 and config.review_threshold == load_config().review_threshold
    assert config.rule("merchant_category").risk["travel"] == 0.5
    default_risk = load_config().rule("merchant_category").risk
    assert config.rule("merchant_category").risk["shopping_net"] == default_risk["shopping_net"]
    assert config.document["bands"] == {**default_document()["bands"], "alert": 90}


def test_lists_replace_rather_than_merge():
    window = {"window": "7d", "max_count": 3, "max_amount": 100.0, "baseline_factor": 0}
    config = load_config({"rules": {"velocity": {"windows": [window]}}})
    assert [w.name for w in config.rule("velocity").windows] == ["7d"]
    assert config.rule("velocity").windows[0].span_ms == 7 * 86_400_000


def test_every_rule_of_the_registry_has_defaults_and_reads_known_features():
    from fraud.features import FEATURE_NAMES
    from fraud.rules import RULES

    config = load_config()
    assert list(config.rules) == list(RULES) == list(default_document()["rules"])
    for rule in RULES.values():
        assert rule.reads and set(rule.reads) <= set(FEATURE_NAMES), rule.name


def test_the_features_section_round_trips_through_its_spec():
    from fraud.features import FeatureSpec

    spec = load_config().features
    assert FeatureSpec.from_document(spec.to_document()) == spec
    assert spec.to_document() == FeatureSpec.from_document(default_document()["features"]).to_document()


def test_a_rule_can_force_a_band_and_the_version_names_the_document():
    config = load_config({"rules": {"card_testing": {"force": "alert"}}})
    assert config.rules["card_testing"][0].force == "alert"
    assert load_config().rules["card_testing"][0].force is None
    assert config.version != load_config().version and config.version.startswith("rules-")
    assert load_config().version == load_config({}).version


@pytest.mark.parametrize("raw", [json.dumps({"bands": {"alert": 80}}), json.dumps({"bands": {"alert": 80}}).encode()])
def test_json_text_is_accepted(raw):
    assert load_config(raw).alert_threshold == 80


@pytest.mark.parametrize(
    ("document", "path", "reason"),
    [
        ("{not json", "<document>", "not valid JSON"),
        ("[1]", "<document>", "must be a JSON object"),
        ({"bandz": {}}, "bandz", "unknown key"),
        ({"rules": {"velocity": {"weigth": 3}}}, "rules.velocity.weigth", "unknown key"),
        ({"rules": {"nonsense": {}}}, "rules.nonsense", "unknown key"),
        ({"bands": {"review": 80, "alert": 70}}, "bands", "review (80) must be less than alert (70)"),
        ({"bands": {"alert": 101}}, "bands.alert", "at most 100"),
        ({"bands": "high"}, "bands", "must be an object"),
        ({"history": {"window_days": 0}}, "history.window_days", "greater than 0"),
        ({"history": {"max_items": 2.5}}, "history.max_items", "whole number"),
        ({"rules": {"high_amount": {"weight": -1}}}, "rules.high_amount.weight", "at least 0"),
        ({"rules": {"high_amount": {"weight": "10"}}}, "rules.high_amount.weight", "must be a number"),
        ({"rules": {"high_amount": {"weight": True}}}, "rules.high_amount.weight", "must be a number"),
        ({"rules": {"high_amount": {"start": 6000}}}, "rules.high_amount", "start (6000) must be less than full"),
        (
            {"rules": {"high_amount": {"categories": {"home": {"start": 300, "full": 200}}}}},
            "rules.high_amount.categories.home",
            "start (300) must be less than full",
        ),
        (
            {"rules": {"high_amount": {"categories": {"jewelry": {"start": 300}}}}},
            "rules.high_amount.categories.jewelry.full",
            "is required",
        ),
        ({"rules": {"new_device": {"enabled": "yes"}}}, "rules.new_device.enabled", "true or false"),
        ({"rules": {"velocity": {"windows": {}}}}, "rules.velocity.windows", "must be a list"),
        (
            {"rules": {"velocity": {"windows": [{"window": "3h", "max_count": 1}]}}},
            "rules.velocity.windows[0].window",
            "must be one of 1h, 24h, 7d, got '3h'",
        ),
        (
            {"rules": {"velocity": {"windows": [{"window": "1h"}]}}},
            "rules.velocity.windows[0].max_count",
            "is required",
        ),
        ({"features": {"windows": {"1h": 0}}}, "features.windows.1h", "greater than 0"),
        ({"features": {"windows": {"7d": 60 * 86_400}}}, "features.windows.7d", "longer than history.window_days"),
        ({"features": {"windows": {"1h": 90_000}}}, "features.windows", "1h (90000000) must be less than 24h"),
        ({"rules": {"card_testing": {"force": "block"}}}, "rules.card_testing.force", "must be one of review, alert"),
        (
            {"rules": {"merchant_category": {"risk": {"travel": 1.5}}}},
            "rules.merchant_category.risk.travel",
            "at most 1",
        ),
        (
            {"features": {"amount": {"categories": {"x": {"typical": 0, "spread": 1, "high": 5}}}}},
            "features.amount.categories.x.typical",
            "greater than 0",
        ),
        (
            {"features": {"amount": {"categories": {"x": {"typical": 3, "spread": 1}}}}},
            "features.amount.categories.x.high",
            "is required",
        ),
        ({"rules": {"amount_anomaly": {"z_start": 5, "z_full": 4}}}, "rules.amount_anomaly", "z_start (5)"),
        (
            {"rules": {"card_testing": {"min_count": 5, "full_count": 4}}},
            "rules.card_testing.full_count",
            "at least min_count",
        ),
        ({"rules": {"unusual_hour": {"max_share": 0}}}, "rules.unusual_hour.max_share", "greater than 0"),
        ({"rules": {"spree": {"min_hour_risk": 0.5}}}, "rules.spree.min_hour_risk", "unknown key"),
        ({"features": {"night": {"hours": [23, 24]}}}, "features.night.hours", "hours of day, 0 to 23"),
        ({"features": {"night": {"hours": "23"}}}, "features.night.hours", "list of hours"),
        (
            {"features": {"night": {"window_seconds": 40 * 86400}}},
            "features.night.window_seconds",
            "longer than history",
        ),
        ({"rules": {"risky_hour": {"risk": {"24": 1.0}}}}, "rules.risky_hour.risk.24", "hour of day"),
        ({"rules": {"risky_hour": {"risk": {"3": -1}}}}, "rules.risky_hour.risk.3", "at least 0"),
        ({"patterns": {"shared_ip": {"min_users": 1}}}, "patterns.shared_ip.min_users", "at least 2"),
        ({"patterns": {"merchant_spike": {"factor": 1}}}, "patterns.merchant_spike.factor", "greater than 1"),
        ({"patterns": {"suppression_minutes": -5}}, "patterns.suppression_minutes", "at least 0"),
        (
            {"rules": {"impossible_travel": {"max_speed_kmh": float("nan")}}},
            "rules.impossible_travel.max_speed_kmh",
            "finite",
        ),
    ],
)
def test_invalid_documents_name_the_key_and_why(document, path, reason):
    with pytest.raises(ConfigError) as caught:
        load_config(document)
    assert caught.value.path == path or (path == "<document>" and caught.value.path == "")
    assert reason in str(caught.value)
    assert path in str(caught.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
