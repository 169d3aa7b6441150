"""What the stack needs to work on real AWS, not only to plan: the permissions each caller needs at
run time (IAM actions, key policy, resource policies, trust conditions) and the settings that keep a
burst from losing alerts. moto stores all of this without enforcing it, so these checks read the plan.

Same configurations and fixtures as test_plan_requirements.py (see conftest.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tools.deploy.package import FUNCTIONS

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

# What every function's role gets from modules/functions: its log group, the CMK (environment,
# encrypted queues, topic and stream), its async on-failure queue and X-Ray.
EVERY_FUNCTION = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "sqs:SendMessage",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
VPC_ENI = {
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:UnassignPrivateIpAddresses",
}
# Powertools idempotency on the state table.
IDEMPOTENCY = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
# dynamodb:ListStreams is not here: it accepts only Resource "*" (a grant on the stream ARN does nothing).
STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
# Exactly the AWS calls in lambdas/*.py (boto3 and Powertools), per function.
CODE_CALLS = {
    # TransactWriteItems (3 Puts: the transaction, its claim, its entry in the user's recent activity), the claim read
    "process-transaction": {"dynamodb:PutItem", "dynamodb:GetItem"},
    # rules, shadow rules and model pointer parameters, read together (GetParameters) and one by one (and their
    # history: handler_kit.CachedDocument falls back to the newest valid version); model artifacts from the bucket
    "detect-fraud": {
        "dynamodb:Query",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParameterHistory",
        "s3:GetObject",
        "sqs:SendMessage",
        "dynamodb:Scan",  # the lists' entries (GetItem, the version, is in IDEMPOTENCY)
    }
    | IDEMPOTENCY,
    # SNS, and the case each alert opens (two Puts in one TransactWriteItems: PutItem, also in IDEMPOTENCY)
    "notify-team": {"sns:Publish"} | IDEMPOTENCY,
    # rules (and their history) and the hash key
    "analyze-patterns": {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParameterHistory",
        "sqs:SendMessage",
    }
    | IDEMPOTENCY,
    # counts the subscriptions of the watched topics (none in dev: no address is subscribed there)
    "check-subscriptions": {"sns:ListSubscriptionsByTopic"},
}
# The console: cases (reads, conditional updates, audit events, the reveal settings), labels, lists, transactions.
# Sign-in and MFA are Cognito calls authorised by the user's password or tokens: no IAM action. The authorizer
# reads the pool's public keys over HTTPS: none either.
CODE_CALLS["console"] = {
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
}
CODE_CALLS["console-authorizer"] = set()
# What the event source mapping of a function does with the function's role.
SQS_CONSUMER = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}


# --- Reading policy documents with their principals and conditions ---------------------------------


def _modules(module: dict[str, Any]):
    yield module
    for child in module.get("child_modules", []):
        yield from _modules(child)


def policy_documents(plan) -> dict[str, list[dict[str, Any]]]:
    """Every aws_iam_policy_document of the plan (read now or at apply), by address, raw statements."""
    documents: dict[str, list[dict[str, Any]]] = {}
    for module in _modules(plan.raw.get("prior_state", {}).get("values", {}).get("root_module", {})):
        for resource in module.get("resources", []):
            if resource["type"] == "aws_iam_policy_document":
                documents[resource["address"]] = resource["values"].get("statement") or []
    for change in plan.raw.get("resource_changes", []):
        if change["mode"] == "data" and change["type"] == "aws_iam_policy_document":
            documents[change["address"]] = (change["change"].get("after") or {}).get("statement") or []
    return documents


def document(plan, address_pattern: str) -> list[dict[str, Any]]:
    matches = [
        statements for address, statements in policy_documents(plan).items() if re.search(address_pattern, address)
    ]
    assert len(matches) == 1, f"expected one policy document matching {address_pattern}, found {len(matches)}"
    return matches[0]


def conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {c["variable"]: (c["test"], c.get("values") or []) for c in statement.get("condition") or []}


def service_principals(statement: dict[str, Any]) -> set[str]:
    return {i for p in statement.get("principals") or [] if p["type"] == "Service" for i in p["identifiers"]}


def role_actions(plan, function_key: str) -> set[str]:
    prefix = f'module.functions["{function_key}"].'
    return {
        action
        for address, statements in policy_documents(plan).items()
        if address.startswith(prefix)
        for statement in statements
        if not statement.get("principals")  # the role's own policy, not its trust policy
        for action in statement.get("actions") or []
    }


# --- Function roles --------------------------------------------------------------------------------


def test_each_function_role_allows_exactly_the_calls_its_code_and_triggers_make(any_plan):
    for key in FUNCTIONS:
        expected = EVERY_FUNCTION | CODE_CALLS[key]
        if key == "notify-team":
            expected |= SQS_CONSUMER
        if key == "detect-fraud" and any_plan.config.stream_consumer == "direct":
            expected |= STREAM_READ
        if any_plan.config.enable_vpc:
            expected |= VPC_ENI
        if key == "check-subscriptions" and any_plan.config.profile == "dev":
            expected -= CODE_CALLS[key]  # no address, no watched topic
        assert role_actions(any_plan, key) == expected, key


def test_process_transaction_may_only_put_and_get_items_of_the_transactions_table(any_plan):
    """Puts of the transaction, its claim and its recent-activity entry; the claim read. No Update, no Delete."""
    (statement,) = [
        s
        for s in document(
            any_plan, r'^module\.functions\["process-transaction"\]\.data\.aws_iam_policy_document\.scoped$'
        )
        if s.get("sid") == "RecordTransactions"
    ]
    assert set(statement["actions"]) == {"dynamodb:GetItem", "dynamodb:PutItem"}


def test_detect_fraud_may_query_the_table_itself_only_for_recent_activity(any_plan):
    (statement,) = [
        s
        for s in document(any_plan, r'^module\.functions\["detect-fraud"\]\.data\.aws_iam_policy_document\.scoped$')
        if s.get("sid") == "QueryRecentActivity"
    ]
    assert statement["actions"] == ["dynamodb:Query"]
    assert conditions(statement)["dynamodb:LeadingKeys"] == ("ForAllValues:StringLike", ["recent#*"])


def test_every_role_that_touches_an_encrypted_queue_topic_or_stream_can_use_the_key(any_plan):
    touches = re.compile(r"^(sqs:(SendMessage|ReceiveMessage)|sns:Publish|dynamodb:GetRecords)$")
    roles = {f'module.functions["{key}"].': key for key in FUNCTIONS}
    if any_plan.config.stream_consumer == "eventbridge":
        roles["data.aws_iam_policy_document.pipe"] = "pipe"
    for prefix, role in roles.items():
        statements = [
            s
            for a, d in policy_documents(any_plan).items()
            if a.startswith(prefix)
            for s in d
            if not s.get("principals")
        ]
        actions = {a for s in statements for a in s.get("actions") or []}
        if any(touches.match(a) for a in actions):
            assert {"kms:Decrypt", "kms:GenerateDataKey"} <= actions, role


def test_the_pipe_role_reads_the_stream_puts_events_and_sends_dead_letters(eventbridge_plan):
    actions = {a for s in document(eventbridge_plan, r"^data\.aws_iam_policy_document\.pipe$") for a in s["actions"]}
    # kms:DescribeKey: EventBridge Pipes' CMK encryption (its own data) with the Pipe's role.
    expected = {"events:PutEvents", "sqs:SendMessage", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
    assert STREAM_READ | expected == actions
    resources = eventbridge_plan.raw["configuration"]["root_module"]["resources"]
    (config,) = [r for r in resources if r["address"] == "aws_pipes_pipe.stream"]
    assert "aws_iam_role_policy.pipe" in config.get("depends_on", []), "the Pipe must wait for its role policy"


# --- Trust policies ----------------------------------------------------------------------------------


def test_the_pipe_role_can_only_be_assumed_by_pipes_of_this_account(eventbridge_plan):
    (statement,) = document(eventbridge_plan, r"^data\.aws_iam_policy_document\.pipe_assume$")
    assert service_principals(statement) == {"pipes.amazonaws.com"}
    test, values = conditions(statement)["aws:SourceAccount"]
    assert test == "StringEquals" and len(values) == 1


def test_the_flow_log_role_can_only_be_assumed_for_this_accounts_flow_logs(vpc_plan):
    (statement,) = document(vpc_plan, r"^module\.network\[0\]\.data\.aws_iam_policy_document\.flow_assume$")
    assert service_principals(statement) == {"vpc-flow-logs.amazonaws.com"}
    found = conditions(statement)
    account = found["aws:SourceAccount"][1][0]
    assert found["aws:SourceArn"] == ("ArnLike", [f"arn:aws:ec2:us-east-1:{account}:vpc-flow-log/*"])


def test_the_flow_log_role_may_write_to_its_log_group_only(vpc_plan):
    statements = document(vpc_plan, r"^module\.network\[0\]\.data\.aws_iam_policy_document\.flow$")
    actions = {a for s in statements for a in s["actions"]}
    # logs:DescribeLogGroups accepts only Resource "*": granted on the log group it did nothing, so it is gone.
    assert actions == {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}


def test_the_sns_delivery_status_role_can_only_be_assumed_for_this_account(any_plan):
    (statement,) = document(any_plan, r"^module\.messaging\.data\.aws_iam_policy_document\.sns_assume$")
    assert service_principals(statement) == {"sns.amazonaws.com"}
    assert conditions(statement)["aws:SourceAccount"][0] == "StringEquals"


# --- Key policy ----------------------------------------------------------------------------------------


def test_the_key_policy_lets_each_service_that_encrypts_for_the_stack_use_the_key(any_plan):
    statements = document(any_plan, r"^module\.security\.data\.aws_iam_policy_document\.key$")
    by_service = {}
    for statement in statements:
        for service in service_principals(statement):
            by_service[service] = statement
    # CloudWatch Logs (every log group), SNS (delivering to fraud-alert-events), CloudWatch (alarms
    # publishing to fraud-ops) and EventBridge (rule targets' dead letters to fraud-events-dlq).
    assert set(by_service) == {
        "logs.us-east-1.amazonaws.com",
        "sns.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    for service, statement in by_service.items():
        assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(statement["actions"]), service
        assert "kms:*" not in statement["actions"], service
    assert "kms:EncryptionContext:aws:logs:arn" in conditions(by_service["logs.us-east-1.amazonaws.com"])
    assert "aws:SourceAccount" in conditions(by_service["sns.amazonaws.com"])
    assert "aws:SourceAccount" in conditions(by_service["cloudwatch.amazonaws.com"])
    # The account keeps the right to change the policy (no lock-out).
    delegation = [s for s in statements if any(p["type"] == "AWS" for p in s.get("principals") or [])]
    assert len(delegation) == 1 and "kms:PutKeyPolicy" in delegation[0]["actions"]


# --- Resource policies and invoke permissions ------------------------------------------------------


def allows(statements):
    """The Allow statements of a resource policy (each also carries the TLS-only Deny)."""
    return [s for s in statements if s.get("effect", "Allow") == "Allow"]


def test_only_this_stacks_rules_may_send_dead_letters_to_the_events_dlq(any_plan):
    (statement,) = allows(document(any_plan, r"^data\.aws_iam_policy_document\.events_dlq$"))
    assert service_principals(statement) == {"events.amazonaws.com"} and statement["actions"] == ["sqs:SendMessage"]
    assert conditions(statement)["aws:SourceArn"][0] == "ArnEquals"
    (config,) = [
        r
        for r in any_plan.raw["configuration"]["root_module"]["resources"]
        if r["address"] == "data.aws_iam_policy_document.events_dlq"
    ]
    references = str(config["expressions"]["statement"])
    assert "aws_cloudwatch_event_rule.analysis" in references
    assert "aws_cloudwatch_event_rule.transaction_inserted" in references


def test_only_the_notifications_topic_may_send_to_the_alert_subscription_queue(any_plan):
    (statement,) = allows(document(any_plan, r"^module\.messaging\.data\.aws_iam_policy_document\.alert_events$"))
    assert service_principals(statement) == {"sns.amazonaws.com"} and statement["actions"] == ["sqs:SendMessage"]
    assert conditions(statement)["aws:SourceArn"][0] == "ArnEquals"


def test_every_lambda_permission_is_scoped_to_its_source(any_plan):
    permissions = any_plan.resources("aws_lambda_permission")
    assert permissions
    for permission in permissions:
        assert permission.is_set("source_arn"), permission.address
    api = {p.get("statement_id") for p in permissions if p.get("principal") == "apigateway.amazonaws.com"}
    # POST /transactions on the transaction API; the console's routes and its authorizer on the console API.
    assert api == {"AllowApiGatewayPostTransactions", "AllowApiGatewayConsole", "AllowApiGatewayConsoleAuthorizer"}


# --- Alerts consumer ---------------------------------------------------------------------------------


def alerts_mapping(plan):
    (mapping,) = [m for m in plan.resources("aws_lambda_event_source_mapping") if not m.get("starting_position")]
    return mapping


def test_notify_team_never_polls_alerts_faster_than_its_reserved_concurrency(prod_plan):
    # Throttled batches return to the queue and count as receives: a burst would send alerts to the
    # DLQ unprocessed. The poller's maximum concurrency stays within the reservation instead.
    reserved = prod_plan.functions()["notify-team"].get("reserved_concurrent_executions")
    assert reserved == 100
    assert alerts_mapping(prod_plan).get("scaling_config", 0, "maximum_concurrency") == reserved


def test_unreserved_notify_team_polls_alerts_without_a_cap(dev_plan):
    assert alerts_mapping(dev_plan).get("scaling_config") in (None, [])
