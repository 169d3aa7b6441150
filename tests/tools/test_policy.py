"""The checkov gate's reading of a report: counts, skips with their reasons, failures with their place."""

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


def test_the_checkov_pin_comes_from_the_policy_extra():
    assert policy.policy_pins() == ["checkov==3.3.30"]


@pytest.mark.parametrize("line", ["skip-check: CKV_AWS_338", "soft-fail: true"])
def test_a_config_file_may_not_skip_checks_or_soft_fail(tmp_path, line):
    config = tmp_path / ".checkov.yaml"
    config.write_text(f"# skip-check in a comment is fine\nframework:\n  - terraform\n{line}\n")
    with pytest.raises(ToolError, match="inline"):
        policy.check_config(config)


def test_the_repository_config_keeps_every_skip_inline():
    policy.check_config()
