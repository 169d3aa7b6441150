"""Variables files: the profile each suffix gets, what each profile sets, overrides, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools._cli import DIST, powertools_release, terraform_variables
from tools.deploy import tfvars
from tools.deploy.package import FUNCTIONS


def rendered(suffix: str, *args: str, tmp_path: Path) -> dict:
    output = tmp_path / suffix / "terraform.tfvars.json"
    assert tfvars.main(["--env", suffix, *args, "--output", str(output)]) == 0
    return json.loads(output.read_text())


@pytest.mark.parametrize(
    ("suffix", "profile"),
    [
        ("dev", "dev"),
        ("pr-42", "dev"),
        ("feature-x1", "dev"),
        ("staging", "staging"),
        ("prod", "prod"),
        ("local", "local"),
    ],
)
def test_the_profile_is_the_one_named_like_the_suffix_else_dev(suffix, profile, tmp_path):
    assert rendered(suffix, tmp_path=tmp_path)["tags"]["Profile"] == profile


def test_an_explicit_profile_wins_over_the_name(tmp_path):
    variables = rendered("pr-42", "--profile", "prod", tmp_path=tmp_path)
    assert variables["suffix"] == "pr-42"
    assert variables["tags"]["Profile"] == "prod"


def test_every_document_names_its_suffix_and_the_absolute_artifacts_dir(tmp_path):
    for profile in tfvars.available_profiles():
        variables = rendered("pr-7", "--profile", profile, tmp_path=tmp_path)
        assert variables["suffix"] == "pr-7"
        assert variables["artifacts_dir"] == str(DIST) and Path(variables["artifacts_dir"]).is_absolute()


def test_prod_reserves_100_on_the_transaction_path_a_handful_for_the_schedules_runs_in_a_vpc_and_keeps_logs_7_days(
    tmp_path,
):
    variables = rendered("prod", tmp_path=tmp_path)
    assert {key: f.get("reserved_concurrency") for key, f in variables["functions"].items()} == {
        "process-transaction": 100,
        "detect-fraud": 100,
        "notify-team": 100,
        "analyze-patterns": 2,  # one run every 5 minutes (and a retry)
        "check-subscriptions": None,  # one run an hour
        "console": 10,  # a team's clicks
        "console-authorizer": 10,
    }
    assert set(variables["functions"]) == set(FUNCTIONS)
    assert variables["enable_vpc"] is True
    assert variables["log_retention_days"] == 7


@pytest.mark.parametrize("profile", ["staging", "prod"])
def test_staging_and_prod_keep_the_safe_defaults_for_signing_logging_and_destroy(profile, tmp_path):
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    variables = rendered(profile, tmp_path=tmp_path)
    safe = {"api_authorization": "AWS_IAM", "api_logging_level": "OFF", "deletion_protection": True}
    safe["kms_deletion_window_days"] = 30
    with (ROOT / "terraform" / "variables.tf").open() as handle:
        declared = {
            name: spec
            for block in hcl2.load(handle, serialization_options=options)["variable"]
            for name, spec in block.items()
        }
    for name, value in safe.items():
        # Not set by the profile: the default of terraform/variables.tf, which is the safe value.
        assert name not in variables, (profile, name)
        assert declared[name]["default"] == value, name


@pytest.mark.parametrize("profile", ["dev", "local"])
def test_dev_and_local_are_disposable_and_take_the_api_key_alone(profile, tmp_path):
    variables = rendered(profile, tmp_path=tmp_path)
    assert variables["api_authorization"] == "NONE"
    assert (variables["deletion_protection"], variables["kms_deletion_window_days"]) == (False, 7)


def test_dev_is_small_and_cheap(tmp_path):
    dev, prod = rendered("dev", tmp_path=tmp_path), rendered("prod", tmp_path=tmp_path)
    assert all("reserved_concurrency" not in f for f in dev["functions"].values())
    assert dev["enable_vpc"] is False
    assert dev["log_retention_days"] == 7
    assert dev["api_quota_limit"] < prod["api_quota_limit"]
    assert all(dev["functions"][key]["memory_mb"] <= prod["functions"][key]["memory_mb"] for key in FUNCTIONS)


def test_local_has_no_powertools_layer_and_no_vpc(tmp_path):
    variables = rendered("local", tmp_path=tmp_path)
    assert "powertools_release" in variables and variables["powertools_release"] is None
    assert variables["enable_vpc"] is False


@pytest.mark.parametrize("profile", ["dev", "staging", "prod"])
def test_aws_profiles_deploy_the_powertools_release_pinned_in_pyproject(profile, tmp_path):
    assert rendered("pr-1", "--profile", profile, tmp_path=tmp_path)["powertools_release"] == powertools_release()


def test_each_profile_keeps_transactions_for_its_own_retention(tmp_path):
    days = {
        p: rendered("pr-1", "--profile", p, tmp_path=tmp_path)["transaction_retention_days"]
        for p in ("dev", "staging", "prod")
    }
    assert days == {"dev": 30, "staging": 90, "prod": 540}


def test_staging_and_prod_require_both_alert_addresses():
    for profile in tfvars.available_profiles():
        required = tfvars.load_profile(profile).get("required_variables", [])
        assert required == (["alert_email", "ops_email"] if profile in ("staging", "prod") else []), profile


def test_an_address_rendered_once_is_kept_by_later_renders_until_a_flag_replaces_or_removes_it(tmp_path):
    output = tmp_path / "prod" / "terraform.tfvars.json"

    def render(*args: str) -> dict:
        assert tfvars.main(["--env", "prod", *args, "--output", str(output)]) == 0
        return json.loads(output.read_text())

    first = render("--alert-email", "fraud-team@example.com", "--ops-email", "ops@example.com")
    assert (first["alert_email"], first["ops_email"]) == ("fraud-team@example.com", "ops@example.com")
    again = render("--stream-consumer", "direct")  # e.g. `make deploy ENV=prod` without the addresses
    assert (again["alert_email"], again["ops_email"]) == ("fraud-team@example.com", "ops@example.com")
    replaced = render("--ops-email", "oncall@example.com")
    assert (replaced["alert_email"], replaced["ops_email"]) == ("fraud-team@example.com", "oncall@example.com")
    removed = render("--alert-email", "")
    assert "alert_email" not in removed and removed["ops_email"] == "oncall@example.com"


def test_the_variable_list_is_read_from_variables_tf(tmp_path):
    declared = tmp_path / "variables.tf"
    declared.write_text(
        'variable "suffix" {\n  type = string\n}\n\nvariable "new_setting" {}\n# variable "commented" {}\n'
    )
    assert terraform_variables(declared) == {"suffix", "new_setting"}
    assert "transaction_retention_days" in tfvars.VARIABLES and "manage_api_gateway_account" not in tfvars.VARIABLES


def test_profiles_configure_exactly_the_functions_of_the_catalog():
    for profile in tfvars.available_profiles():
        assert set(tfvars.load_profile(profile)["variables"]["functions"]) == set(FUNCTIONS), profile


@pytest.mark.parametrize("suffix", ["Prod", "-dev", "dev-", "a", "x" * 25, "pr_42", "pr.42"])
def test_an_invalid_suffix_is_rejected_with_the_rule(suffix, tmp_path, capsys):
    assert tfvars.main([f"--env={suffix}", "--output", str(tmp_path / "out.json")]) == 1
    error = capsys.readouterr().err
    assert repr(suffix) in error and "lowercase letters, digits or hyphens" in error
    assert not (tmp_path / "out.json").exists()


def test_flags_override_the_profile(tmp_path):
    variables = rendered(
        "prod",
        "--no-vpc",
        "--stream-consumer",
        "direct",
        "--alert-email",
        "fraud-team@example.com",
        "--ops-email",
        "fraud-ops@example.com",
        tmp_path=tmp_path,
    )
    assert variables["enable_vpc"] is False
    assert variables["stream_consumer"] == "direct"
    assert variables["alert_email"] == "fraud-team@example.com"
    assert variables["ops_email"] == "fraud-ops@example.com"
    assert rendered("dev", "--enable-vpc", tmp_path=tmp_path)["enable_vpc"] is True


def test_set_takes_json_values_bare_strings_and_dotted_paths_into_maps(tmp_path):
    variables = rendered(
        "prod",
        "--set",
        "api_quota_limit=5000",
        "--set",
        "region=eu-west-1",
        "--set",
        "functions.detect-fraud.memory_mb=2048",
        "--set",
        'tags={"Team": "fraud"}',
        "--set",
        "powertools_release=null",
        tmp_path=tmp_path,
    )
    assert variables["api_quota_limit"] == 5000
    assert variables["region"] == "eu-west-1"
    assert variables["functions"]["detect-fraud"] == {"memory_mb": 2048, "reserved_concurrency": 100}
    assert variables["tags"] == {"Team": "fraud"}
    assert variables["powertools_release"] is None


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("no_such_variable=1", "unknown variable 'no_such_variable'"),
        ("api_quota_limit", "write key=value"),
        ("suffix=other", "not an override"),
        ("stream_consumer=kinesis", "stream_consumer must be one of eventbridge, direct"),
    ],
)
def test_bad_overrides_are_rejected_with_a_message(assignment, message, tmp_path, capsys):
    assert tfvars.main(["--env", "dev", "--set", assignment, "--output", str(tmp_path / "x.json")]) == 1
    assert message in capsys.readouterr().err


def test_an_unknown_profile_lists_the_available_ones(tmp_path, capsys):
    assert tfvars.main(["--env", "dev", "--profile", "qa", "--output", str(tmp_path / "x.json")]) == 1
    assert "dev, local, prod, staging" in capsys.readouterr().err


def test_prints_the_path_it_wrote(tmp_path, capsys):
    output = tmp_path / "vars.json"
    assert tfvars.main(["--env", "pr-42", "--output", str(output)]) == 0
    assert capsys.readouterr().out.strip() == str(output)
