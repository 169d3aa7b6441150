"""The requirements of the pipeline, checked on plans of the root module.

Four configurations are planned (see conftest.py): dev and prod profiles, both stream consumers, VPC
on (prod) and off (dev). Each test names the requirement it checks; a fixture named after a subset
(``prod_plan``, ``direct_plan``, ...) runs it on the configurations that subset covers.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from tools.deploy.package import FUNCTIONS

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

STREAM_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["transaction"]}}}}
REQUIRED_TAGS = ("Environment", "Project", "CostCenter")
# Attributes that carry a resource's name, by resource type (the rest use `name`).
NAME_ATTRIBUTES = {
    "aws_lambda_function": "function_name",
    "aws_cloudwatch_metric_alarm": "alarm_name",
    "aws_api_gateway_stage": "stage_name",
    "aws_s3_bucket": "bucket",
    "aws_cloudwatch_dashboard": "dashboard_name",
}
# Everything the X-Ray SDK and a Lambda ENI need; none of these actions accepts a resource ARN.
UNSCOPED_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
# API Gateway model names must be alphanumeric: no "-<suffix>" possible (and they live inside the API).
# The user pool's groups are named as the tokens carry them ("analysts", "admins"); the pool is the environment's.
NAMES_WITHOUT_SUFFIX = {"aws_api_gateway_model", "aws_cognito_user_group"}


def alerts_queue(plan):
    return plan.named("aws_sqs_queue", f"fraud-alerts-{plan.suffix}")


def alerts_dlq(plan):
    return plan.named("aws_sqs_queue", f"fraud-alerts-dlq-{plan.suffix}")


# --- Functions ---------------------------------------------------------------------------------------


def test_every_function_of_the_catalog_is_deployed_with_its_handler_from_the_packaged_zips(any_plan, artifacts):
    functions = any_plan.functions()
    assert set(functions) == set(FUNCTIONS)
    for key, function in functions.items():
        assert function.get("handler") == f"{FUNCTIONS[key]}.handler"
        assert function.get("filename") == str(artifacts / f"{key}.zip")
        assert function.is_set("source_code_hash")


def test_every_function_runs_python311_on_arm64(any_plan):
    for key, function in any_plan.functions().items():
        assert (function.get("runtime"), function.get("architectures")) == ("python3.11", ["arm64"]), key


def test_every_function_traces_with_xray(any_plan):
    for key, function in any_plan.functions().items():
        assert function.get("tracing_config", 0, "mode") == "Active", key


def test_every_function_encrypts_its_environment_with_the_cmk(any_plan):
    for key, function in any_plan.functions().items():
        assert function.is_set("kms_key_arn"), key


def test_every_function_sends_async_failures_to_an_on_failure_destination(any_plan):
    configs = {r.get("function_name"): r for r in any_plan.resources("aws_lambda_function_event_invoke_config")}
    for key in FUNCTIONS:
        config = configs[f"{key}-{any_plan.suffix}"]
        assert config.is_set("destination_config", 0, "on_failure", 0, "destination"), key


def test_prod_reserves_100_per_function_on_the_transaction_path(prod_plan):
    functions = prod_plan.functions()
    for key in ("process-transaction", "detect-fraud", "notify-team"):
        assert functions[key].get("reserved_concurrent_executions") == 100, key
    # The schedules' functions: a handful (test_plan_security.py); the console and its authorizer: a team's clicks.
    for key in ("console", "console-authorizer"):
        assert functions[key].get("reserved_concurrent_executions") == 10, key


def test_dev_reserves_no_concurrency(dev_plan):
    for key, function in dev_plan.functions().items():
        assert function.get("reserved_concurrent_executions") in (None, -1), key


def test_every_function_has_an_error_rate_alarm_guarded_against_zero_invocations(any_plan):
    alarms = {r.get("alarm_name"): r for r in any_plan.resources("aws_cloudwatch_metric_alarm")}
    for key in FUNCTIONS:
        alarm = next(a for name, a in alarms.items() if name.startswith("error-rate") and f"{key}-" in name)
        expressions = [q["expression"] for q in alarm.get("metric_query") if q.get("expression")]
        assert len(expressions) == 1, key
        compact = expressions[0].replace(" ", "")
        assert compact.startswith("IF(") and ">0," in compact and compact.endswith(",0)"), expressions[0]
        assert alarm.get("threshold") == 1, key
        periods = {m["period"] for q in alarm.get("metric_query") for m in q.get("metric") or []}
        assert periods == {300}, key


# --- Data ----------------------------------------------------------------------------------------------


def test_the_table_has_pitr_a_stream_and_the_cmk(any_plan):
    table = any_plan.named("aws_dynamodb_table", f"transactions-{any_plan.suffix}")
    assert table.get("point_in_time_recovery", 0, "enabled") is True
    assert (table.get("stream_enabled"), table.get("stream_view_type")) == (True, "NEW_AND_OLD_IMAGES")
    assert table.get("server_side_encryption", 0, "enabled") is True
    assert table.is_set("server_side_encryption", 0, "kms_key_arn"), "SSE must use the customer-managed key"
    assert table.get("billing_mode") == "PAY_PER_REQUEST"


def test_the_table_has_the_contract_keys_and_indexes(any_plan):
    table = any_plan.named("aws_dynamodb_table", f"transactions-{any_plan.suffix}")
    assert (table.get("hash_key"), table.get("range_key")) == ("transaction_id", "timestamp")
    indexes = {index["name"]: index for index in table.get("global_secondary_index")}
    user = indexes["user_id-timestamp-index"]
    assert (user["hash_key"], user["range_key"], user["projection_type"]) == ("user_id", "timestamp", "ALL")
    # Windows are on the time a transaction arrived, so a late upload is still analysed.
    bucket = indexes["time_bucket-received_at-index"]
    assert (bucket["hash_key"], bucket["range_key"]) == ("time_bucket", "received_at")
    attributes = {a["name"]: a["type"] for a in table.get("attribute")}
    assert attributes["received_at"] == "N"


def test_the_rules_parameter_is_seeded_from_the_default_rules_file(any_plan):
    parameter = any_plan.named("aws_ssm_parameter", f"/fraud-detection/{any_plan.suffix}/rules-{any_plan.suffix}")
    default = json.loads((ROOT / "lambdas" / "fraud" / "rules.default.json").read_text())
    assert json.loads(parameter.get("value")) == default


# --- Stream routing ------------------------------------------------------------------------------------


def test_the_pipe_filters_inserts(eventbridge_plan):
    (pipe,) = eventbridge_plan.resources("aws_pipes_pipe")
    patterns = [f["pattern"] for f in pipe.get("source_parameters", 0, "filter_criteria", 0, "filter")]
    assert [json.loads(p) for p in patterns] == [STREAM_FILTER]
    bus = pipe.get("target_parameters", 0, "eventbridge_event_bus_parameters", 0)
    assert (bus["source"], bus["detail_type"]) == ("fraud.transactions", "TransactionInserted")


def test_the_rule_matches_what_the_pipe_sends_and_targets_detect_fraud(eventbridge_plan):
    rules = [r for r in eventbridge_plan.resources("aws_cloudwatch_event_rule") if r.get("event_pattern")]
    assert len(rules) == 1
    pattern = json.loads(rules[0].get("event_pattern"))
    assert pattern["source"] == ["fraud.transactions"] and pattern["detail-type"] == ["TransactionInserted"]
    assert rules[0].get("event_bus_name") in (None, f"fraud-events-{eventbridge_plan.suffix}") or rules[0].is_unknown(
        "event_bus_name"
    )
    assert not eventbridge_plan.resources("aws_lambda_event_source_mapping") or all(
        m.get("starting_position") is None for m in eventbridge_plan.resources("aws_lambda_event_source_mapping")
    ), "eventbridge mode must not also read the stream directly"


def test_the_event_source_mapping_reports_batch_item_failures(direct_plan):
    streams = [m for m in direct_plan.resources("aws_lambda_event_source_mapping") if m.get("starting_position")]
    assert len(streams) == 1
    (mapping,) = streams
    assert mapping.get("function_response_types") == ["ReportBatchItemFailures"]
    assert mapping.get("bisect_batch_on_function_error") is True
    assert 0 <= mapping.get("maximum_retry_attempts") <= 10
    # A record that keeps failing stays retryable (and replayable from the stream) for its whole 24 h.
    assert mapping.get("maximum_record_age_in_seconds") == 86400
    assert mapping.is_set("destination_config", 0, "on_failure", 0, "destination_arn")
    patterns = [f["pattern"] for f in mapping.get("filter_criteria", 0, "filter")]
    assert [json.loads(p) for p in patterns] == [STREAM_FILTER]
    assert not direct_plan.resources("aws_pipes_pipe"), "direct mode must not also run the pipe"


# --- Alerts --------------------------------------------------------------------------------------------


def test_the_dlq_keeps_messages_14_days(any_plan):
    assert alerts_dlq(any_plan).get("message_retention_seconds") == 14 * 24 * 3600


def test_alerts_redrive_to_the_dlq_after_3_receives(any_plan):
    queue = alerts_queue(any_plan)
    if queue.get("redrive_policy"):  # known at plan time
        policy = json.loads(queue.get("redrive_policy"))
        assert policy["maxReceiveCount"] == 3
        return
    # The policy names the DLQ's ARN, known only after apply: check what it is built from instead.
    references = any_plan.module_expression(queue, "redrive_policy")["references"]
    dlq_address = alerts_dlq(any_plan).address.split(".", 2)[-1]
    assert f"{dlq_address}.arn" in references
    assert "var.max_receive_count" in references
    assert any_plan.resolve_module_variable(queue, "max_receive_count") == 3


def test_queue_visibility_is_at_least_6x_the_consumer_timeout(any_plan):
    consumer = any_plan.functions()["notify-team"]
    assert alerts_queue(any_plan).get("visibility_timeout_seconds") >= 6 * consumer.get("timeout")
    assert alerts_queue(any_plan).get("visibility_timeout_seconds") == 360


def test_every_queue_and_topic_is_encrypted_with_the_cmk(any_plan):
    for resource in any_plan.resources("aws_sqs_queue") + any_plan.resources("aws_sns_topic"):
        assert resource.is_set("kms_master_key_id"), resource.address


def test_the_alert_topic_logs_delivery_status_and_feeds_an_sqs_subscription(any_plan):
    topic = any_plan.named("aws_sns_topic", f"fraud-notifications-{any_plan.suffix}")
    assert topic.is_set("sqs_success_feedback_role_arn") and topic.is_set("sqs_failure_feedback_role_arn")
    protocols = [s.get("protocol") for s in any_plan.resources("aws_sns_topic_subscription")]
    assert "sqs" in protocols


def test_analyze_patterns_runs_every_5_minutes(any_plan):
    schedules = [r.get("schedule_expression") for r in any_plan.resources("aws_cloudwatch_event_rule")]
    assert "rate(5 minutes)" in schedules


def test_dlq_depth_and_api_5xx_are_alarmed(any_plan):
    alarms = any_plan.resources("aws_cloudwatch_metric_alarm")
    dlq_alarms = [a for a in alarms if a.get("metric_name") == "ApproximateNumberOfMessagesVisible"]
    watched = {a.get("dimensions", "QueueName") for a in dlq_alarms}
    assert f"fraud-alerts-dlq-{any_plan.suffix}" in watched
    assert any(a.get("metric_name") == "5XXError" for a in alarms)


# --- API -----------------------------------------------------------------------------------------------


def test_the_api_requires_a_key_and_validates_the_body_with_the_schema_files_model(any_plan):
    (method,) = [m for m in any_plan.resources("aws_api_gateway_method") if m.address.startswith("module.api.")]
    assert method.get("http_method") == "POST" and method.get("api_key_required") is True
    assert method.is_set("request_validator_id")
    (validator,) = any_plan.resources("aws_api_gateway_request_validator")
    assert validator.get("validate_request_body") is True
    (model,) = any_plan.resources("aws_api_gateway_model")
    # $default: a request with any other Content-Type is validated too, never passed through unchecked.
    assert method.get("request_models") == {"application/json": model.get("name"), "$default": model.get("name")}
    schema = json.loads((ROOT / "lambdas" / "fraud" / "transaction.schema.json").read_text())
    assert json.loads(model.get("schema")) == schema
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_stage_throttles_at_1000_rps(any_plan):
    (settings,) = [
        s for s in any_plan.resources("aws_api_gateway_method_settings") if s.address.startswith("module.api.")
    ]
    assert settings.get("method_path") == "*/*"
    assert settings.get("settings", 0, "throttling_rate_limit") == 1000
    # The burst is the profile's (prod: 2,500): tests/terraform/test_plan_capacity.py.
    assert settings.get("settings", 0, "throttling_burst_limit") == any_plan.variables["api_throttle_burst_limit"]


def test_every_stage_traces_with_xray_and_writes_json_access_logs(any_plan):
    for stage in any_plan.resources("aws_api_gateway_stage"):  # the transaction API's and the console's
        assert stage.get("xray_tracing_enabled") is True
        assert stage.is_set("access_log_settings", 0, "destination_arn")
        assert json.loads(stage.get("access_log_settings", 0, "format"))["requestId"] == "$context.requestId"


def test_the_usage_plan_has_a_daily_quota_from_the_profile(any_plan):
    (usage_plan,) = any_plan.resources("aws_api_gateway_usage_plan")
    quota = usage_plan.get("quota_settings", 0)
    assert (quota["limit"], quota["period"]) == (any_plan.variables["api_quota_limit"], "DAY")
    assert any_plan.resources("aws_api_gateway_usage_plan_key")


# --- IAM -----------------------------------------------------------------------------------------------


def test_no_iam_statement_allows_a_wildcard_action(any_plan):
    statements = [s for s in any_plan.statements() if s.is_identity_statement]
    assert statements, "no role policy statements found in the plan"
    wildcards = [(s.document, s.sid, a) for s in statements for a in s.actions if "*" in a]
    assert wildcards == []


def test_only_xray_and_eni_statements_use_resource_star(any_plan):
    unscoped = [s for s in any_plan.statements() if s.is_identity_statement and "*" in s.resources]
    assert unscoped, "the functions need X-Ray's PutTraceSegments, which takes no resource ARN"
    for statement in unscoped:
        assert set(statement.actions) <= UNSCOPED_ACTIONS, (statement.document, statement.sid, statement.actions)


def test_each_function_has_its_own_role(any_plan):
    role_names = [r.get("name") for r in any_plan.resources("aws_iam_role")]
    for key in FUNCTIONS:
        assert len([n for n in role_names if n.endswith(f"{key}-{any_plan.suffix}")]) == 1, key


def test_every_role_name_carries_the_region_so_a_second_region_never_collides(any_plan):
    # IAM is global: the same suffix in two regions would fight over a name without the region.
    region = any_plan.variables["region"]
    names = [r.get("name") for r in any_plan.resources("aws_iam_role")]
    assert names
    for name in names:
        assert f"-{region}-" in name and name.endswith(f"-{any_plan.suffix}") and len(name) <= 64, name


# --- Logs, names, tags, destroy -----------------------------------------------------------------------


def test_every_log_group_has_a_retention_and_a_kms_key(any_plan):
    for group in any_plan.resources("aws_cloudwatch_log_group"):
        assert group.get("retention_in_days") == any_plan.variables["log_retention_days"], group.address
        assert group.is_set("kms_key_id"), group.address


def test_every_function_log_group_is_named_after_its_function(any_plan):
    names = {g.get("name") for g in any_plan.resources("aws_cloudwatch_log_group")}
    assert {f"/aws/lambda/{key}-{any_plan.suffix}" for key in FUNCTIONS} <= names


def test_every_name_ends_with_the_suffix(any_plan):
    offenders = []
    for resource in any_plan.resources():
        if resource.type in NAMES_WITHOUT_SUFFIX:
            continue
        name = resource.get(NAME_ATTRIBUTES.get(resource.type, "name"))
        if not isinstance(name, str) or name == any_plan.suffix or name.endswith(f"-{any_plan.suffix}"):
            continue
        # Some log groups have names AWS dictates (SNS delivery status: sns/<region>/<account>/<topic>/Failure):
        # there the suffixed resource they log for must be one of the path's segments.
        if resource.type == "aws_cloudwatch_log_group" and any(
            segment.endswith(f"-{any_plan.suffix}") for segment in name.split("/")
        ):
            continue
        offenders.append((resource.address, name))
    assert offenders == []


def test_every_taggable_resource_has_environment_project_and_cost_center(any_plan):
    taggable = [r for r in any_plan.resources() if "tags_all" in r.values or r.is_unknown("tags_all")]
    assert len(taggable) > 20
    for resource in taggable:
        tags = resource.get("tags_all") or {}
        assert {key: tags.get(key) for key in REQUIRED_TAGS} == {
            "Environment": any_plan.suffix,
            "Project": any_plan.variables["project"],
            "CostCenter": any_plan.variables["cost_center"],
        }, resource.address


def test_a_dev_environment_has_nothing_that_blocks_its_destroy(dev_plan):
    protected = [
        r.address
        for r in dev_plan.resources()
        for attribute in ("deletion_protection_enabled", "deletion_protection")
        if r.get(attribute) is True
    ]
    assert protected == []
    assert all(b.get("force_destroy") is True for b in dev_plan.resources("aws_s3_bucket"))


def test_prod_protects_its_tables_and_nothing_else_blocks_the_destroy_once_that_is_off(prod_plan):
    protected = {
        r.address
        for r in prod_plan.resources()
        for attribute in ("deletion_protection_enabled", "deletion_protection")
        if r.get(attribute) is True
    }
    assert protected == {
        "module.data.aws_dynamodb_table.transactions",
        "module.data.aws_dynamodb_table.state",
        *(f"module.cases.aws_dynamodb_table.{table}" for table in ("cases", "labels", "lists")),
    }


def test_the_key_rotates(any_plan):
    (key,) = any_plan.resources("aws_kms_key")
    assert key.get("enable_key_rotation") is True


# --- Network -------------------------------------------------------------------------------------------


def test_vpc_functions_have_subnets_in_two_azs_and_endpoints_for_each_service(vpc_plan):
    zones = {s.get("availability_zone_id") for s in vpc_plan.resources("aws_subnet")}
    assert len(zones) >= 2
    assert all(s.get("map_public_ip_on_launch") is False for s in vpc_plan.resources("aws_subnet"))
    for key, function in vpc_plan.functions().items():
        assert function.is_set("vpc_config", 0, "subnet_ids") and function.is_set(
            "vpc_config", 0, "security_group_ids"
        ), key
    endpoints = {e.get("service_name").rsplit(".", 1)[-1]: e for e in vpc_plan.resources("aws_vpc_endpoint")}
    assert endpoints["dynamodb"].get("vpc_endpoint_type") == "Gateway"
    for service in ("sqs", "sns", "ssm"):
        assert endpoints[service].get("vpc_endpoint_type") == "Interface", service
        assert endpoints[service].get("private_dns_enabled") is True, service
    assert not vpc_plan.resources("aws_nat_gateway") and not vpc_plan.resources("aws_internet_gateway")


def test_vpc_functions_may_only_send_https(vpc_plan):
    rules = vpc_plan.resources("aws_vpc_security_group_egress_rule")
    assert rules
    for rule in rules:
        assert (rule.get("ip_protocol"), rule.get("from_port"), rule.get("to_port")) == ("tcp", 443, 443), rule.address


def test_without_vpc_nothing_network_is_created(no_vpc_plan):
    assert not no_vpc_plan.resources("aws_vpc") and not no_vpc_plan.resources("aws_vpc_endpoint")
    for key, function in no_vpc_plan.functions().items():
        assert not function.is_set("vpc_config", 0, "subnet_ids"), key
