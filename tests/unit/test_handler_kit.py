"""The handler kit: settings from the environment, the card-number scrubbing logger, cached documents."""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.unit.handler_support import LineCapture
from tools._cli import function_modules

CONFIGURATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
HANDLERS = tuple(function_modules().values())  # every handler of lambdas/functions.json


@dataclass(frozen=True)
class Example:
    table_name: str
    shards: int = field(default=4, metadata={"min": 1})
    retention_days: int | None = None
    parameter: str | None = None


def test_settings_are_read_typed_from_the_environment(kit):
    settings = kit.load_settings(Example, {"TABLE_NAME": "t", "SHARDS": "8", "RETENTION_DAYS": "30"})
    assert settings == Example("t", 8, 30, None)
    assert kit.load_settings(Example, {"TABLE_NAME": "t", "PARAMETER": ""}) == Example("t")  # empty = unset


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TABLE_NAME is required"),
        ({"TABLE_NAME": "t", "SHARDS": "four"}, "SHARDS must be an integer, got 'four'"),
        ({"TABLE_NAME": "t", "SHARDS": "0"}, "SHARDS must be at least 1, got 0"),
    ],
)
def test_a_missing_or_bad_setting_names_the_variable(kit, environ, message):
    with pytest.raises(kit.SettingsError, match=message):
        kit.load_settings(Example, environ)


def formatted(kit: Any, emit: Any) -> list[dict[str, Any]]:
    capture = LineCapture()
    capture.setFormatter(kit.logger.registered_formatter)
    target = logging.getLogger(kit.logger.name)
    target.addHandler(capture)
    try:
        emit()
    finally:
        target.removeHandler(capture)
    return [json.loads(line) for line in capture.lines]


def test_the_logger_replaces_card_numbers_in_every_string_of_a_line(kit):
    def emit() -> None:
        kit.logger.info(
            "paid with 4111 1111 1111 1111",
            extra={"note": "tok_5555555555554444", "nested": {"6011000990139424": ["378282246310005"]}},
        )

    [line] = formatted(kit, emit)
    assert line["message"] == "paid with [card number]"
    assert line["note"] == "tok_[card number]"
    assert line["nested"] == {"[card number]": ["[card number]"]}


def test_the_logger_replaces_card_numbers_in_exceptions(kit):
    def emit() -> None:
        try:
            raise ValueError("bad card 4111-1111-1111-1111")
        except ValueError:
            kit.logger.exception("failed")

    [line] = formatted(kit, emit)
    assert "4111" not in line["exception"] and "[card number]" in line["exception"]


def test_the_logger_leaves_numbers_and_its_own_timestamp_alone(kit):
    # Numbers are data, whatever their digits: left as they are (and typed as numbers).
    [line] = formatted(kit, lambda: kit.logger.info("scored", extra={"received_at": 1736942400001, "score": 87}))
    assert line["received_at"] == 1736942400001 and line["score"] == 87
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line["timestamp"])


def test_a_document_without_a_parameter_is_parsed_once_as_the_defaults(kit):
    parsed: list[Any] = []
    document = kit.CachedDocument(
        None, lambda text: parsed.append(text) or "defaults", max_age=0, fallback_metric="X", label="Doc"
    )
    assert document.get() == ("defaults", "default", False)
    assert document.get() == ("defaults", "default", False)
    assert parsed == [None]


def test_a_document_version_is_parsed_once_however_often_it_is_read(kit, aws):
    aws.ssm.put_parameter(Name="/doc", Type="String", Value='{"a": 1}')
    parsed: list[str] = []
    document = kit.CachedDocument(
        "/doc", lambda text: parsed.append(text) or json.loads(text), max_age=0, fallback_metric="X", label="Doc"
    )
    assert [document.get() for _ in range(3)] == [({"a": 1}, "1", False)] * 3
    aws.ssm.put_parameter(Name="/doc", Type="String", Value='{"a": 2}', Overwrite=True)
    assert document.get() == ({"a": 2}, "2", False)
    assert parsed == ['{"a": 1}', '{"a": 2}']


def test_a_throttled_document_read_gives_up_after_three_attempts_and_keeps_the_last_valid_version(
    kit, aws, monkeypatch
):
    # The Lambda runtime's boto3 can be older than ours: its default retry mode may still be legacy
    # (5 attempts, up to about 15 s of back-off). The kit's SSM client must not depend on the default.
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    aws.ssm.put_parameter(Name="/doc", Type="String", Value='{"a": 1}')
    document = kit.CachedDocument("/doc", json.loads, max_age=0, fallback_metric="X", label="Doc")
    assert document.get() == ({"a": 1}, "1", False)

    attempts: list[str] = []

    def throttled(request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        attempts.append(request.url)
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))

    ssm = kit.client("ssm")
    ssm.meta.events.register("before-send.ssm.GetParameter", throttled)
    try:
        with mock.patch("time.sleep"):  # the back-off between attempts, not the test's to wait for
            assert document.get() == ({"a": 1}, "1", True)
    finally:
        ssm.meta.events.unregister("before-send.ssm.GetParameter", throttled)
    assert len(attempts) == 3


class _Raw:
    """A response body for ``AWSResponse``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def test_a_once_function_runs_once_per_key_and_again_after_a_failure(kit, aws, lambda_context):
    runs: list[str] = []
    outcomes = iter([RuntimeError("first attempt fails"), "done"])

    def work(data: dict[str, Any]) -> str:
        runs.append(data["id"])
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    once = kit.Once(work, key="id", key_prefix="test#work", table_name=aws.state_table_name, expires_after_seconds=60)
    once.config.register_lambda_context(lambda_context)

    with pytest.raises(RuntimeError):
        once({"id": "a"})
    assert once({"id": "a"}) == ("done", True)
    assert once({"id": "a"}) == ("done", False)
    assert runs == ["a", "a"]


def test_a_run_whose_record_cannot_be_completed_runs_again_on_the_next_attempt(kit, aws, lambda_context):
    """The state table refuses the completion write once: the error propagates, and the in-progress record is
    gone, so the retry (before the invocation's deadline) runs rather than fail as already in progress."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
    from botocore.exceptions import ClientError

    runs: list[str] = []

    def work(data: dict[str, Any]) -> str:
        runs.append(data["id"])
        return "done"

    once = kit.Once(work, key="id", key_prefix="test#work", table_name=aws.state_table_name, expires_after_seconds=60)
    once.config.register_lambda_context(lambda_context)
    refused = ClientError({"Error": {"Code": "InternalServerError", "Message": "refused"}}, "UpdateItem")
    with (
        mock.patch.object(once.persistence.client, "update_item", side_effect=refused),
        pytest.raises(IdempotencyPersistenceLayerError),
    ):
        once({"id": "a"})
    assert aws.dynamodb.scan(TableName=aws.state_table_name)["Items"] == [], "no record left in progress"

    assert once({"id": "a"}) == ("done", True)
    assert once({"id": "a"}) == ("done", False)
    assert runs == ["a", "a"]


def settings_variables() -> set[str]:
    names = set()
    for module_name in HANDLERS:
        module = importlib.import_module(module_name)
        names |= {spec.name.upper() for spec in dataclasses.fields(module.Settings)}
    return names


def test_the_configuration_doc_has_one_row_for_every_variable_a_handler_reads(kit):
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))
    read = settings_variables() | {"TRACE_SUBSEGMENTS"}
    assert read - documented == set(), "read by a handler, missing from docs/configuration.md"
    powertools = {name for name in documented if name.startswith("POWERTOOLS_")}
    assert documented - read - powertools == set(), "documented, read by no handler"


@pytest.mark.parametrize("module_name", HANDLERS)
def test_importing_a_handler_loads_no_xray_sdk(module_name):
    # The SDK is what made a cold start cost 2-3x `import boto3` (bench: python -m tools.bench).
    code = f"import sys, {module_name}; print('aws_xray_sdk' in sys.modules, 'fastjsonschema' in sys.modules)"
    lambdas = Path(__file__).resolve().parents[2] / "lambdas"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=lambdas, check=True, env={"PATH": ""}
    )
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_trace_subsegments_builds_the_tracer_on_the_first_invocation(kit, monkeypatch, lambda_context):
    monkeypatch.setenv("TRACE_SUBSEGMENTS", "true")  # POWERTOOLS_TRACE_DISABLED=1 keeps it from a daemon
    calls = []

    @kit.entry_point
    def handler(event, context):
        calls.append(event)
        return {"ok": True}

    assert kit._tracer.cache_info().currsize == 0
    assert handler({"n": 1}, lambda_context) == {"ok": True}
    assert handler({"n": 2}, lambda_context) == {"ok": True}
    assert calls == [{"n": 1}, {"n": 2}]
    assert type(kit._tracer()).__name__ == "Tracer"


def test_no_function_outlives_its_timeout_waiting_on_one_aws_call(kit):
    """Every client gives up on one call (connect and read time-outs, attempts, back-off) before the function
    with the shortest timeout would be killed: a service that does not answer fails the call, it does not time
    the function out and recycle its sandbox."""
    import json

    from tests.conftest import ROOT

    catalog = json.loads((ROOT / "lambdas" / "functions.json").read_text())
    shortest = min(spec["timeout_seconds"] for spec in catalog.values())
    config = kit.client("sqs").meta.config
    assert (config.connect_timeout, config.read_timeout) == (kit.CONNECT_TIMEOUT_S, kit.READ_TIMEOUT_S)
    assert config.retries["total_max_attempts"] == kit.MAX_ATTEMPTS
    assert kit.longest_wait_s() < shortest, f"{kit.longest_wait_s()} s of waiting on one call; {shortest} s to live"
