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
    "rules_parameter_name", "kms_key_arn",
}  # fmt: skip


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


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_each_module_is_valid_on_its_own(terraform_bin, tmp_path, module):
    # A copy, so init leaves no lock file in modules/ (only the root module's lock file is kept).
    copy = shutil.copytree(module, tmp_path / module.name)
    validate(terraform_bin, copy, tmp_path / ".terraform")


def test_tfvars_renders_exactly_the_variables_the_root_module_declares():
    assert declared("variable", ROOT / "terraform") == tfvars.VARIABLES


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
