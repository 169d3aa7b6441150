"""make rules: validate the document like the functions do, then overwrite the SSM parameter."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tools._cli import ToolError
from tools.detection import rules

NAME = "/fraud-detection/test/rules-test"


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("ssm")
        client.put_parameter(Name=NAME, Value="{}", Type="String")
        yield client


def test_an_invalid_document_is_rejected_and_nothing_is_uploaded(ssm, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bands": {"review": 80, "alert": 70}}))
    with pytest.raises(ToolError, match=r"bands: review \(80\) must be less than alert \(70\)"):
        rules.main(["--parameter-name", NAME, "--file", str(bad)])
    assert ssm.get_parameter(Name=NAME)["Parameter"]["Version"] == 1


def test_invalid_json_and_unknown_keys_are_rejected(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ToolError, match="not valid JSON"):
        rules.read_document(broken)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"rules": {"velocity": {"wieght": 10}}}))
    with pytest.raises(ToolError, match=r"rules\.velocity\.wieght: unknown key"):
        rules.read_document(unknown)


def test_cli_exits_non_zero_with_the_reason(tmp_path, capsys):
    from tools._cli import run

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": {"velocity": {"weight": -1}}}))
    assert run(rules.main, ["--file", str(bad), "--check"]) == 1
    assert "rules.velocity.weight" in capsys.readouterr().err


def test_a_valid_partial_document_overwrites_the_parameter(ssm, tmp_path, capsys):
    good = tmp_path / "rules.json"
    good.write_text(json.dumps({"bands": {"review": 35, "alert": 65}}, indent=2))
    assert rules.main(["--parameter-name", NAME, "--file", str(good)]) == 0
    parameter = ssm.get_parameter(Name=NAME)["Parameter"]
    assert parameter["Version"] == 2
    assert json.loads(parameter["Value"]) == {"bands": {"review": 35, "alert": 65}}
    assert f"{NAME}: version 2" in capsys.readouterr().out


def test_a_target_is_required_unless_only_checking(tmp_path):
    good = tmp_path / "rules.json"
    good.write_text("{}")
    assert rules.main(["--file", str(good), "--check"]) == 0
    with pytest.raises(ToolError, match="--env SUFFIX or --parameter-name"):
        rules.main(["--file", str(good)])
