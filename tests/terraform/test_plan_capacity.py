"""Capacity as each profile is sized (tools/deploy/profiles/*.json, docs/architecture.md "Capacity"):
time-bucket shards for the burst, stream batches and parallelization per routing, the lag alarms."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tools import capacity

PER_KEY_WRITES = 500  # what the sizing lets one time-bucket key take per second (half of DynamoDB's 1,000)


def function_wiring() -> dict:
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with (ROOT / "terraform" / "functions.tf").open() as handle:
        configured = hcl2.load(handle, serialization_options=options)["locals"]
    return next(block["function_wiring"] for block in configured if "function_wiring" in block)


def profile(plan) -> dict:
    return json.loads((ROOT / "tools" / "deploy" / "profiles" / f"{plan.config.profile}.json").read_text())["variables"]


def test_the_time_bucket_shards_of_the_profile_reach_both_functions_and_cover_its_burst(any_plan):
    sized = profile(any_plan)
    shards = sized["time_bucket_shards"]
    wiring = function_wiring()
    writer = any_plan.functions()["process-transaction"]
    assert writer.get("environment", 0, "variables", "TIME_BUCKET_SHARDS") == str(shards)
    # analyze-patterns' environment is known only after apply (it names the index): the same local.
    assert {
        wiring[key]["environment"]["TIME_BUCKET_SHARDS"] for key in ("process-transaction", "analyze-patterns")
    } == {"${local.time_bucket_shards}"}
    assert shards * PER_KEY_WRITES >= sized["peak_transactions_per_second"]["burst"]


def test_prod_takes_more_than_the_four_keys_that_capped_intake_at_about_4000_per_second(prod_plan):
    assert prod_plan.variables["peak_transactions_per_second"] == {"sustained": 1000, "burst": 2500}
    assert prod_plan.variables["time_bucket_shards"] == 8, "5 needed at 500 per key; room to 4,000 per second"


def test_the_api_admits_the_burst_the_profile_is_sized_for(any_plan):
    # The transaction API's (the console's own API has its own, smaller limits).
    (settings,) = [
        s for s in any_plan.resources("aws_api_gateway_method_settings") if s.address.startswith("module.api.")
    ]
    burst = settings.get("settings", 0, "throttling_burst_limit")
    assert burst == any_plan.variables["peak_transactions_per_second"]["burst"]
    (plan,) = [p for p in any_plan.resources("aws_api_gateway_usage_plan") if p.address.startswith("module.api.")]
    assert plan.get("throttle_settings", 0, "burst_limit") == burst


def test_the_pipe_puts_batches_of_10_records_as_10_entries_with_the_profiles_parallelization(eventbridge_plan):
    (pipe,) = eventbridge_plan.resources("aws_pipes_pipe")
    source = pipe.get("source_parameters", 0, "dynamodb_stream_parameters", 0)
    assert source["batch_size"] == 10, "PutEvents takes 10 entries: one event per record"
    factor = profile(eventbridge_plan)["stream_parallelization_factor"]["eventbridge"]
    assert source["parallelization_factor"] == factor
    assert factor == {"dev": 1, "prod": 2}[eventbridge_plan.config.profile]


def test_the_event_source_mapping_scores_the_profiles_batches_per_shard_at_once(direct_plan):
    (mapping,) = [m for m in direct_plan.resources("aws_lambda_event_source_mapping") if m.get("starting_position")]
    assert mapping.get("batch_size") == 10
    factor = profile(direct_plan)["stream_parallelization_factor"]["direct"]
    assert mapping.get("parallelization_factor") == factor
    assert factor == {"dev": 1, "prod": 8}[direct_plan.config.profile]
    if direct_plan.config.profile == "prod":
        # At the sustained peak every batch the mapping runs at once has a sandbox of the reservation.
        sustained = direct_plan.variables["peak_transactions_per_second"]["sustained"]
        reserved = direct_plan.functions()["detect-fraud"].get("reserved_concurrent_executions")
        assert capacity.stream_shards(sustained) * factor <= reserved


def test_both_routings_alarm_on_detect_frauds_stream_lag(any_plan):
    [alarm] = [a for a in any_plan.alarms().values() if a.get("metric_name") == "StreamLag"]
    assert alarm.get("alarm_name") == f"stream-lag-detect-fraud-{any_plan.suffix}"
    assert (alarm.get("namespace"), alarm.get("dimensions")) == ("FraudDetection", {"service": "fraud-detection"})
    assert (alarm.get("statistic"), alarm.get("period")) == ("Maximum", 300)
    assert alarm.get("threshold") == any_plan.variables["stream_lag_alarm_seconds"] * 1000
    assert alarm.get("comparison_operator") == "GreaterThanThreshold"
    iterator_age = [a for a in any_plan.alarms().values() if a.get("metric_name") == "IteratorAge"]
    assert len(iterator_age) == (1 if any_plan.config.stream_consumer == "direct" else 0), "direct keeps IteratorAge"
    dashboard = json.loads(any_plan.resources("aws_cloudwatch_dashboard")[0].get("dashboard_body"))
    assert ("FraudDetection", "StreamLag") in {
        (m[0], m[1]) for w in dashboard["widgets"] for m in w["properties"]["metrics"]
    }
