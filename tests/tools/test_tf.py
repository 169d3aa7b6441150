"""The Terraform driver's own logic: plan summaries, preconditions and their messages, the backend."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools._cli import ToolError
from tools.deploy import tf
from tools.deploy.package import FUNCTIONS


def change(type_: str, *actions: str, mode: str = "managed") -> dict:
    return {"address": f"{type_}.x", "mode": mode, "type": type_, "change": {"actions": list(actions)}}


def test_the_plan_summary_counts_adds_changes_and_destroys_per_type():
    plan = {
        "resource_changes": [
            change("aws_sqs_queue", "create"),
            change("aws_sqs_queue", "create"),
            change("aws_lambda_function", "update"),
            change("aws_iam_role", "delete", "create"),  # a replacement: one add and one destroy
            change("aws_kms_key", "no-op"),
            change("aws_iam_policy_document", "read", mode="data"),
        ]
    }
    totals, by_type = tf.summarize(plan)
    assert totals == {"add": 3, "change": 1, "destroy": 1}
    assert by_type["add"] == {"aws_sqs_queue": 2, "aws_iam_role": 1}
    summary = tf.format_summary("pr-42", plan)
    assert summary.splitlines()[0] == "pr-42: 3 to add, 1 to change, 1 to destroy"
    assert "  add        2  aws_sqs_queue" in summary


def test_an_empty_plan_says_no_changes():
    assert tf.format_summary("dev", {"resource_changes": [change("aws_kms_key", "no-op")]}) == "dev: no changes"


@pytest.fixture
def fake_terraform(tmp_path: Path) -> dict[str, str]:
    """A PATH with a `terraform` that is never run: the checks below happen before Terraform does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "terraform"
    binary.write_text("#!/bin/sh\necho 'unexpected terraform call' >&2\nexit 1\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return {"PATH": str(bin_dir)}


@pytest.fixture
def no_credentials(tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "missing-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_PROFILE": "",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "",
    }


def test_without_terraform_the_cli_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tf.main(["plan", "--env", "pr-42"]) == 1
    error = capsys.readouterr().err
    assert "install Terraform" in error and "Traceback" not in error


def test_without_credentials_a_plan_says_what_to_set(tmp_path, monkeypatch, fake_terraform, no_credentials):
    for name, value in no_credentials.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    stack = tf.Stack("pr-42", env=fake_terraform, build_dir=tmp_path / "build")
    stack.dir.mkdir(parents=True)
    artifacts = tmp_path / "dist"
    artifacts.mkdir()
    for key in FUNCTIONS:
        (artifacts / f"{key}.zip").write_bytes(b"zip")
    stack.var_file.write_text(json.dumps({"suffix": "pr-42", "artifacts_dir": str(artifacts)}))
    with pytest.raises(ToolError, match="AWS_PROFILE .* AWS_ACCESS_KEY_ID .* AWS_ENDPOINT_URL"):
        stack.plan()


def test_an_endpoint_or_static_keys_count_as_credentials(no_credentials):
    assert tf.has_credentials({**no_credentials, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert tf.has_credentials({**no_credentials, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"})


def test_a_plan_without_rendered_variables_says_which_command_renders_them(tmp_path, fake_terraform):
    stack = tf.Stack("pr-42", env=fake_terraform, build_dir=tmp_path)
    with pytest.raises(ToolError, match=r"make tfvars ENV=pr-42"):
        stack.plan()


def test_a_plan_without_zips_says_to_package(tmp_path, fake_terraform):
    stack = tf.Stack("pr-42", env=fake_terraform, build_dir=tmp_path / "build")
    stack.dir.mkdir(parents=True)
    stack.var_file.write_text(json.dumps({"suffix": "pr-42", "artifacts_dir": str(tmp_path / "empty")}))
    with pytest.raises(ToolError, match=r"detect-fraud.zip.*`make package`"):
        stack.plan()


def test_the_account_bootstrap_keeps_its_state_per_account_and_region_and_needs_no_zips(
    tmp_path, fake_terraform, monkeypatch
):
    monkeypatch.setattr(tf, "BUILD", tmp_path)
    stack = tf.bootstrap_stack("123456789012", "eu-west-1", fake_terraform)
    assert stack.dir.name == "account-123456789012-eu-west-1" and stack.tfdir == tf.BOOTSTRAP_DIR
    assert json.loads(stack.var_file.read_text()) == {"region": "eu-west-1"}
    stack._require_inputs()  # no artifacts_dir: nothing to package
    flags = tf.Stack(stack.suffix, env={**fake_terraform, "TF_STATE_BUCKET": "b"}, tfdir=tmp_path, account_level=True)
    assert "-backend-config=key=fraud-pipeline/account-123456789012-eu-west-1.tfstate" in flags.backend_config()


def test_local_is_for_plans_only(fake_terraform, monkeypatch, capsys):
    monkeypatch.setenv("PATH", fake_terraform["PATH"])
    assert tf.main(["deploy", "--env", "pr-42", "--local"]) == 1
    assert "--local plans only" in capsys.readouterr().err


def _preflight_result(level: str, topic: str):
    from tools.deploy import preflight

    return preflight.Result(level, topic, "message", "remedy")


def test_deploy_stops_before_init_when_the_preflight_finds_a_problem(tmp_path, fake_terraform, monkeypatch, capsys):
    from tools.deploy import preflight

    settings = object.__new__(preflight.Settings)
    settings.suffix, settings.profile, settings.region = "prod", "prod", "us-east-1"
    results = [_preflight_result("FAIL", "ops alarms address"), _preflight_result("fix", "API Gateway logging role")]
    monkeypatch.setattr(preflight, "preflight", lambda suffix: (settings, preflight.Facts(account="1"), results))
    bootstraps = []
    monkeypatch.setattr(tf, "apply_bootstrap", lambda *args: bootstraps.append(args))
    monkeypatch.setenv("PATH", fake_terraform["PATH"])
    assert tf.main(["deploy", "--env", "prod", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "would not deploy; nothing was changed" in captured.err and "unexpected terraform call" not in captured.err
    assert bootstraps == [], "the bootstrap waits until nothing else would fail"


def test_deploy_applies_the_account_bootstrap_first_when_the_account_lacks_the_logging_role(
    tmp_path, fake_terraform, monkeypatch
):
    from tools.deploy import preflight

    settings = object.__new__(preflight.Settings)
    settings.suffix, settings.profile, settings.region = "dev", "dev", "us-east-1"
    results = [_preflight_result("fix", "API Gateway logging role")]
    monkeypatch.setattr(
        preflight, "preflight", lambda suffix: (settings, preflight.Facts(account="123456789012"), results)
    )
    calls = []
    monkeypatch.setattr(tf, "apply_bootstrap", lambda account, region, auto: calls.append((account, region, auto)))

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(tf.Stack, "preflight", stop)  # the environment's own steps come after the bootstrap
    monkeypatch.setenv("PATH", fake_terraform["PATH"])
    with pytest.raises(Stop):
        tf._main(["deploy", "--env", "dev", "--quiet", "--auto-approve"])
    assert calls == [("123456789012", "us-east-1", True)]


def test_an_invalid_suffix_is_rejected_before_anything_runs(fake_terraform):
    with pytest.raises(ToolError, match="invalid environment suffix"):
        tf.Stack("PR_42", env=fake_terraform)


def test_each_suffix_keeps_its_state_plan_and_provider_cache_under_build(tmp_path, fake_terraform):
    stack = tf.Stack("pr-42", env=fake_terraform, build_dir=tmp_path)
    assert stack.env["TF_DATA_DIR"] == str(tmp_path / "pr-42" / ".terraform")
    assert stack.backend_config() == [f"-backend-config=path={tmp_path / 'pr-42' / 'terraform.tfstate'}"]
    assert (stack.plan_file, stack.plan_json) == (tmp_path / "pr-42" / "plan.tfplan", tmp_path / "pr-42" / "plan.json")


def test_a_state_bucket_switches_to_s3_with_a_key_per_suffix_and_back(tmp_path, fake_terraform):
    tfdir = tmp_path / "terraform"
    tfdir.mkdir()
    s3 = tf.Stack("pr-42", env={**fake_terraform, "TF_STATE_BUCKET": "tf-state"}, build_dir=tmp_path, tfdir=tfdir)
    flags = s3.backend_config()
    assert "-backend-config=bucket=tf-state" in flags
    assert "-backend-config=key=fraud-pipeline/pr-42.tfstate" in flags
    assert 'backend "s3"' in (tfdir / tf.BACKEND_OVERRIDE).read_text()

    local = tf.Stack("pr-42", env={**fake_terraform, "TF_STATE_BUCKET": ""}, build_dir=tmp_path, tfdir=tfdir)
    local.backend_config()
    assert not (tfdir / tf.BACKEND_OVERRIDE).exists()


def test_a_hand_written_backend_override_is_never_overwritten(tmp_path, fake_terraform):
    tfdir = tmp_path / "terraform"
    tfdir.mkdir()
    (tfdir / tf.BACKEND_OVERRIDE).write_text('terraform {\n  backend "gcs" {}\n}\n')
    stack = tf.Stack("pr-42", env={**fake_terraform, "TF_STATE_BUCKET": "b"}, build_dir=tmp_path, tfdir=tfdir)
    with pytest.raises(ToolError, match="not written by tools/deploy/tf.py"):
        stack.backend_config()


TINY_ROOT = """
terraform {
  backend "local" {}
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.100" }
  }
}
variable "suffix" { type = string }
variable "artifacts_dir" { type = string }
provider "aws" { region = "us-east-1" }
resource "aws_ssm_parameter" "marker" {
  name  = "/tools-test/${var.suffix}"
  type  = "String"
  value = "deployed"
}
output "parameter_name" { value = aws_ssm_parameter.marker.name }
output "secret" {
  value     = "s3cr3t"
  sensitive = true
}
"""


@pytest.mark.terraform
@pytest.mark.slow
def test_a_stack_inits_plans_applies_outputs_and_destroys_with_everything_under_its_build_dir(terraform_bin, tmp_path):
    from tools.emulator.localaws import LocalAWS

    tfdir = tmp_path / "terraform"
    tfdir.mkdir()
    (tfdir / "main.tf").write_text(TINY_ROOT)
    artifacts = tmp_path / "dist"
    artifacts.mkdir()
    for key in FUNCTIONS:
        (artifacts / f"{key}.zip").write_bytes(b"zip")
    with LocalAWS() as aws:
        stack = tf.Stack("tools-t1", env=aws.env(), build_dir=tmp_path / "build", tfdir=tfdir)
        stack.dir.mkdir(parents=True)
        stack.var_file.write_text(json.dumps({"suffix": "tools-t1", "artifacts_dir": str(artifacts)}))
        stack.init()
        plan = stack.plan()
        assert tf.summarize(plan)[0] == {"add": 1}
        assert json.loads(stack.plan_json.read_text())["resource_changes"][0]["type"] == "aws_ssm_parameter"
        stack.apply()
        assert stack.state_file.is_file() and not (tfdir / "terraform.tfstate").exists()
        assert stack.outputs() == {"parameter_name": "/tools-test/tools-t1", "secret": "s3cr3t"}
        assert tf.format_summary("tools-t1", stack.plan()) == "tools-t1: no changes"
        stack.destroy()
        assert stack.outputs() == {}


@pytest.mark.terraform
@pytest.mark.slow
def test_the_account_bootstrap_applies_and_sets_the_api_gateway_logging_role(terraform_bin, tmp_path, monkeypatch):
    import boto3

    from tools.emulator.localaws import LocalAWS

    monkeypatch.setattr(tf, "BUILD", tmp_path)
    # A region no other test touches: moto's backends are shared by every server of the process.
    with LocalAWS(region="eu-west-2") as aws:
        apigateway = boto3.client(
            "apigateway",
            endpoint_url=aws.endpoint,
            region_name=aws.region,
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        assert not apigateway.get_account().get("cloudwatchRoleArn")
        tf.apply_bootstrap("123456789012", aws.region, auto_approve=True, env=aws.env())
        assert apigateway.get_account()["cloudwatchRoleArn"].endswith(":role/apigateway-cloudwatch-eu-west-2")
        stack = tf.bootstrap_stack("123456789012", aws.region, aws.env())
        assert stack.state_file == tmp_path / "account-123456789012-eu-west-2" / "terraform.tfstate"
        assert tf.format_summary(stack.suffix, stack.plan()) == f"{stack.suffix}: no changes"


@pytest.mark.terraform
@pytest.mark.slow
def test_a_local_plan_of_prod_needs_no_account_and_resolves_the_layer_from_the_emulators_parameter(
    terraform_bin, tmp_path, monkeypatch, capsys
):
    from tools._cli import powertools_release
    from tools.deploy import package, tfvars

    monkeypatch.setattr(tf, "BUILD", tmp_path)
    monkeypatch.setattr(tf, "EMULATOR_PLANS", tmp_path / "emulator-plans")
    dist = tmp_path / "dist"
    package.build(ROOT / "lambdas", dist)
    var_file = tmp_path / "prod" / "terraform.tfvars.json"
    assert tfvars.main(["--env", "prod", "--artifacts-dir", str(dist), "--output", str(var_file)]) == 0
    capsys.readouterr()  # what tfvars printed
    assert tf.main(["plan", "--env", "prod", "--local", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("prod: ") and "(planned against the embedded emulator, no account)" in out
    plan = json.loads((tmp_path / "emulator-plans" / "prod" / "plan.json").read_text())
    layers = {
        tuple(c["change"]["after"]["layers"]) for c in plan["resource_changes"] if c["type"] == "aws_lambda_function"
    }
    assert layers == {("arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:0",)}
    assert plan["variables"]["powertools_release"]["value"] == powertools_release()
    assert not (tmp_path / "prod" / "terraform.tfstate").exists(), "the environment's own state is never touched"


# --- Protected environments: remote state, destroy ------------------------------------------------


def protected_stack(tmp_path: Path, env: dict[str, str], suffix: str = "prod") -> tf.Stack:
    tfdir = tmp_path / "terraform"
    tfdir.mkdir(exist_ok=True)
    stack = tf.Stack(suffix, env=env, build_dir=tmp_path / "build", tfdir=tfdir)
    stack.dir.mkdir(parents=True, exist_ok=True)
    stack.var_file.write_text(json.dumps({"suffix": suffix, "tags": {"Profile": "prod"}}))
    return stack


def test_a_protected_environment_refuses_local_state_on_aws_and_says_how_to_make_the_bucket(tmp_path, fake_terraform):
    stack = protected_stack(tmp_path, {**fake_terraform, "TF_STATE_BUCKET": "", "AWS_ENDPOINT_URL": ""})
    assert stack.protected and stack.profile == "prod"
    with pytest.raises(ToolError, match=r"must live in S3.*make state-bootstrap ENV=prod.*migrate-state"):
        stack.backend_config()


def test_a_protected_environment_keeps_local_state_in_the_emulator(tmp_path, fake_terraform):
    stack = protected_stack(
        tmp_path, {**fake_terraform, "TF_STATE_BUCKET": "", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    )
    assert stack.backend_config() == [f"-backend-config=path={stack.state_file}"]


def test_a_dev_environment_may_keep_local_state(tmp_path, fake_terraform):
    stack = tf.Stack("pr-42", env={**fake_terraform, "TF_STATE_BUCKET": "", "AWS_ENDPOINT_URL": ""}, build_dir=tmp_path)
    assert not stack.protected and stack.backend_config()[0].startswith("-backend-config=path=")


def test_the_state_is_encrypted_with_the_state_key_when_it_is_given(tmp_path, fake_terraform):
    env = {**fake_terraform, "TF_STATE_BUCKET": "b", "TF_STATE_KMS_KEY": "arn:aws:kms:us-east-1:1:key/k"}
    flags = protected_stack(tmp_path, env).backend_config()
    assert (
        "-backend-config=encrypt=true" in flags and "-backend-config=kms_key_id=arn:aws:kms:us-east-1:1:key/k" in flags
    )
    assert "-backend-config=use_lockfile=true" in flags
    without_key = protected_stack(tmp_path, {**fake_terraform, "TF_STATE_BUCKET": "b", "TF_STATE_KMS_KEY": ""})
    assert not [f for f in without_key.backend_config() if "encrypt" in f], "the bucket's default encryption"


def test_a_bucket_is_not_used_while_the_state_is_still_local(tmp_path, fake_terraform):
    stack = protected_stack(tmp_path, {**fake_terraform, "TF_STATE_BUCKET": "b", "AWS_ACCESS_KEY_ID": "a"})
    (stack.tfdir / "main.tf").write_text("")
    stack.state_file.write_text(json.dumps({"resources": [{"mode": "managed", "instances": [{}, {}]}]}))
    with pytest.raises(ToolError, match=r"holds 2 resources .* migrate-state --env prod"):
        stack.init()


def test_a_protected_environment_is_destroyed_only_when_its_name_is_given_again(tmp_path, fake_terraform, monkeypatch):
    stack = protected_stack(tmp_path, fake_terraform)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ToolError, match="CONFIRM=prod"):
        tf.confirm_destroy(stack, None)
    with pytest.raises(ToolError, match="not the environment's name"):
        tf.confirm_destroy(stack, "staging")
    tf.confirm_destroy(stack, "prod")
    tf.confirm_destroy(tf.Stack("pr-42", env=fake_terraform, build_dir=tmp_path), None)  # not protected: no question


def test_the_typed_name_must_be_the_environment_s(tmp_path, fake_terraform, monkeypatch):
    stack = protected_stack(tmp_path, fake_terraform)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    with pytest.raises(ToolError, match="'yes' is not 'prod'"):
        tf.confirm_destroy(stack, None)
    monkeypatch.setattr("builtins.input", lambda prompt: "prod")
    tf.confirm_destroy(stack, None)


def test_a_destroy_plan_with_protected_tables_is_stopped_before_it_deletes_anything():
    def table(address: str, protected: bool) -> dict:
        return {
            "address": address,
            "mode": "managed",
            "type": "aws_dynamodb_table",
            "change": {"actions": ["delete"], "before": {"deletion_protection_enabled": protected}},
        }

    plan = {"resource_changes": [table("module.data.aws_dynamodb_table.transactions", True), table("x.state", False)]}
    assert tf.still_protected(plan) == ["module.data.aws_dynamodb_table.transactions"]
