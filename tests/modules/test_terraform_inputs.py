"""Bad inputs stop `terraform plan` with a message that says what to write instead.

Each case plans the root module (or a module through a small wrapper) with one wrong value against a
local moto server, and checks that the plan fails on that value with its guidance, not on anything
else. The configuration is copied into a temporary directory so that init writes nothing into the
checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, require
from tools._cli import FUNCTIONS_FILE, function_catalog, provider_mirror
from tools.emulator.localaws import LocalAWS

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

FUNCTION_KEYS = tuple(function_catalog())


class Workspace:
    """A copy of terraform/ and modules/ (with the files the root reads) that plans against moto."""

    def __init__(self, base: Path, terraform: str, env: dict[str, str]) -> None:
        self.base = base
        self.terraform = terraform
        self.env = {**os.environ, **env, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
        shutil.copytree(ROOT / "modules", base / "modules", ignore=shutil.ignore_patterns(".terraform*"))
        shutil.copytree(
            ROOT / "terraform", base / "terraform", ignore=shutil.ignore_patterns(".terraform*", "*_override.tf")
        )
        fraud = base / "lambdas" / "fraud"
        fraud.mkdir(parents=True)
        shutil.copy(FUNCTIONS_FILE, base / "lambdas" / FUNCTIONS_FILE.name)
        for name in ("rules.default.json", "transaction.schema.json"):
            shutil.copy(ROOT / "lambdas" / "fraud" / name, fraud / name)
        # The default model the root uploads (models/default.json, written by `make train`).
        (base / "models").mkdir()
        (base / "models" / "default.json").write_text(json.dumps({"format": "fraud-model/1", "version": "v-test"}))
        (base / "models" / "unversioned.json").write_text(json.dumps({"format": "fraud-model/1"}))
        self.artifacts = base / "dist"
        self.artifacts.mkdir()
        for key in FUNCTION_KEYS:
            with zipfile.ZipFile(self.artifacts / f"{key}.zip", "w") as archive:
                archive.writestr(
                    f"{function_catalog()[key]['module']}.py", "def handler(event, context):\n    return None\n"
                )

    def init(self, directory: Path) -> None:
        args = [self.terraform, f"-chdir={directory}", "init", "-input=false", "-no-color", "-backend=false"]
        if plugin_dir := provider_mirror():
            args.append(f"-plugin-dir={plugin_dir}")
        subprocess.run(args, env=self.env, check=True, capture_output=True, text=True)

    def plan(self, directory: Path, variables: dict) -> subprocess.CompletedProcess[str]:
        var_file = directory / f"case-{uuid.uuid4().hex}.tfvars.json"
        var_file.write_text(json.dumps(variables))
        # -refresh=false and no state: validation runs without touching (emulated) AWS resources.
        args = [
            self.terraform,
            f"-chdir={directory}",
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-refresh=false",
            f"-var-file={var_file}",
        ]
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=600)

    def plan_json(self, directory: Path, variables: dict) -> dict:
        """Plan ``variables`` into a file and return ``terraform show -json`` of it."""
        name = uuid.uuid4().hex
        var_file, plan_file = directory / f"case-{name}.tfvars.json", directory / f"case-{name}.tfplan"
        var_file.write_text(json.dumps(variables))
        common = [self.terraform, f"-chdir={directory}"]
        subprocess.run(
            [*common, "plan", "-input=false", "-no-color", "-lock=false", f"-var-file={var_file}", f"-out={plan_file}"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        shown = subprocess.run(
            [*common, "show", "-json", str(plan_file)], env=self.env, check=True, capture_output=True, text=True
        )
        return json.loads(shown.stdout)

    def plan_all(self, directory: Path, cases: Mapping[str, dict]) -> dict[str, subprocess.CompletedProcess[str]]:
        """Plan every case at once (each plan spends most of its time waiting on the provider)."""
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
            futures = {name: pool.submit(self.plan, directory, variables) for name, variables in cases.items()}
            return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def workspace(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    require(
        bool(os.environ.get("TF_PLUGIN_DIR")) or not os.environ.get("CI"),
        "TF_PLUGIN_DIR is not set: CI has no registry access, point it at the provider mirror",
    )
    with LocalAWS() as aws:
        ws = Workspace(tmp_path_factory.mktemp("validation"), terraform_bin, aws.env())
        # The root has a local backend; a copy needs a backend-less init only.
        (ws.base / "terraform" / "backend.tf").unlink()
        ws.init(ws.base / "terraform")
        yield ws


def diagnostics(result: subprocess.CompletedProcess[str]) -> str:
    """Terraform's error output as one line (it wraps messages inside a box of │ characters)."""
    return " ".join(re.sub(r"[│╷╵]", " ", result.stderr).split())


ROOT_CASES = {
    "suffix with capitals and an underscore": (
        {"suffix": "Dev_1"},
        "suffix must be 2-24 lowercase letters, digits or hyphens, not starting or ending with a hyphen,"
        ' e.g. "dev" or "pr-42".',
    ),
    "unknown function key": (
        {"functions": {"detect_fraud": {"memory_mb": 512}}},
        f"functions keys must be function keys of lambdas/functions.json: {', '.join(sorted(FUNCTION_KEYS))}.",
    ),
    "memory out of range": (
        {"functions": {"detect-fraud": {"memory_mb": 64}}},
        "functions[*].memory_mb must be a whole number of MB from 128 to 10240, e.g. 512.",
    ),
    "retention CloudWatch does not offer": (
        {"log_retention_days": 8},
        "log_retention_days must be one of 1, 3, 5, 7, 14, 30,",
    ),
    "malformed alert email": (
        {"alert_email": "fraud-team"},
        'alert_email must be an email address such as "fraud-team@example.com", or null for no email subscription.',
    ),
    "unknown stream consumer": (
        {"stream_consumer": "kinesis"},
        'stream_consumer must be "eventbridge" or "direct".',
    ),
    "schedule that is not rate() or cron()": (
        {"analysis_schedule_expression": "every 5 minutes"},
        'analysis_schedule_expression must be a rate() or cron() expression, e.g. "rate(5 minutes)"',
    ),
    "Powertools release that is not a version": (
        {"powertools_release": "latest"},
        'powertools_release must be a Powertools V3 release such as "3.37.0" (never "latest"',
    ),
    "malformed ops email": (
        {"ops_email": "fraud-ops"},
        'ops_email must be an email address such as "fraud-ops@example.com", or null for no email subscription.',
    ),
    "transactions kept shorter than the history the rules read": (
        {"transaction_retention_days": 7},
        "transaction_retention_days (7) must be at least the rules document's history.window_days (30)",
    ),
    "a model file without a version": (
        {"model_file": "../models/unversioned.json"},
        'model_file must be a readable JSON model artifact with a top-level "version"',
    ),
    "a sensitive setting named like one of the pipeline's parameters": (
        {"sensitive_settings": {"hash-key": "secret"}},
        "sensitive_settings keys must not be hash-key, model, rules or shadow-rules",
    ),
    "a stream lag alarm beyond the stream's retention": (
        {"stream_lag_alarm_seconds": 90000},
        "stream_lag_alarm_seconds must be from 1 to 86399 seconds",
    ),
    "required tags set by hand": (
        {"tags": {"Environment": "production"}},
        "tags must not set Environment, Project or CostCenter; set suffix, project and cost_center instead.",
    ),
    "quota period API Gateway does not know": (
        {"api_quota_period": "HOUR"},
        'api_quota_period must be "DAY", "WEEK" or "MONTH".',
    ),
    "alerts visibility shorter than 6 x notify-team's timeout": (
        {"alerts_visibility_timeout_seconds": 120},
        "alerts_visibility_timeout_seconds (120) must be at least 6 x notify-team's timeout (30 s) = 180;",
    ),
    "time-bucket shards too few for the profile's burst": (
        {"peak_transactions_per_second": {"sustained": 100, "burst": 5000}, "time_bucket_shards": 4},
        "time_bucket_shards (4) takes 2000 transactions per second at 500 per key, less than"
        " peak_transactions_per_second.burst (5000): set time_bucket_shards to at least 10.",
    ),
    "a burst below the sustained peak": (
        {"peak_transactions_per_second": {"sustained": 100, "burst": 50}},
        "peak_transactions_per_second must be whole numbers with 1 <= sustained <= burst",
    ),
    "a parallelization factor beyond AWS's range": (
        {"stream_parallelization_factor": {"eventbridge": 1, "direct": 11}},
        "stream_parallelization_factor values must be whole numbers from 1 to 10",
    ),
    "lists checked less often than once a minute": (
        {"lists_cache_seconds": 300},
        "lists_cache_seconds must be a whole number from 0 to 60 (a list change must score within a minute).",
    ),
    "console MFA turned off": (
        {"console_mfa_configuration": "OFF"},
        'console_mfa_configuration must be "OPTIONAL" or "ON".',
    ),
    "console sessions of a day": (
        {"console_session_minutes": 1440},
        "console_session_minutes must be a whole number from 5 to 60.",
    ),
    "console URL over plain http": (
        {"console_url": "http://fraud.example.com"},
        "console_url must be an https:// URL without a trailing slash",
    ),
    "notify-team timeout raised past the alerts visibility": (
        {"functions": {"notify-team": {"timeout_seconds": 120}}},
        "alerts_visibility_timeout_seconds (360) must be at least 6 x notify-team's timeout (120 s) = 720;",
    ),
}


# The control case: the same variables with valid values plan, so each failure above comes from its
# bad value and not from the setup.
VALID = {
    "functions": {"detect-fraud": {"memory_mb": 512}, "notify-team": {"timeout_seconds": 60}},
    "alerts_visibility_timeout_seconds": 360,
    "alert_email": "fraud-team@example.com",
    "stream_consumer": "direct",
    "analysis_schedule_expression": "cron(0/5 * * * ? *)",
    "api_quota_period": "WEEK",
    "log_retention_days": 14,
    "tags": {"Team": "fraud"},
    "ops_email": "fraud-ops@example.com",
    "powertools_release": "3.37.0",
    "transaction_retention_days": 60,
    "model_file": "../models/default.json",
    "sensitive_settings": {"webhook-token": "secret"},
    "stream_lag_alarm_seconds": 600,
    "peak_transactions_per_second": {"sustained": 100, "burst": 3000},
    "time_bucket_shards": 6,
    "stream_parallelization_factor": {"eventbridge": 2, "direct": 10},
    "lists_cache_seconds": 30,
    "console_mfa_configuration": "ON",
    "console_session_minutes": 30,
    "console_url": "https://fraud.example.com",
}


@pytest.fixture(scope="module")
def root_results(workspace: Workspace) -> dict[str, subprocess.CompletedProcess[str]]:
    base = {"suffix": "val", "artifacts_dir": str(workspace.artifacts)}
    cases = {name: {**base, **variables} for name, (variables, _) in ROOT_CASES.items()}
    cases["valid"] = {**base, **VALID}
    return workspace.plan_all(workspace.base / "terraform", cases)


@pytest.mark.parametrize("case", ROOT_CASES.keys())
def test_the_root_module_rejects_a_bad_value_and_says_what_to_write(root_results, case):
    variables, message = ROOT_CASES[case]
    result = root_results[case]
    assert result.returncode != 0, f"plan accepted {variables}"
    assert message in diagnostics(result)


def test_the_same_variables_with_valid_values_pass_validation(root_results):
    result = root_results["valid"]
    assert result.returncode == 0, diagnostics(result)


@pytest.fixture(scope="module")
def function_wrapper(workspace: Workspace) -> Path:
    """A root that instantiates modules/functions with statements from a variable."""
    directory = workspace.base / "wrapper"
    directory.mkdir()
    (directory / "main.tf").write_text(
        """
variable "statements" {
  type = list(object({ sid = string, actions = list(string), resources = list(string) }))
}

module "function" {
  source                     = "../modules/functions"
  name                       = "wrapped-val"
  region                     = "us-east-1"
  handler                    = "detect_fraud.handler"
  filename                   = "../dist/detect-fraud.zip"
  kms_key_arn                = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  on_failure_destination_arn = "arn:aws:sqs:us-east-1:123456789012:function-failures-val"
  policy_statements          = var.statements
}
"""
    )
    workspace.init(directory)
    return directory


STATEMENT_CASES = {
    "wildcard action": (
        [
            {
                "sid": "ReadTable",
                "actions": ["dynamodb:*"],
                "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/t-val"],
            }
        ],
        "Policy statement actions must be exact service:Action names without wildcards",
    ),
    "Resource star": (
        [{"sid": "ReadTable", "actions": ["dynamodb:GetItem"], "resources": ["*"]}],
        'Policy statement resources must be ARNs (no "*")',
    ),
    "statement without a purpose": (
        [
            {
                "sid": "",
                "actions": ["dynamodb:GetItem"],
                "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/t-val"],
            }
        ],
        "Each policy statement needs a unique sid of letters and digits that names its purpose",
    ),
}


SCOPED_STATEMENT = {
    "sid": "ReadTable",
    "actions": ["dynamodb:GetItem"],
    "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/t-val"],
}


@pytest.fixture(scope="module")
def statement_results(workspace: Workspace, function_wrapper: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    cases = {name: {"statements": statements} for name, (statements, _) in STATEMENT_CASES.items()}
    cases["scoped"] = {"statements": [SCOPED_STATEMENT]}
    return workspace.plan_all(function_wrapper, cases)


@pytest.mark.parametrize("case", STATEMENT_CASES.keys())
def test_a_function_accepts_no_wildcard_or_unnamed_statement(statement_results, case):
    statements, message = STATEMENT_CASES[case]
    result = statement_results[case]
    assert result.returncode != 0, f"plan accepted {statements}"
    assert message in diagnostics(result)


def test_a_function_accepts_a_scoped_named_statement(statement_results):
    result = statement_results["scoped"]
    assert result.returncode == 0, diagnostics(result)


@pytest.fixture(scope="module")
def models_wrapper(workspace: Workspace) -> Path:
    """A root that instantiates modules/models with the model file from a variable."""
    directory = workspace.base / "models-wrapper"
    directory.mkdir()
    (directory / "main.tf").write_text(
        """
variable "model_file" {
  type    = string
  default = null
}

module "models" {
  source           = "../modules/models"
  kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  model_file       = var.model_file
  parameter_prefix = "/fraud-detection/val"
  region           = "us-east-1"
  suffix           = "val"
}
"""
    )
    workspace.init(directory)
    return directory


def _pointer(plan: dict) -> dict:
    (pointer,) = [
        c["change"]["after"]
        for c in plan["resource_changes"]
        if c["address"] == "module.models.aws_ssm_parameter.pointer"
    ]
    return json.loads(pointer["value"])


def test_without_a_model_file_no_artifact_is_uploaded_and_the_pointer_names_no_model(workspace, models_wrapper):
    plan = workspace.plan_json(models_wrapper, {"model_file": None})
    assert _pointer(plan) == {"live": None, "shadow": None}
    assert not [c for c in plan["resource_changes"] if c["type"] == "aws_s3_object"]


def test_a_model_file_is_uploaded_under_its_version_and_becomes_the_live_model(workspace, models_wrapper):
    model = workspace.base / "models" / "default.json"
    plan = workspace.plan_json(models_wrapper, {"model_file": str(model)})
    live = _pointer(plan)["live"]
    assert (live["key"], live["version"]) == ("models/v-test.json", "v-test")
    assert live["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    (artifact,) = [c["change"]["after"] for c in plan["resource_changes"] if c["type"] == "aws_s3_object"]
    assert artifact["key"] == "models/v-test.json"


@pytest.mark.slow
def test_the_failure_queues_move_to_their_for_each_addresses_without_being_replaced(workspace: Workspace):
    """State written with the three copied queues (the old addresses) plans no queue change."""
    directory = workspace.base / "messaging-wrapper"
    directory.mkdir()
    (directory / "main.tf").write_text(
        """
module "messaging" {
  source      = "../modules/messaging"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  region      = "us-east-1"
  suffix      = "mv"
}
"""
    )
    workspace.init(directory)
    common = [workspace.terraform, f"-chdir={directory}"]

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*common, *args], env=workspace.env, check=True, capture_output=True, text=True, timeout=900
        )

    terraform("apply", "-input=false", "-no-color", "-auto-approve", "-lock=false")
    old = {"function-failures": "function_failures", "stream": "stream_dlq", "events": "events_dlq"}
    for key, name in old.items():  # what a state written before the for_each holds
        terraform(
            "state",
            "mv",
            "-lock=false",
            f'module.messaging.aws_sqs_queue.dead_letter["{key}"]',
            f"module.messaging.aws_sqs_queue.{name}",
        )
    plan_file = directory / "moved.tfplan"
    terraform("plan", "-input=false", "-no-color", "-lock=false", f"-out={plan_file}")
    plan = json.loads(terraform("show", "-json", str(plan_file)).stdout)
    queues = {c["address"]: c for c in plan["resource_changes"] if c["type"] == "aws_sqs_queue"}
    for key, name in old.items():
        change = queues[f'module.messaging.aws_sqs_queue.dead_letter["{key}"]']
        assert change["previous_address"] == f"module.messaging.aws_sqs_queue.{name}"
        assert change["change"]["actions"] in (["no-op"], ["update"]), change["change"]["actions"]
    assert not [a for a, c in queues.items() if "delete" in c["change"]["actions"]]
