"""Production security and data safety, checked on the plans of the root module (prod and dev profiles).

Who may post transactions (IAM authorization, a resource policy), what API Gateway may write to
CloudWatch (no execution log that quotes a request), what survives a destroy (deletion protection,
the key's deletion window, the model bucket) and what the events are encrypted with (the bus and the
Pipe under the CMK). Same configurations and fixtures as the other plan tests (see conftest.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.terraform.test_plan_production import conditions, document

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def resource_policy(plan) -> dict[str, Any]:
    (policy,) = plan.resources("aws_api_gateway_rest_api_policy")
    # The document is read at apply (it names the API's execution ARN): the plan has its statements.
    return {s.get("sid"): s for s in document(plan, r"module\.api\.data\.aws_iam_policy_document\.invoke$")}


# --- Who may post transactions ---------------------------------------------------------------------


def test_prod_producers_must_sign_with_iam_and_still_send_the_key_for_metering(prod_plan):
    (method,) = [m for m in prod_plan.resources("aws_api_gateway_method") if m.address.startswith("module.api.")]
    assert method.get("authorization") == "AWS_IAM"
    assert method.get("api_key_required") is True
    assert prod_plan.resources("aws_api_gateway_usage_plan") and prod_plan.resources("aws_api_gateway_usage_plan_key")


def test_prod_resource_policy_allows_the_named_producers_and_denies_every_other_principal(prod_plan):
    statements = resource_policy(prod_plan)
    allow, deny = statements["ProducersPostTransactions"], statements["DenyEveryoneElse"]
    assert (allow["effect"], allow["actions"]) == ("Allow", ["execute-api:Invoke"])
    # No producer named: this account (its principals still need an IAM policy allowing Invoke).
    assert allow["principals"] == [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}]
    assert (deny["effect"], deny["actions"]) == ("Deny", ["execute-api:Invoke"])
    assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert conditions(deny) == {"aws:PrincipalArn": ("ArnNotLike", ["arn:aws:iam::123456789012:*"])}


def test_dev_keeps_the_api_key_alone_and_has_no_resource_policy_to_deny_unsigned_callers(dev_plan):
    (method,) = [m for m in dev_plan.resources("aws_api_gateway_method") if m.address.startswith("module.api.")]
    assert (method.get("authorization"), method.get("api_key_required")) == ("NONE", True)
    assert dev_plan.resources("aws_api_gateway_rest_api_policy") == []


def test_every_authentication_failure_has_a_json_body_of_its_own_that_quotes_nothing(any_plan):
    responses = {
        r.get("response_type"): r
        for r in any_plan.resources("aws_api_gateway_gateway_response")
        if r.address.startswith("module.api.")  # the console's are HTML pages (test_plan_console.py)
    }
    for response_type in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE", "EXPIRED_TOKEN", "ACCESS_DENIED"):
        template = responses[response_type].get("response_templates")["application/json"]
        # A fixed message: no $context variable but the response type and the request id.
        assert set(re.findall(r"\$context\.[\w.]+", template)) == {"$context.error.responseType", "$context.requestId"}
        # API Gateway's 403, said explicitly (a response without status_code shows a change on every plan).
        assert responses[response_type].get("status_code") == "403"


# --- What API Gateway writes to CloudWatch --------------------------------------------------------------


def test_execution_logging_is_off_so_no_validator_message_quoting_a_card_number_reaches_cloudwatch(any_plan):
    # The transaction API's and the console's (whose requests carry the session cookie and analysts' notes).
    for settings in any_plan.resources("aws_api_gateway_method_settings"):
        assert settings.get("settings", 0, "logging_level") == "OFF", settings.address
        assert settings.get("settings", 0, "data_trace_enabled") is False, settings.address
    for stage in any_plan.resources("aws_api_gateway_stage"):
        assert stage.is_set("access_log_settings", 0, "destination_arn"), "the access log stays"


# --- Nothing lost on destroy ------------------------------------------------------------------------


def test_prod_keeps_its_data_through_a_destroy(prod_plan):
    suffix = prod_plan.suffix
    tables = (
        f"transactions-{suffix}",
        f"fraud-state-{suffix}",
        *(f"fraud-{t}-{suffix}" for t in ("cases", "labels", "lists")),
    )
    for table in tables:
        assert prod_plan.named("aws_dynamodb_table", table).get("deletion_protection_enabled") is True, table
    (pool,) = prod_plan.resources("aws_cognito_user_pool")
    assert pool.get("deletion_protection") == "ACTIVE", "the fraud team's accounts"
    (key,) = prod_plan.resources("aws_kms_key")
    # DynamoDB keeps a deleted table's PITR backup 35 days, under this key; 30 is KMS's longest wait.
    assert key.get("deletion_window_in_days") == 30
    buckets = prod_plan.resources("aws_s3_bucket")  # the models and the exports
    assert len(buckets) == 2 and all(bucket.get("force_destroy") is False for bucket in buckets)


def test_dev_stays_disposable(dev_plan):
    tables = dev_plan.resources("aws_dynamodb_table")
    assert len(tables) == 5 and all(t.get("deletion_protection_enabled") is False for t in tables)
    (pool,) = dev_plan.resources("aws_cognito_user_pool")
    assert pool.get("deletion_protection") == "INACTIVE"
    (key,) = dev_plan.resources("aws_kms_key")
    assert key.get("deletion_window_in_days") == 7
    buckets = dev_plan.resources("aws_s3_bucket")
    assert len(buckets) == 2 and all(bucket.get("force_destroy") is True for bucket in buckets)


def test_the_subnets_and_security_groups_of_the_functions_wait_for_lambda_to_release_its_interfaces(vpc_plan):
    for type_ in ("aws_subnet", "aws_security_group"):
        resources = vpc_plan.resources(type_)
        assert resources and all(r.get("timeouts", "delete") == "45m" for r in resources), type_


# --- The events under the CMK ---------------------------------------------------------------------


def test_the_event_bus_is_encrypted_with_the_environment_key_and_eventbridge_may_use_it_for_this_account(
    any_plan,
):
    (bus,) = any_plan.resources("aws_cloudwatch_event_bus")
    assert any_plan.module_expression(bus, "kms_key_identifier")["references"] == ["var.kms_key_arn"]
    # What the bus cannot encrypt or decrypt goes to the events dead-letter queue, whose policy names the bus.
    assert "aws_sqs_queue.dead_letter" in json.dumps(any_plan.module_expression(bus, "dead_letter_config"))
    (dlq_policy,) = [
        r for r in any_plan.raw["configuration"]["root_module"]["resources"]
        if r["address"] == "data.aws_iam_policy_document.events_dlq"
    ]  # fmt: skip
    assert "module.messaging.event_bus_arn" in json.dumps(dlq_policy["expressions"])
    call = any_plan.raw["configuration"]["root_module"]["module_calls"]["messaging"]
    assert "module.security.key_arn" in call["expressions"]["kms_key_arn"]["references"], "the environment's key"
    (statement,) = [
        s
        for s in document(any_plan, r"module\.security\.data\.aws_iam_policy_document\.key$")
        if s.get("sid") == "EventBridgeEncryptsThisAccountsBuses"
    ]
    assert set(statement["actions"]) == {"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"}
    assert [i for p in statement["principals"] for i in p["identifiers"]] == ["events.amazonaws.com"]
    assert conditions(statement) == {"aws:SourceAccount": ("StringEquals", ["123456789012"])}


def test_the_pipe_is_encrypted_with_the_environment_key_and_its_role_uses_it_for_this_pipe_only(eventbridge_plan):
    (pipe,) = eventbridge_plan.resources("aws_pipes_pipe")
    assert pipe.is_set("kms_key_identifier")
    statements = {s.get("sid"): s for s in document(eventbridge_plan, r"^data\.aws_iam_policy_document\.pipe$")}
    pipe_arn = f"arn:aws:pipes:us-east-1:123456789012:pipe/fraud-stream-{eventbridge_plan.suffix}"
    for sid, context in (
        ("UsePipeKeyForThisPipe", "kms:EncryptionContext:aws:pipes:arn"),
        ("UsePipeKeyForThisPipeLegacyContext", "kms:EncryptionContext:aws:pipe:arn"),
    ):
        assert set(statements[sid]["actions"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
        assert conditions(statements[sid]) == {context: ("StringEquals", [pipe_arn])}
    assert statements["DescribePipeKey"]["actions"] == ["kms:DescribeKey"]


# --- Smaller findings --------------------------------------------------------------------------------


def test_prod_reserves_a_handful_of_executions_for_analyze_patterns_and_a_hundred_on_the_transaction_path(
    prod_plan,
):
    reserved = {key: f.get("reserved_concurrent_executions") for key, f in prod_plan.functions().items()}
    assert 1 <= reserved.pop("analyze-patterns") <= 5, "one run every 5 minutes"
    assert reserved.pop("check-subscriptions") in (None, -1), "one run an hour: unreserved"
    assert (reserved.pop("console"), reserved.pop("console-authorizer")) == (10, 10), "a team's clicks"
    assert set(reserved.values()) == {100}


def test_every_configuration_pins_the_tested_provider_release_line():
    files = [*ROOT.joinpath("terraform").rglob("versions.tf"), *ROOT.joinpath("modules").rglob("versions.tf")]
    constraints = {
        f.relative_to(ROOT).as_posix(): re.findall(r'(?<!_)version\s*=\s*"([^"]+)"', f.read_text()) for f in files
    }
    assert len(constraints) >= 9
    assert all(found == ["~> 5.100"] for found in constraints.values()), constraints
