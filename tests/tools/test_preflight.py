"""The preflight: what it says for each account a deploy can meet, and what it reads from one."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tools.deploy import preflight, tfvars
from tools.deploy.preflight import FAIL, FIX, NOTE, OK, UNKNOWN, Facts, Settings
from tools.emulator.localaws import LocalAWS

ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-us-east-1"


def settings(profile: str = "prod", **changes) -> Settings:
    base = {
        "suffix": profile,
        "profile": profile,
        "region": "us-east-1",
        "required": ("alert_email", "ops_email") if profile in ("prod", "staging") else (),
        "reservations": dict.fromkeys(["process-transaction", "detect-fraud", "notify-team", "analyze-patterns"], 100)
        if profile == "prod"
        else {},
        "enable_vpc": profile != "dev",
        "alert_email": "fraud-team@example.com",
        "ops_email": "fraud-ops@example.com",
        "powertools_release": "3.37.0",
        "runtime": "python3.11",
        "architecture": "arm64",
    }
    return Settings(**{**base, **changes})


def healthy(**changes) -> Facts:
    zones = [
        {"name": "us-east-1a", "id": "use1-az6", "state": "available"},
        {"name": "us-east-1b", "id": "use1-az3", "state": "available"},
        {"name": "us-east-1c", "id": "use1-az1", "state": "available"},
    ]
    base = {
        "account": "123456789012",
        "caller": "arn:aws:sts::123456789012:assumed-role/deployer/x",
        "concurrency_limit": 1000,
        "unreserved": 1000,
        "apigateway_role": ROLE,
        "apigateway_role_exists": True,
        "zones": zones,
        "powertools_layer": "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:9",
    }
    return Facts(**{**base, **changes})


def by_topic(results) -> dict[str, preflight.Result]:
    return {r.topic: r for r in results}


def test_a_ready_account_passes_and_names_what_it_checked():
    results = preflight.check(settings(), healthy())
    assert not preflight.failed(results)
    assert {r.level for r in results} == {OK}
    text = preflight.format_results(settings(), results)
    assert "leaving 600 unreserved" in text and text.endswith("preflight: nothing would fail")


def test_prod_reservations_on_a_new_account_fail_with_the_quota_to_request_and_the_override_to_set():
    results = preflight.check(settings(), healthy(concurrency_limit=10, unreserved=10))
    concurrency = by_topic(results)["Lambda concurrency"]
    assert concurrency.level == FAIL
    assert "reserves 400" in concurrency.message and "limit is 10" in concurrency.message
    assert "minimum value of [10]" in concurrency.message
    # 400 reserved + 100 Lambda keeps unreserved.
    assert "quota code L-B99A9384" in concurrency.remedy and "--desired-value 500" in concurrency.remedy
    # Nothing can be reserved on such an account: the override offered is none, never 0 (0 disables a function).
    assert "reserved_concurrency=null" in concurrency.remedy and "reserved_concurrency=0" not in concurrency.remedy
    assert preflight.failed(results)


def test_reservations_already_applied_by_this_environment_count_as_available_again():
    # A redeploy: the account shows 600 unreserved because this environment already holds 400.
    facts = healthy(unreserved=600, current_reservations=dict.fromkeys(settings().reservations, 100))
    assert by_topic(preflight.check(settings(), facts))["Lambda concurrency"].level == OK


def test_other_functions_reservations_are_counted_in_the_quota_to_request():
    facts = healthy(concurrency_limit=1000, unreserved=450)  # 550 reserved by other functions of the account
    concurrency = by_topic(preflight.check(settings(), facts))["Lambda concurrency"]
    assert concurrency.level == FAIL and "550 reserved by other functions" in concurrency.message
    assert "--desired-value 1050" in concurrency.remedy and "at most 87 per function" in concurrency.remedy


def test_dev_and_staging_reserve_nothing_and_deploy_on_a_default_account():
    for profile in ("dev", "staging"):
        results = preflight.check(settings(profile), healthy(concurrency_limit=10, unreserved=10))
        assert by_topic(results)["Lambda concurrency"].level == OK, profile


def test_a_missing_or_dangling_api_gateway_role_is_fixed_by_the_bootstrap_before_the_plan():
    for facts in (healthy(apigateway_role=None), healthy(apigateway_role_exists=False)):
        results = preflight.check(settings(), facts)
        role = by_topic(results)["API Gateway logging role"]
        assert role.level == FIX and "CloudWatch Logs role ARN must be set" in role.message
        assert "make bootstrap" in role.remedy
        assert preflight.needs_bootstrap(results) and not preflight.failed(results)
    assert (
        "no longer exists"
        in by_topic(preflight.check(settings(), healthy(apigateway_role_exists=False)))[
            "API Gateway logging role"
        ].message
    )


def test_zones_exclude_use1_az3_and_fewer_than_two_usable_zones_fail():
    zones = by_topic(preflight.check(settings(), healthy()))["availability zones"]
    assert zones.level == OK and "use1-az6" in zones.message and "use1-az1" in zones.message
    assert "use1-az3 excluded" in zones.message
    only_one = healthy(
        zones=[
            {"name": "x", "id": "use1-az3", "state": "available"},
            {"name": "y", "id": "use1-az4", "state": "available"},
        ]
    )
    assert by_topic(preflight.check(settings(), only_one))["availability zones"].level == FAIL


def test_staging_and_prod_refuse_to_deploy_without_both_addresses():
    results = preflight.check(settings(ops_email=None), healthy())
    ops = by_topic(results)["ops alarms address"]
    assert ops.level == FAIL and "OPS_EMAIL=" in ops.remedy
    dev = by_topic(preflight.check(settings("dev", alert_email=None, ops_email=None), healthy()))
    assert dev["fraud alerts address"].level == NOTE and dev["ops alarms address"].level == NOTE


def test_a_runtime_without_a_published_powertools_layer_fails():
    facts = healthy(powertools_layer=None, powertools_missing=True, powertools_error="ParameterNotFound")
    layer = by_topic(preflight.check(settings(runtime="python3.13"), facts))["Powertools layer"]
    assert layer.level == FAIL and "/aws/service/powertools/python/arm64/python3.13/3.37.0" in layer.message


def test_without_credentials_nothing_else_is_checked_and_the_fix_is_named():
    results = preflight.check(settings(), Facts(identity_error="NoCredentialsError: Unable to locate credentials"))
    assert [r.level for r in results] == [FAIL] and "AWS_PROFILE" in results[0].remedy


def test_a_setting_that_cannot_be_read_is_reported_without_failing():
    results = preflight.check(settings(), healthy(lambda_error="AccessDeniedException", concurrency_limit=None))
    concurrency = by_topic(results)["Lambda concurrency"]
    assert concurrency.level == UNKNOWN and "lambda:GetAccountSettings" in concurrency.remedy
    assert not preflight.failed(results)


def test_the_settings_come_from_the_rendered_variables_and_the_profile(tmp_path):
    output = tmp_path / "prod" / "terraform.tfvars.json"
    assert tfvars.main(["--env", "prod", "--alert-email", "a@example.com", "--output", str(output)]) == 0
    read = Settings.from_var_file(output)
    assert (read.profile, read.required, read.ops_email, read.alert_email) == (
        "prod",
        ("alert_email", "ops_email"),
        None,
        "a@example.com",
    )
    # 3 x 100, 2 for analyze-patterns, 10 each for the console and its authorizer
    assert sum(read.reservations.values()) == 322 and read.enable_vpc is True
    assert read.powertools_parameter == "/aws/service/powertools/python/arm64/python3.11/3.37.0"


@pytest.mark.slow
def test_against_the_emulator_it_reads_every_fact_it_can_and_says_which_it_cannot(tmp_path, capsys):
    output = tmp_path / "prod" / "terraform.tfvars.json"
    tfvars.main(
        ["--env", "prod", "--ops-email", "o@example.com", "--alert-email", "a@example.com", "--output", str(output)]
    )
    with LocalAWS() as aws:
        settings_read, facts, results = preflight.preflight("prod", aws.env(), build_dir=tmp_path)
        topics = by_topic(results)
        assert facts.account == "123456789012"
        assert topics["credentials"].level == OK
        # moto implements no GetAccountSettings: the check says so rather than guessing.
        assert (
            topics["Lambda concurrency"].level == UNKNOWN
            and "does not implement" in topics["Lambda concurrency"].message
        )
        assert topics["API Gateway logging role"].level == FIX  # a fresh account has none
        assert topics["availability zones"].level == OK and "use1-az3 excluded" in topics["availability zones"].message
        assert topics["Powertools layer"].level == OK  # the emulator seeds the public parameter
        # Once the bootstrap set the role, the role check passes.
        iam = boto3.client(
            "iam", endpoint_url=aws.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        role = iam.create_role(
            RoleName="apigateway-cloudwatch-us-east-1",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        apigateway = boto3.client(
            "apigateway",
            endpoint_url=aws.endpoint,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        apigateway.update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}]
        )
        _, _, again = preflight.preflight("prod", aws.env(), build_dir=tmp_path)
        assert by_topic(again)["API Gateway logging role"].level == OK


@pytest.mark.slow
def test_the_cli_prints_the_report_and_fails_when_something_would_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preflight, "BUILD", Path(tmp_path))
    tfvars.main(
        [
            "--env",
            "prod",
            "--alert-email",
            "a@example.com",
            "--output",
            str(tmp_path / "prod" / "terraform.tfvars.json"),
        ]
    )
    capsys.readouterr()  # what tfvars printed
    assert preflight.main(["--env", "prod", "--local"]) == 1  # no ops address
    out = capsys.readouterr().out
    assert out.startswith("preflight prod (profile prod, us-east-1 at http://127.0.0.1:")
    assert "FAIL      ops alarms address" in out and "1 problem(s) would make the deploy fail" in out


def test_the_cli_needs_the_rendered_variables_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preflight, "BUILD", Path(tmp_path))
    assert preflight.main(["--env", "pr-9"]) == 1
    assert "make tfvars ENV=pr-9" in capsys.readouterr().err
