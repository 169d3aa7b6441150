"""The policy gate: checkov's report (counts, skips with their reasons, failures with their place) and
parliament over a plan's IAM policies (findings, inline justifications, ARNs known only after apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools._cli import ToolError
from tools.deploy import policy

FIXTURE = Path(__file__).parent / "fixtures" / "checkov_report.json"


@pytest.fixture
def report() -> policy.Report:
    return policy.parse_report(FIXTURE.read_text(), root=Path("/repo"))


def test_counts_each_check_once_although_checkov_repeats_them_per_directory(report):
    assert (len(report.passed), len(report.failed), len(report.skipped)) == (2, 1, 2)


def test_a_failed_check_fails_the_gate_and_is_shown_with_its_place_and_guideline(report):
    assert not report.ok
    summary = policy.format_report(report)
    assert "2 passed, 1 failed, 2 skipped" in summary
    assert "CKV_AWS_237  aws_api_gateway_rest_api.this  modules/api/main.tf:50-59" in summary
    assert "guideline: https://docs.example/CKV_AWS_237" in summary
    assert summary.endswith("policy gate: FAILED")


def test_each_skip_is_listed_with_its_check_resource_and_inline_reason(report):
    summary = policy.format_report(report)
    assert "CKV_AWS_338  aws_cloudwatch_log_group.this  modules/functions/main.tf:13-19" in summary
    assert "Retention is set per environment." in summary
    assert "X-Ray and ENI actions take no resource ARNs." in summary


def test_a_report_without_failures_passes_the_gate():
    documents = [json.loads(chunk) for chunk in FIXTURE.read_text().split("\n{")[0:1]]
    documents[0]["results"]["failed_checks"] = []
    report = policy.parse_report(json.dumps(documents[0]), root=Path("/repo"))
    assert report.ok
    assert policy.format_report(report).endswith("policy gate: passed")


def test_a_skip_without_a_reason_fails_the_gate():
    document = json.loads(FIXTURE.read_text().split("\n{")[0])
    document["results"]["failed_checks"] = []
    document["results"]["skipped_checks"][0]["check_result"]["suppress_comment"] = "No comment provided"
    report = policy.parse_report(json.dumps(document), root=Path("/repo"))
    assert not report.ok
    assert "1 skip(s) without a reason" in policy.format_report(report)


def test_parsing_errors_fail_the_gate():
    document = json.loads(FIXTURE.read_text().split("\n{")[0])
    document["results"]["failed_checks"] = []
    document["results"]["parsing_errors"] = ["/repo/modules/api/main.tf"]
    report = policy.parse_report(json.dumps(document), root=Path("/repo"))
    assert not report.ok
    assert "parsing error: /repo/modules/api/main.tf" in policy.format_report(report)


def test_the_checkov_and_parliament_pins_come_from_the_policy_extra():
    assert policy.policy_pins() == ["checkov==3.3.30", "parliament==1.6.4"]


@pytest.mark.parametrize("line", ["skip-check: CKV_AWS_338", "soft-fail: true"])
def test_a_config_file_may_not_skip_checks_or_soft_fail(tmp_path, line):
    config = tmp_path / ".checkov.yaml"
    config.write_text(f"# skip-check in a comment is fine\nframework:\n  - terraform\n{line}\n")
    with pytest.raises(ToolError, match="inline"):
        policy.check_config(config)


def test_the_repository_config_keeps_every_skip_inline():
    policy.check_config()


# --- parliament --------------------------------------------------------------------------------


def statement(sid, actions, resources, **extra):
    return {"sid": sid, "effect": "Allow", "actions": actions, "resources": resources, **extra}


def plan_with(*documents) -> dict:
    """A `terraform show -json` plan whose policy documents wait for ARNs known only after apply."""
    return {
        "resource_changes": [
            {
                "address": f"data.aws_iam_policy_document.{name}",
                "mode": "data",
                "type": "aws_iam_policy_document",
                "change": {"actions": ["read"], "after": {"statement": statements}},
            }
            for name, statements in documents
        ]
    }


@pytest.fixture(scope="module")
def parliament_python() -> Path:
    return policy.ensure_venv(policy.policy_pins()).parent / "python"


def lint(plan: dict, python: Path, justified=None) -> policy.LintReport:
    items = policy.plan_statements(plan)
    return policy.classify(items, policy.run_parliament(python, items), justified or {})


@pytest.mark.slow
def test_a_grant_that_can_do_nothing_is_found_although_its_arn_is_known_only_after_apply(parliament_python):
    # dynamodb:ListStreams accepts only Resource "*": granted on the stream (an ARN known after apply),
    # it does nothing. The other actions are taken to be on a stream, as Terraform will make it.
    plan = plan_with(
        (
            "pipe",
            [
                statement(
                    "ReadTableStream",
                    ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:ListStreams"],
                    [None],
                )
            ],
        )
    )
    report = lint(plan, parliament_python)
    assert [(f.sid, f.issue) for f in report.findings] == [("ReadTableStream", "RESOURCE_MISMATCH")]
    assert "dynamodb:ListStreams" in report.findings[0].detail
    clean = plan_with(
        ("pipe", [statement("ReadTableStream", ["dynamodb:DescribeStream", "dynamodb:GetRecords"], [None])])
    )
    assert lint(clean, parliament_python).ok


@pytest.mark.slow
def test_a_finding_passes_only_with_a_justification_next_to_its_sid(parliament_python):
    key_policy = [
        statement(
            "DelegateToAccountIam",
            ["kms:Decrypt"],
            ["*"],
            principals=[{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}],
        )
    ]
    plan = plan_with(("key", key_policy))
    assert [f.issue for f in lint(plan, parliament_python).findings] == ["RESOURCE_STAR"]
    justified = lint(
        plan, parliament_python, {"DelegateToAccountIam": {"RESOURCE_STAR": "A key policy's * is the key."}}
    )
    assert justified.ok and [f.reason for f in justified.justified] == ["A key policy's * is the key."]
    summary = policy.format_lint(justified)
    assert "RESOURCE_STAR" in summary and "A key policy's * is the key." in summary and summary.endswith("passed")


@pytest.mark.slow
def test_conditions_known_only_after_apply_and_trust_policies_raise_no_false_findings(parliament_python):
    plan = plan_with(
        (
            "queue",
            [
                statement(
                    "TopicDelivers",
                    ["sqs:SendMessage"],
                    [None],
                    principals=[{"type": "Service", "identifiers": ["sns.amazonaws.com"]}],
                    condition=[{"test": "ArnEquals", "variable": "aws:SourceArn", "values": [None]}],
                ),
                {
                    "sid": "DenyInsecureTransport",
                    "effect": "Deny",
                    "actions": ["sqs:*"],
                    "resources": [None],
                    "principals": [{"type": "*", "identifiers": ["*"]}],
                    "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
                },
            ],
        ),
        (
            "assume",
            [
                {
                    "sid": "LambdaAssumesRole",
                    "effect": "Allow",
                    "actions": ["sts:AssumeRole"],
                    "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
                }
            ],
        ),
    )
    report = lint(plan, parliament_python)
    assert report.ok, policy.format_lint(report)
    assert report.statements == 2 and policy.trust_statement_count(plan) == 1


def test_justifications_are_read_from_the_comment_lines_above_a_sid(tmp_path):
    (tmp_path / "main.tf").write_text(
        """
data "aws_iam_policy_document" "key" {
  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*".
    # An ordinary comment between the lines is fine.
    sid       = "DelegateToAccountIam"
    resources = ["*"]
  }

  # parliament:skip=RESOURCE_STAR: this one is above a statement block
  statement {
    sid = "Second"
  }

  # parliament:skip=RESOURCE_STAR: separated from its sid by an attribute, so it applies to none
  statement {
    effect = "Allow"
    sid    = "Third"
  }

  statement {
    # parliament:skip=UNKNOWN_ACTION:
    sid = "NoReason"
  }
}
"""
    )
    found = policy.justifications([tmp_path])
    assert found == {
        "DelegateToAccountIam": {"RESOURCE_STAR": 'A key policy\'s Resource is always "*".'},
        "Second": {"RESOURCE_STAR": "this one is above a statement block"},
        "NoReason": {"UNKNOWN_ACTION": ""},
    }


def test_a_justification_without_a_reason_does_not_justify():
    items = [{"document": "d", "sid": "NoReason", "statement": {}, "unknown_resources": False}]
    raw = [
        {"document": "d", "sid": "NoReason", "issue": "UNKNOWN_ACTION", "title": "t", "severity": "LOW", "detail": ""}
    ]
    assert not policy.classify(items, raw, {"NoReason": {"UNKNOWN_ACTION": ""}}).ok


def test_the_statements_are_read_as_iam_json_from_documents_read_now_and_at_apply():
    plan = plan_with(
        ("later", [statement("Later", ["sqs:SendMessage"], [None, "arn:aws:sqs:us-east-1:123456789012:q"])])
    )
    plan["prior_state"] = {
        "values": {
            "root_module": {
                "resources": [],
                "child_modules": [
                    {
                        "resources": [
                            {
                                "address": "module.m.data.aws_iam_policy_document.now",
                                "type": "aws_iam_policy_document",
                                "values": {"statement": [statement("Now", ["kms:Decrypt", "kms:Encrypt"], ["*"])]},
                            }
                        ]
                    }
                ],
            }
        }
    }
    items = {item["sid"]: item for item in policy.plan_statements(plan)}
    assert items["Now"]["statement"] == {
        "Effect": "Allow",
        "Sid": "Now",
        "Action": ["kms:Decrypt", "kms:Encrypt"],
        "Resource": ["*"],
    }
    assert items["Now"]["unknown_resources"] is False
    assert items["Later"]["statement"]["Action"] == "sqs:SendMessage" and items["Later"]["unknown_resources"] is True


def test_the_repository_has_a_justification_for_every_resource_star_key_policy_statement():
    found = policy.justifications()
    for sid in (
        "DelegateToAccountIam",
        "CloudWatchLogsEncryptsThisAccountsLogGroups",
        "SnsAndAlarmsUseKeyForThisAccount",
    ):
        assert found[sid]["RESOURCE_STAR"], sid
