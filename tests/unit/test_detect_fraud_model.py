"""detect-fraud with the learned model: the pointer, the artifact from the bucket, fallbacks, shadow scoring."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.unit.handler_support import (
    BASE_TS,
    MINUTE_MS,
    SUFFIX,
    api_event,
    emf_metrics,
    eventbridge_event,
    make_transaction,
    queued_alerts,
    stream_records,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

HOUR_MS = 60 * MINUTE_MS
ARTIFACT = (ROOT / "models" / "default.json").read_bytes()
VERSION = json.loads(ARTIFACT)["version"]
BUCKET = f"fraud-models-{SUFFIX}"
POINTER = f"/fraud-detection/{SUFFIX}/model-{SUFFIX}"
SHADOW_RULES = f"/fraud-detection/{SUFFIX}/shadow-rules-{SUFFIX}"


def ref(data: bytes = ARTIFACT, key: str | None = None, version: str = VERSION) -> dict[str, str]:
    return {"key": key or f"models/{version}.json", "sha256": hashlib.sha256(data).hexdigest(), "version": version}


@pytest.fixture
def models(aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The model bucket with the default artifact, the pointer naming it live, an empty shadow rules document."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"models/{VERSION}.json", Body=ARTIFACT)
    aws.ssm.put_parameter(Name=POINTER, Type="String", Value=json.dumps({"live": ref(), "shadow": None}))
    aws.ssm.put_parameter(Name=SHADOW_RULES, Type="String", Value="null")
    monkeypatch.setenv("MODEL_PARAMETER_NAME", POINTER)
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("SHADOW_RULES_PARAMETER_NAME", SHADOW_RULES)
    return SimpleNamespace(s3=s3)


def spree(aws: SimpleNamespace, process_transaction: ModuleType, context: Any) -> dict[str, Any]:
    """A quiet card, then large online purchases at night, one after another; the stream record of the last."""
    bodies = [
        make_transaction(transaction_id=f"usual-{i}", amount=40 + i % 7, timestamp=BASE_TS - (30 - i) * 20 * HOUR_MS)
        for i in range(30)
    ]
    night = BASE_TS - BASE_TS % (24 * HOUR_MS) - HOUR_MS  # 23:00 UTC the day before
    bodies += [
        make_transaction(
            transaction_id=f"spree-{k}",
            amount=700 + 90 * k,
            merchant_category="shopping_net",
            channel="online",
            timestamp=night + k * 30 * MINUTE_MS,
        )
        for k in range(4)
    ]
    for body in bodies:
        assert process_transaction.handler(api_event(body), context)["statusCode"] == 201
    return next(
        r
        for r in stream_records(aws)
        if r["dynamodb"]["NewImage"]["transaction_id"] == {"S": "spree-3"}
        and r["dynamodb"]["NewImage"]["kind"] == {"S": "transaction"}
    )


def scored_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if '"Transaction scored"' in line]


def test_the_live_model_scores_and_the_alert_carries_its_version_and_drivers(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines
):
    record = spree(aws, process_transaction, lambda_context)

    assert detect_fraud.handler(eventbridge_event(record), lambda_context) == {"result": "alert"}

    [alert] = queued_alerts(aws)
    assert alert["model_version"] == VERSION and alert["rules_version"].startswith("rules-")
    assert alert["drivers"] and all(driver["explanation"] for driver in alert["drivers"])
    [line] = scored_lines(log_lines)
    assert line["model_version"] == VERSION and line["decision"] == "alert" and "shadow" not in line


@pytest.mark.parametrize(
    "pointer",
    [
        pytest.param(lambda: {"live": ref(b"not the artifact"), "shadow": None}, id="hash-mismatch"),
        pytest.param(lambda: {"live": ref(key="models/missing.json"), "shadow": None}, id="missing-object"),
    ],
)
def test_an_unusable_model_in_a_fresh_sandbox_scores_with_the_rules_alone_and_is_counted(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines, capsys, pointer
):
    value = pointer()
    aws.ssm.put_parameter(
        Name=POINTER, Type="String", Overwrite=True, Value=value if isinstance(value, str) else json.dumps(value)
    )
    record = spree(aws, process_transaction, lambda_context)
    capsys.readouterr()

    result = detect_fraud.handler(eventbridge_event(record), lambda_context)

    assert result["result"] in ("allow", "review", "alert"), "the transaction is scored, never dropped"
    [line] = scored_lines(log_lines)
    assert line["model_version"] == "none", "scored by the rules alone"
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics.get("ModelFallback", 0) >= 1 and metrics["Scored"] == 1


def test_a_live_model_that_cannot_be_read_now_fails_the_record_rather_than_score_without_it(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines, capsys, kit, monkeypatch
):
    """S3 throttles (or times out) while a fresh sandbox loads the live model: the invocation fails, so the
    platform retries it, and ModelUnavailable is counted; the rules alone never decide in the model's place."""
    from botocore.exceptions import ClientError

    record = spree(aws, process_transaction, lambda_context)
    capsys.readouterr()
    s3 = kit.client("s3")
    real = s3.get_object

    def slow_down(**kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            },
            "GetObject",
        )

    monkeypatch.setattr(s3, "get_object", slow_down)
    with pytest.raises(Exception, match="unavailable"):
        detect_fraud.handler(eventbridge_event(record), lambda_context)
    assert scored_lines(log_lines) == [] and queued_alerts(aws) == []

    monkeypatch.setattr(s3, "get_object", real)  # S3 answers again; the platform's retry, in another sandbox
    detect_fraud.resources.cache_clear()
    detect_fraud.handler(eventbridge_event(record), lambda_context)
    assert scored_lines(log_lines)[-1]["model_version"] == VERSION


def test_a_pointer_that_is_not_json_keeps_the_newest_valid_pointer(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines, capsys
):
    aws.ssm.put_parameter(Name=POINTER, Type="String", Overwrite=True, Value="not json")
    record = spree(aws, process_transaction, lambda_context)
    capsys.readouterr()

    detect_fraud.handler(eventbridge_event(record), lambda_context)

    assert scored_lines(log_lines)[-1]["model_version"] == VERSION  # version 1 of the parameter, still valid
    assert emf_metrics(capsys.readouterr().out).get("ModelFallback", 0) >= 1


def test_a_broken_new_model_keeps_the_last_good_one(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines, kit, monkeypatch
):
    record = spree(aws, process_transaction, lambda_context)
    res = detect_fraud.resources()
    assert res.scorers().live.model_version == VERSION
    aws.ssm.put_parameter(
        Name=POINTER,
        Type="String",
        Overwrite=True,
        Value=json.dumps({"live": ref(b"{}", version="v2"), "shadow": None}),
    )
    monkeypatch.setattr(res.pointer, "max_age", 0)  # read the pointer again now

    assert res.scorers().live.model_version == VERSION
    detect_fraud.handler(eventbridge_event(record), lambda_context)
    assert scored_lines(log_lines)[-1]["model_version"] == VERSION


def test_a_shadow_model_and_rules_score_beside_the_live_one_and_never_alert(
    detect_fraud, process_transaction, aws, models, lambda_context, log_lines
):
    aws.ssm.put_parameter(
        Name=POINTER, Type="String", Overwrite=True, Value=json.dumps({"live": None, "shadow": ref()})
    )
    aws.ssm.put_parameter(Name=SHADOW_RULES, Type="String", Overwrite=True, Value=json.dumps({"bands": {"alert": 99}}))
    record = spree(aws, process_transaction, lambda_context)

    detect_fraud.handler(eventbridge_event(record), lambda_context)

    [line] = scored_lines(log_lines)
    assert line["model_version"] == "none" and line["shadow"]["model_version"] == VERSION
    assert line["shadow"]["rules_version"] != line["rules_version"]
    alerts = queued_alerts(aws)
    assert all(alert["model_version"] is None for alert in alerts), "only the live decision alerts"
