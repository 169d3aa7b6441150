"""Static checks of the Terraform code: formatting, validity, and the root module's contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.deploy import tfvars

pytestmark = pytest.mark.terraform

MODULE_DIRS = sorted(p.parent for p in (ROOT / "modules").glob("*/versions.tf"))
CONTRACT_OUTPUTS = {
    "suffix", "region", "api_id", "api_stage_name", "api_url", "api_key_id", "api_key_value", "table_name",
    "table_stream_arn", "state_table_name", "alerts_queue_url", "alerts_dlq_url", "topic_arn",
    "alert_subscription_queue_url", "event_bus_name", "stream_consumer", "function_names",
    "rules_parameter_name", "kms_key_arn", "model_parameter_name", "model_bucket_name",
    "shadow_rules_parameter_name", "hash_key_parameter_name", "api_authorization", "api_invoke_resource_arn",
    "ops_topic_arn",
}  # fmt: skip
SHARED_MODULE_FILES = sorted((ROOT / "modules").glob("*.json"))  # read by several modules (one list each)


def declared(kind: str, directory: Path) -> set[str]:
    return {m for f in directory.glob("*.tf") for m in re.findall(rf'^{kind} "([\w-]+)"', f.read_text(), re.M)}


def terraform(terraform_bin: str, *args: str, cwd: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1"}
    return subprocess.run([terraform_bin, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_terraform_code_is_formatted(terraform_bin, tmp_path):
    result = terraform(terraform_bin, "fmt", "-check", "-recursive", "-diff", cwd=ROOT, data_dir=tmp_path)
    assert result.returncode == 0, f"run `terraform fmt -recursive`:\n{result.stdout}{result.stderr}"


def validate(terraform_bin: str, directory: Path, data_dir: Path) -> None:
    init = ["init", "-backend=false", "-input=false", "-no-color"]
    if os.environ.get("TF_PLUGIN_DIR"):
        init.append(f"-plugin-dir={os.environ['TF_PLUGIN_DIR']}")
    result = terraform(terraform_bin, *init, cwd=directory, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    result = terraform(terraform_bin, "validate", "-no-color", cwd=directory, data_dir=data_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_root_module_is_valid(terraform_bin, tmp_path):
    validate(terraform_bin, ROOT / "terraform", tmp_path)


def test_the_account_bootstrap_is_valid(terraform_bin, tmp_path):
    copy = shutil.copytree(ROOT / "terraform" / "bootstrap", tmp_path / "bootstrap")
    validate(terraform_bin, copy, tmp_path / ".terraform")


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_each_module_is_valid_on_its_own(terraform_bin, tmp_path, module):
    # A copy, so init leaves no lock file in modules/ (only the root module's lock file is kept); the
    # files the modules share sit beside it, as in modules/.
    copy = shutil.copytree(module, tmp_path / "modules" / module.name)
    for shared in SHARED_MODULE_FILES:
        shutil.copy(shared, tmp_path / "modules" / shared.name)
    validate(terraform_bin, copy, tmp_path / ".terraform")


def test_tfvars_knows_exactly_the_variables_the_root_module_declares():
    # tools.deploy.tfvars reads them from variables.tf; this reads every .tf file of the root.
    assert declared("variable", ROOT / "terraform") == tfvars.VARIABLES


def test_the_list_of_log_retention_values_lives_in_one_file():
    listed = "1, 3, 5, 7, 14, 30"
    files = [*ROOT.joinpath("terraform").glob("*.tf"), *ROOT.joinpath("modules").rglob("*.tf")]
    assert [f.relative_to(ROOT).as_posix() for f in files if listed in f.read_text()] == []
    readers = [f for f in files if "log-retention-days.json" in f.read_text()]
    assert len(readers) >= 5  # the root and every module with a log group


def test_the_root_module_has_every_output_of_the_contract():
    assert declared("output", ROOT / "terraform") >= CONTRACT_OUTPUTS


def test_every_module_has_a_readme_and_the_standard_files():
    for module in MODULE_DIRS:
        assert {p.name for p in module.iterdir()} >= {
            "main.tf",
            "variables.tf",
            "outputs.tf",
            "versions.tf",
            "README.md",
        }, module


def test_nothing_blocks_destroy():
    files = [*ROOT.joinpath("terraform").glob("*.tf"), *ROOT.joinpath("modules").rglob("*.tf")]
    blocking = [
        f.relative_to(ROOT).as_posix() for f in files if re.search(r"prevent_destroy\s*=\s*true", f.read_text())
    ]
    assert blocking == []


FUNCTION_ABBREVIATIONS = {
    "process": "process-transaction",
    "detect": "detect-fraud",
    "notify": "notify-team",
    "analyze": "analyze-patterns",
    "check": "check-subscriptions",
    "console": "console",
    "authorizer": "console-authorizer",
}


def contract_environment() -> dict[str, set[str]]:
    """docs/contracts.md's environment table: variable -> the function keys that get it."""
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", section, re.M):
        names = [n.strip() for n in row[1].split(",")]
        table[row[0]] = (
            set(FUNCTION_ABBREVIATIONS.values()) if names == ["all"] else {FUNCTION_ABBREVIATIONS[n] for n in names}
        )
    return table


def test_every_function_gets_exactly_the_environment_the_contract_lists():
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with (ROOT / "terraform" / "functions.tf").open() as handle:
        configured = hcl2.load(handle, serialization_options=options)["locals"]
    wiring = next(block["function_wiring"] for block in configured if "function_wiring" in block)
    common = next(block["common_environment"] for block in configured if "common_environment" in block)
    actual: dict[str, set[str]] = {}
    for key, spec in wiring.items():
        for name in [*spec["environment"], *common]:
            actual.setdefault(name, set()).add(key)
    assert actual == contract_environment()
    # The new settings name the resources the contract says.
    detect = wiring["detect-fraud"]["environment"]
    assert detect["MODEL_PARAMETER_NAME"] == "${module.models.model_parameter_name}"
    assert detect["MODEL_BUCKET"] == "${module.models.bucket_name}"
    assert detect["SHADOW_RULES_PARAMETER_NAME"] == "${module.data.shadow_rules_parameter_name}"
    hashed = wiring["analyze-patterns"]["environment"]["HASH_KEY_PARAMETER_NAME"]
    assert hashed == "${module.data.hash_key_parameter_name}"
    # Only analyze-patterns hashes entities: the others get neither the variable nor a grant to read it.
    assert all("HASH_KEY_PARAMETER_NAME" not in wiring[key]["environment"] for key in ("detect-fraud", "notify-team"))
