"""Production on real AWS (issue 12) and the storage the model and the keyed hashes need (issues 8, 9),
checked on the plans of the root module.

A fresh account deploys first time (zones by id, region-unique roles, the Powertools layer of the
pinned release), alerts reach people (addresses, alarms, Pipe logs, a dashboard), nothing is open
(TLS-only queues, topics and bucket, redrive only from the source queue, key grants through their
services, parliament over every policy), and the error bodies and access logs stay valid JSON.
Same configurations and fixtures as test_plan_requirements.py (see conftest.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.terraform.conftest import PROD_ADDRESSES
from tools._cli import powertools_release
from tools.deploy import policy
from tools.deploy.package import FUNCTIONS
from tools.emulator.localaws import LocalAWS

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

DEFAULT_MODEL = ROOT / "models" / "default.json"


def policy_documents(plan) -> dict[str, list[dict[str, Any]]]:
    return {address: [dict(s) for s in blocks] for address, blocks in policy._policy_documents(plan.raw)}


def document(plan, pattern: str) -> list[dict[str, Any]]:
    matches = [statements for address, statements in policy_documents(plan).items() if re.search(pattern, address)]
    assert len(matches) == 1, f"expected one policy document matching {pattern}, found {len(matches)}"
    return matches[0]


def conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {c["variable"]: (c["test"], c.get("values") or []) for c in statement.get("condition") or []}


def denies_insecure_transport(statements: list[dict[str, Any]], action: str) -> bool:
    return any(
        s.get("effect") == "Deny"
        and action in (s.get("actions") or [])
        and any(p["type"] == "*" and p["identifiers"] == ["*"] for p in s.get("principals") or [])
        and conditions(s).get("aws:SecureTransport") == ("Bool", ["false"])
        for s in statements
    )


# --- A first deploy works ------------------------------------------------------------------------


def test_every_function_runs_the_powertools_layer_of_the_pinned_release_for_its_runtime_and_architecture(
    any_plan,
):
    release = powertools_release()
    assert any_plan.variables["powertools_release"] == release
    reads = [
        c for c in any_plan.raw["resource_changes"] if c["mode"] == "data" and c["type"] == "aws_ssm_parameter"
    ] + [
        r
        for m in _modules(any_plan.raw.get("prior_state", {}).get("values", {}).get("root_module", {}))
        for r in m.get("resources", [])
        if r["type"] == "aws_ssm_parameter" and r["mode"] == "data"
    ]
    names = {(r.get("values") or r["change"].get("after") or {}).get("name") for r in reads}
    # Versioned path, never `latest`: the layer is exactly the release the tests ran.
    assert names == {f"/aws/service/powertools/python/arm64/python3.11/{release}"}
    for key, function in any_plan.functions().items():
        (layer,) = function.get("layers")
        assert re.fullmatch(
            r"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:\d+", layer
        ), key


def _modules(module: dict[str, Any]):
    yield module
    for child in module.get("child_modules", []):
        yield from _modules(child)


def test_the_emulator_runs_exactly_the_pinned_powertools_release_so_the_local_profile_needs_no_layer():
    from importlib.metadata import version

    from tools.deploy import tfvars

    assert version("aws-lambda-powertools") == powertools_release()
    assert tfvars.load_profile("local")["variables"]["powertools_release"] is None


def test_subnets_are_chosen_by_zone_id_and_never_in_use1_az3(vpc_plan):
    zone_ids = [s.get("availability_zone_id") for s in vpc_plan.resources("aws_subnet")]
    assert len(zone_ids) == 2 and all(re.fullmatch(r"use1-az\d", z) for z in zone_ids), zone_ids
    assert "use1-az3" not in zone_ids
    assert all(s.get("availability_zone") in (None, "") for s in vpc_plan.resources("aws_subnet"))


def test_no_environment_manages_the_account_wide_api_gateway_role(any_plan):
    # The account bootstrap (terraform/bootstrap) owns it: destroying an environment never touches it.
    assert not any_plan.resources("aws_api_gateway_account")
    assert not [r for r in any_plan.resources("aws_iam_role") if "apigateway" in r.get("name")]


# --- Alerts reach people -------------------------------------------------------------------------


def test_fraud_alerts_and_alarms_go_to_their_own_addresses(prod_plan):
    subscriptions = [s for s in prod_plan.resources("aws_sns_topic_subscription") if s.get("protocol") == "email"]
    by_endpoint = {s.get("endpoint"): s for s in subscriptions}
    assert set(by_endpoint) == {PROD_ADDRESSES["alert_email"], PROD_ADDRESSES["ops_email"]}
    for name, topic in (("alert_email", "notifications"), ("ops_email", "ops")):
        expression = prod_plan.module_expression(by_endpoint[PROD_ADDRESSES[name]], "topic_arn")
        assert f"aws_sns_topic.{topic}" in expression["references"], name


def test_without_addresses_nothing_is_subscribed_by_email(dev_plan):
    assert [s for s in dev_plan.resources("aws_sns_topic_subscription") if s.get("protocol") == "email"] == []


def test_every_function_has_a_throttle_alarm(any_plan):
    alarms = any_plan.alarms()
    for key in FUNCTIONS:
        alarm = alarms[f"throttles-{key}-{any_plan.suffix}"]
        assert (alarm.get("namespace"), alarm.get("metric_name"), alarm.get("statistic")) == (
            "AWS/Lambda",
            "Throttles",
            "Sum",
        )
        assert alarm.get("dimensions") == {"FunctionName": f"{key}-{any_plan.suffix}"}
        assert (alarm.get("threshold"), alarm.get("comparison_operator")) == (0, "GreaterThanThreshold")


def test_the_age_of_the_oldest_message_is_alarmed_on_the_alerts_queue_and_every_dead_letter_queue(any_plan):
    suffix = any_plan.suffix
    watched = {
        a.get("dimensions", "QueueName"): a
        for a in any_plan.alarms().values()
        if a.get("metric_name") == "ApproximateAgeOfOldestMessage"
    }
    dead_letters = {
        f"fraud-alerts-dlq-{suffix}",
        f"fraud-stream-dlq-{suffix}",
        f"fraud-events-dlq-{suffix}",
        f"function-failures-{suffix}",
    }
    assert set(watched) == dead_letters | {f"fraud-alerts-{suffix}"}
    retention = any_plan.variables["dlq_retention_seconds"]
    for name in dead_letters:  # while half the retention is still left: time to redrive
        assert watched[name].get("threshold") == retention // 2, name
    assert watched[f"fraud-alerts-{suffix}"].get("threshold") == 600


def test_the_pipe_and_the_rule_failures_are_alarmed_on_the_eventbridge_routing(eventbridge_plan):
    alarms = eventbridge_plan.alarms().values()
    pipe = {a.get("metric_name") for a in alarms if a.get("namespace") == "AWS/EventBridge/Pipes"}
    assert pipe == {"ExecutionFailed", "ExecutionTimeout", "TargetStageFailed"}
    (rule,) = [a for a in alarms if a.get("namespace") == "AWS/Events"]
    assert rule.get("metric_name") == "FailedInvocations"
    suffix = eventbridge_plan.suffix
    assert rule.get("dimensions") == {
        "EventBusName": f"fraud-events-{suffix}",
        "RuleName": f"transaction-inserted-{suffix}",
    }
    assert not [a for a in alarms if a.get("metric_name") == "IteratorAge"]


def test_stream_lag_is_alarmed_on_the_direct_routing(direct_plan):
    (alarm,) = [a for a in direct_plan.alarms().values() if a.get("metric_name") == "IteratorAge"]
    assert alarm.get("dimensions") == {"FunctionName": f"detect-fraud-{direct_plan.suffix}"}
    assert (alarm.get("statistic"), alarm.get("threshold")) == ("Maximum", 300_000)
    assert not [a for a in direct_plan.alarms().values() if a.get("namespace") == "AWS/EventBridge/Pipes"]


def test_rules_and_model_fallbacks_and_an_unreadable_model_are_alarmed_on_the_pipelines_own_metrics(any_plan):
    for metric in ("RulesFallback", "ModelFallback", "ModelUnavailable"):
        (alarm,) = [a for a in any_plan.alarms().values() if a.get("metric_name") == metric]
        assert alarm.get("namespace") == "FraudDetection"
        assert alarm.get("dimensions") == {"service": "fraud-detection"}
        assert (alarm.get("statistic"), alarm.get("period"), alarm.get("threshold")) == ("Sum", 300, 0)


def test_every_alarm_notifies_the_ops_topic(any_plan):
    module_calls = any_plan.raw["configuration"]["root_module"]["module_calls"]
    for name, alarm in any_plan.alarms().items():
        assert alarm.is_set("alarm_actions"), name
        references = any_plan.module_expression(alarm, "alarm_actions").get("references", [])
        if "var.alarm_actions" in references:  # a module's alarm: the root decides where it goes
            call = re.match(r"module\.([\w-]+)", alarm.address).group(1)
            references = module_calls[call]["expressions"]["alarm_actions"]["references"]
        assert any(r in ("aws_sns_topic.ops", "module.messaging.ops_topic_arn") for r in references), (name, references)


def test_the_pipe_logs_its_errors_to_a_cmk_log_group_without_the_records(eventbridge_plan):
    (pipe,) = eventbridge_plan.resources("aws_pipes_pipe")
    logging = pipe.get("log_configuration", 0)
    assert logging["level"] == "ERROR"
    assert not logging.get("include_execution_data"), "execution data holds the records: card data"
    assert pipe.is_set("log_configuration", 0, "cloudwatch_logs_log_destination", 0, "log_group_arn")
    group = eventbridge_plan.named(
        "aws_cloudwatch_log_group", f"/aws/vendedlogs/pipes/fraud-stream-{eventbridge_plan.suffix}"
    )
    assert group.is_set("kms_key_id")


def test_the_dashboard_shows_the_whole_pipeline_at_a_glance(any_plan):
    (dashboard,) = any_plan.resources("aws_cloudwatch_dashboard")
    assert dashboard.get("dashboard_name") == f"fraud-pipeline-{any_plan.suffix}"
    widgets = json.loads(dashboard.get("dashboard_body"))["widgets"]
    metrics = {(m[0], m[1]) for w in widgets for m in w["properties"]["metrics"]}
    expected = {
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("FraudDetection", "Created"),  # stored
        ("FraudDetection", "Scored"),
        ("FraudDetection", "Alerts"),
        ("FraudDetection", "Published"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # queue depths and DLQs
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    }
    assert expected <= metrics
    stream = (
        ("AWS/Lambda", "IteratorAge")
        if any_plan.config.stream_consumer == "direct"
        else ("AWS/EventBridge/Pipes", "EventCount")
    )
    assert stream in metrics
    queues = {m[3] for w in widgets for m in w["properties"]["metrics"] if m[0] == "AWS/SQS"}
    assert {f"fraud-alerts-dlq-{any_plan.suffix}", f"fraud-stream-dlq-{any_plan.suffix}"} <= queues
    assert all(w["properties"]["region"] == any_plan.variables["region"] for w in widgets)


# --- Nothing is open -----------------------------------------------------------------------------


def test_every_queue_refuses_requests_without_tls(any_plan):
    queues = any_plan.resources("aws_sqs_queue")
    # One policy per queue (a queue has one), each from a document that denies non-TLS requests.
    assert len(any_plan.resources("aws_sqs_queue_policy")) == len(queues) == 6
    tls_only = [
        a for a, statements in policy_documents(any_plan).items() if denies_insecure_transport(statements, "sqs:*")
    ]
    assert len(tls_only) == len(queues), tls_only


def test_every_topic_refuses_publishing_without_tls_and_alarms_of_this_account_may_publish_to_ops(any_plan):
    assert len(any_plan.resources("aws_sns_topic_policy")) == len(any_plan.resources("aws_sns_topic")) == 2
    notifications = document(any_plan, r"aws_iam_policy_document\.notifications_topic$")
    ops = document(any_plan, r"aws_iam_policy_document\.ops_topic$")
    assert denies_insecure_transport(notifications, "sns:Publish") and denies_insecure_transport(ops, "sns:Publish")
    (alarms,) = [s for s in ops if s.get("effect") == "Allow"]
    assert {i for p in alarms["principals"] for i in p["identifiers"]} == {"cloudwatch.amazonaws.com"}
    assert conditions(alarms)["aws:SourceAccount"][0] == "StringEquals"
    assert conditions(alarms)["aws:SourceArn"][1][0].endswith(":alarm:*")


def test_dead_letter_queues_take_redrives_only_from_their_source_queue(any_plan):
    suffix = any_plan.suffix
    alerts_dlq = any_plan.named("aws_sqs_queue", f"fraud-alerts-dlq-{suffix}")
    allow = json.loads(alerts_dlq.get("redrive_allow_policy"))
    assert allow["redrivePermission"] == "byQueue"
    assert allow["sourceQueueArns"] == [f"arn:aws:sqs:us-east-1:123456789012:fraud-alerts-{suffix}"]
    for name in (f"fraud-stream-dlq-{suffix}", f"fraud-events-dlq-{suffix}", f"function-failures-{suffix}"):
        assert json.loads(any_plan.named("aws_sqs_queue", name).get("redrive_allow_policy")) == {
            "redrivePermission": "denyAll"
        }


def test_function_and_pipe_roles_use_the_key_only_through_the_services_that_encrypt_for_them(any_plan):
    region = any_plan.variables["region"]
    expected = {
        "process-transaction": {"lambda", "sqs", "dynamodb"},
        "detect-fraud": {"lambda", "sqs", "dynamodb", "s3"},
        "notify-team": {"lambda", "sqs", "dynamodb", "sns"},
        "analyze-patterns": {"lambda", "sqs", "dynamodb", "ssm"},
    }
    roles = {
        f'module.functions["{key}"].data.aws_iam_policy_document.scoped': services for key, services in expected.items()
    }
    if any_plan.config.stream_consumer == "eventbridge":
        roles["data.aws_iam_policy_document.pipe"] = {"dynamodb", "sqs"}
    documents = policy_documents(any_plan)
    for address, services in roles.items():
        grants = [s for s in documents[address] if any(a.startswith("kms:") for a in s.get("actions") or [])]
        # The Pipe's own data (its filter) is encrypted for the Pipe itself, not through a service:
        # those grants name the Pipe's ARN as encryption context (test_plan_security.py).
        grants = [g for g in grants if not g.get("sid", "").startswith(("UsePipeKey", "DescribePipeKey"))]
        assert grants, address
        for grant in grants:
            test, values = conditions(grant)["kms:ViaService"]
            assert test == "StringEquals" and set(values) == {f"{s}.{region}.amazonaws.com" for s in services}, address


def test_no_role_is_granted_an_action_that_accepts_only_resource_star_on_a_named_resource(any_plan):
    only_star = {"dynamodb:ListStreams", "logs:DescribeLogGroups"}
    for address, statements in policy_documents(any_plan).items():
        for statement in statements:
            granted = set(statement.get("actions") or []) & only_star
            assert not granted or statement.get("resources") == ["*"], (address, statement.get("sid"), granted)


def test_every_iam_policy_passes_parliament_or_is_justified_inline(any_plan):
    report = policy.lint_plan(any_plan.raw)
    any_plan.lint_summary = policy.format_lint(report, any_plan.config.id).splitlines()[0]
    assert report.ok, policy.format_lint(report, any_plan.config.id)
    assert report.statements > 40


# --- Error bodies and access logs stay JSON ------------------------------------------------------

# Variables whose values API Gateway draws from a fixed alphabet (ids, numbers, enums, IPs, times);
# every other one can hold a double quote or a backslash (validator messages quote the input).
SAFE_CONTEXT = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "extendedRequestId": "AbCdEf12345=",
    "requestTime": "01/Dec/2026:10:00:00 +0000",
    "identity.sourceIp": "203.0.113.7",
    "identity.apiKeyId": "abcd1234ef",
    "httpMethod": "POST",
    "resourcePath": "/transactions",
    "protocol": "HTTP/1.1",
    "status": "400",
    "responseLength": "87",
    "responseLatency": "12",
    "integration.status": "-",
    "integration.latency": "-",
    "error.responseType": "BAD_REQUEST_BODY",
    "xrayTraceId": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4f2e8",
    "authorizer.status": "200",
}
HOSTILE = 'object has missing required properties (["amount"]) \\ "card":"4111 1111 1111 1111"'


def render(template: str) -> str:
    """Substitute $context variables the way API Gateway does: verbatim, nothing escaped."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "error.messageString":  # "the quoted value of $context.error.message"
            return f'"{HOSTILE}"'
        return SAFE_CONTEXT.get(name, HOSTILE)

    return re.sub(r"\$context\.([A-Za-z]+(?:\.[A-Za-z]+)*)", value, template)


def test_the_renderer_is_faithful_the_old_bad_request_body_template_broke_on_a_quoted_message():
    old = '{"message": $context.error.messageString, "errors": "$context.error.validationErrorString"}'
    with pytest.raises(json.JSONDecodeError):
        json.loads(render(old))


def test_every_gateway_response_body_is_valid_json_whatever_the_validator_says(any_plan):
    # The transaction API's (the console's are static HTML pages: test_plan_console.py).
    responses = {
        r.get("response_type"): r
        for r in any_plan.resources("aws_api_gateway_gateway_response")
        if r.address.startswith("module.api.")
    }
    assert {"BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for response_type, response in responses.items():
        body = json.loads(render(response.get("response_templates")["application/json"]))
        assert set(body) == {"message", "type", "request_id"}, response_type
        assert body["request_id"] == SAFE_CONTEXT["requestId"] and HOSTILE not in json.dumps(body), response_type
    assert responses["BAD_REQUEST_BODY"].get("status_code") == "400"


def test_the_access_log_line_is_valid_json_and_carries_no_free_text(any_plan):
    stages = any_plan.resources("aws_api_gateway_stage")
    assert len(stages) == 2  # the transaction API's and the console's
    for stage in stages:
        line = json.loads(render(stage.get("access_log_settings", 0, "format")))
        assert line["requestId"] == SAFE_CONTEXT["requestId"] and line["errorType"] == "BAD_REQUEST_BODY"
        assert HOSTILE not in json.dumps(line), "a validator message (which quotes the input) reached the access log"


# --- Transactions expire -------------------------------------------------------------------------


def test_transactions_expire_after_the_retention_of_the_profile(any_plan):
    table = any_plan.named("aws_dynamodb_table", f"transactions-{any_plan.suffix}")
    assert table.get("ttl", 0) == {"attribute_name": "expires_at", "enabled": True}
    days = {"dev": 30, "prod": 540}[any_plan.config.profile]
    assert any_plan.variables["transaction_retention_days"] == days
    environment = any_plan.functions()["process-transaction"].get("environment", 0, "variables")
    assert environment["TRANSACTION_RETENTION_DAYS"] == str(days)


# --- Model store and keyed hashes ----------------------------------------------------------------


def of_module(plan, type_: str, module: str) -> list:
    """The planned resources of ``type_`` in ``module.<module>``."""
    return [r for r in plan.resources(type_) if r.address.startswith(f"module.{module}.")]


def test_the_model_bucket_is_cmk_encrypted_versioned_private_tls_only_and_owner_enforced(any_plan):
    (bucket,) = of_module(any_plan, "aws_s3_bucket", "models")
    assert re.fullmatch(rf"models-\d{{12}}-us-east-1-{any_plan.suffix}", bucket.get("bucket"))
    (sse,) = of_module(any_plan, "aws_s3_bucket_server_side_encryption_configuration", "models")
    rule = sse.get("rule", 0)
    assert rule["bucket_key_enabled"] is True
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert sse.is_set("rule", 0, "apply_server_side_encryption_by_default", 0, "kms_master_key_id")
    (versioning,) = of_module(any_plan, "aws_s3_bucket_versioning", "models")
    assert versioning.get("versioning_configuration", 0, "status") == "Enabled"
    (block,) = of_module(any_plan, "aws_s3_bucket_public_access_block", "models")
    assert all(
        block.get(k) is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    (ownership,) = of_module(any_plan, "aws_s3_bucket_ownership_controls", "models")
    assert ownership.get("rule", 0, "object_ownership") == "BucketOwnerEnforced"
    assert denies_insecure_transport(
        document(any_plan, r"module\.models\.data\.aws_iam_policy_document\.tls_only$"), "s3:*"
    )


def test_the_default_model_is_uploaded_under_its_version_and_seeded_as_the_live_model(any_plan):
    model = json.loads(DEFAULT_MODEL.read_text())
    (artifact,) = any_plan.resources("aws_s3_object")
    assert artifact.get("key") == f"models/{model['version']}.json"
    assert (artifact.get("server_side_encryption"), artifact.get("content_type")) == ("aws:kms", "application/json")
    pointer = any_plan.named("aws_ssm_parameter", f"/fraud-detection/{any_plan.suffix}/model-{any_plan.suffix}")
    assert pointer.get("type") == "String"
    assert json.loads(pointer.get("value")) == {
        "live": {
            "key": f"models/{model['version']}.json",
            "sha256": hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest(),
            "version": model["version"],
        },
        "shadow": None,
    }


def test_the_shadow_rules_start_as_none_and_the_hash_key_is_a_secure_string_under_the_cmk(any_plan):
    prefix = f"/fraud-detection/{any_plan.suffix}"
    shadow = any_plan.named("aws_ssm_parameter", f"{prefix}/shadow-rules-{any_plan.suffix}")
    assert (shadow.get("type"), shadow.get("value")) == ("String", "null")
    key = any_plan.named("aws_ssm_parameter", f"{prefix}/hash-key-{any_plan.suffix}")
    assert key.get("type") == "SecureString" and key.is_set("key_id")
    # A random value from Secrets Manager's generator, not something written in the configuration.
    expression = any_plan.module_expression(key, "value")
    assert expression["references"][0].startswith("data.aws_secretsmanager_random_password.hash_key")


def test_detect_fraud_may_read_model_artifacts_only(any_plan):
    (bucket,) = of_module(any_plan, "aws_s3_bucket", "models")
    (statement,) = [
        s
        for s in document(any_plan, r'^module\.functions\["detect-fraud"\]\.data\.aws_iam_policy_document\.scoped$')
        if s.get("sid") == "ReadModelArtifacts"
    ]
    assert (statement["actions"], statement["resources"]) == (
        ["s3:GetObject"],
        [f"arn:aws:s3:::{bucket.get('bucket')}/models/*"],
    )


def test_the_emulator_serves_the_public_powertools_parameters_the_configuration_reads():
    import boto3

    with LocalAWS() as aws:
        ssm = boto3.client(
            "ssm", endpoint_url=aws.endpoint, region_name=aws.region, aws_access_key_id="t", aws_secret_access_key="t"
        )
        for runtime in ("python3.11", "python3.12", "python3.13"):
            for architecture in ("arm64", "x86_64"):
                name = f"/aws/service/powertools/python/{architecture}/{runtime}/{powertools_release()}"
                value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
                assert f"-{runtime.replace('.', '')}-{architecture}:" in value


# --- The VPC reaches every service the code calls (issue 16) ---------------------------------------------


def services_the_code_calls() -> set[str]:
    """Every AWS service a function's code creates a client for: the string given to ``client(...)`` (the
    handler kit's one constructor) anywhere under lambdas/. A client made from anything but a literal name
    would hide a service from this list, so it fails here."""
    found: set[str] = set()
    for path in sorted((ROOT / "lambdas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name != "client":
                continue
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
            elif not (path.name == "handler_kit.py" and isinstance(argument, ast.Name)):  # the kit's own boto3 call
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno}: a client whose service is not a literal")
    return found


def test_every_service_a_function_creates_a_client_for_has_a_vpc_endpoint(vpc_plan):
    services = services_the_code_calls()
    assert {"dynamodb", "s3", "sqs", "sns", "ssm"} <= services, "the scan sees the functions' clients"
    endpoints = {
        r.get("service_name").rsplit(".", 1)[-1]: r.get("vpc_endpoint_type")
        for r in vpc_plan.resources("aws_vpc_endpoint")
    }
    missing = sorted(services - set(endpoints))
    assert not missing, f"no VPC endpoint for {', '.join(missing)}: a function in the VPC could not reach it"
    assert endpoints["dynamodb"] == endpoints["s3"] == "Gateway", "S3 and DynamoDB through gateway endpoints"
    assert all(kind == "Interface" for service, kind in endpoints.items() if service not in ("dynamodb", "s3"))


def test_the_functions_may_reach_each_gateway_endpoint_and_only_this_accounts_resources_through_it(vpc_plan):
    gateways = [r for r in vpc_plan.resources("aws_vpc_endpoint") if r.get("vpc_endpoint_type") == "Gateway"]
    egress = [
        r
        for r in vpc_plan.resources("aws_vpc_security_group_egress_rule")
        if r.address.startswith("module.network[0].aws_vpc_security_group_egress_rule.functions_to_gateway")
    ]
    assert len(egress) == len(gateways) == 2
    assert all(r.get("from_port") == r.get("to_port") == 443 and r.is_unknown("prefix_list_id") for r in egress)
    for gateway in gateways:
        [statement] = json.loads(gateway.get("policy"))["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:ResourceAccount"], "only this account's buckets and tables"
