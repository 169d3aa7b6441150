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
    assert config.merchant_category.risk["travel"] == 0.5
    assert config.merchant_category.risk["shopping_net"] == load_config().merchant_category.risk["shopping_net"]
    assert config.document["bands"] == {**default_document()["bands"], "alert": 90}


def test_lists_replace_rather_than_merge():
    window = {"name": "10m", "seconds": 600, "max_count": 3, "max_amount": 100.0, "baseline_factor": 0}
    config = load_config({"rules": {"velocity": {"windows": [window]}}})
    assert [w.name for w in config.velocity.windows] == ["10m"]
    assert config.velocity.windows[0].span_ms == 600_000


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
            {
                "rules": {
                    "velocity": {
                        "windows": [{"name": "x", "seconds": 0, "max_count": 1, "max_amount": 1, "baseline_factor": 0}]
                    }
                }
            },
            "rules.velocity.windows[0].seconds",
            "greater than 0",
        ),
        (
            {"rules": {"velocity": {"windows": [{"name": "x", "seconds": 60}]}}},
            "rules.velocity.windows[0].max_count",
            "is required",
        ),
        (
            {
                "rules": {
                    "velocity": {
                        "windows": [
                            {"name": "x", "seconds": 60 * 86_400, "max_count": 1, "max_amount": 1, "baseline_factor": 0}
                        ]
                    }
                }
            },
            "rules.velocity.windows[0].seconds",
            "longer than history.window_days",
        ),
        (
            {"rules": {"merchant_category": {"risk": {"travel": 1.5}}}},
            "rules.merchant_category.risk.travel",
            "at most 1",
        ),
        (
            {"rules": {"amount_anomaly": {"category_priors": {"x": {"typical": 0, "spread": 1}}}}},
            "rules.amount_anomaly.category_priors.x.typical",
            "greater than 0",
        ),
        ({"rules": {"amount_anomaly": {"z_start": 5, "z_full": 4}}}, "rules.amount_anomaly", "z_start (5)"),
        (
            {"rules": {"card_testing": {"min_count": 5, "full_count": 4}}},
            "rules.card_testing.full_count",
            "at least min_count",
        ),
        ({"rules": {"unusual_hour": {"max_share": 0}}}, "rules.unusual_hour.max_share", "greater than 0"),
        ({"rules": {"spree": {"min_hour_risk": 2}}}, "rules.spree.min_hour_risk", "at most 1"),
        ({"rules": {"spree": {"window_seconds": 40 * 86400}}}, "rules.spree.window_seconds", "longer than history"),
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
