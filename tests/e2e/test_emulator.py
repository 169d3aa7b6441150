"""The emulator's own AWS semantics, on a small topology created with boto3 (no Terraform, seconds).

What the pipeline tests cannot reach with the real deployment: throttling and quotas, function
timeouts, asynchronous retries into an on-failure destination, and the stream event source mapping's
partial batch failures, bisection and retries.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tools.emulator import EndpointSession, LocalCloud
from tools.emulator.localaws import LocalAWS

pytestmark = pytest.mark.e2e

HANDLERS = textwrap.dedent(
    '''
    import json, os, time

    def api(event, context):
        return {"statusCode": 201, "headers": {"x-fn": context.function_name}, "body": event["body"]}

    def slow(event, context):
        time.sleep(10)

    def fails(event, context):
        raise RuntimeError("always fails")

    def batch(event, context):
        """Fails the records whose NewImage has poison=true, reporting them as batch item failures."""
        failures = [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
            for r in event["Records"] if r["dynamodb"]["NewImage"].get("poison", {}).get("BOOL")
        ]
        print(json.dumps({"batch": [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]}))
        return {"batchItemFailures": failures}
    '''
)
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["id", "amount"],
    "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "amount": {"type": "number", "multipleOf": 0.01}},
}


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.config.getoption("--target") != "local":
        pytest.skip("tests of the emulator itself")
    with LocalAWS() as aws:
        yield aws


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers.py", HANDLERS)
    return buffer.getvalue()


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture(scope="module")
def cloud(target: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    session = EndpointSession(target.endpoint, target.region)
    role = session.client("iam").create_role(RoleName="emulator-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam, sqs = session.client("lambda"), session.client("sqs")
    arns = {}
    for name, handler, timeout in [
        ("api", "handlers.api", 3),
        ("slow", "handlers.slow", 1),
        ("fails", "handlers.fails", 3),
        ("batch", "handlers.batch", 3),
    ]:
        arns[name] = lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler=handler,
            Code={"ZipFile": _zip()},
            Timeout=timeout,
        )["FunctionArn"]
    _, async_dlq_arn = _queue(sqs, "async-failures")
    lam.put_function_event_invoke_config(
        FunctionName="fails", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": async_dlq_arn}}
    )
    table = session.client("dynamodb").create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    _, stream_dlq_arn = _queue(sqs, "stream-failures")
    lam.create_event_source_mapping(
        EventSourceArn=table["TableDescription"]["LatestStreamArn"],
        FunctionName="batch",
        StartingPosition="LATEST",
        BatchSize=4,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": stream_dlq_arn}},
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
    )
    session.client("scheduler").create_schedule(
        Name="fails-every-minute",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arns["fails"], "RoleArn": role},
    )
    gw = session.client("apigateway")
    api = gw.create_rest_api(name="api")["id"]
    root = gw.get_resources(restApiId=api)["items"][0]["id"]
    for path, function in (("items", "api"), ("slow", "slow")):
        resource = gw.create_resource(restApiId=api, parentId=root, pathPart=path)["id"]
        gw.create_model(restApiId=api, name=f"M{path}", contentType="application/json", schema=json.dumps(SCHEMA))
        validator = gw.create_request_validator(restApiId=api, name=f"v{path}", validateRequestBody=True)["id"]
        gw.put_method(
            restApiId=api,
            resourceId=resource,
            httpMethod="POST",
            authorizationType="NONE",
            apiKeyRequired=True,
            requestValidatorId=validator,
            requestModels={"application/json": f"M{path}"},
        )
        gw.put_integration(
            restApiId=api,
            resourceId=resource,
            httpMethod="POST",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{target.region}:lambda:path/2015-03-31/functions/{arns[function]}/invocations",
        )
    gw.create_deployment(restApiId=api, stageName="v1")
    key = gw.create_api_key(name="k", enabled=True)
    plan = gw.create_usage_plan(
        name="p",
        apiStages=[{"apiId": api, "stage": "v1"}],
        throttle={"rateLimit": 1, "burstLimit": 3},
        quota={"limit": 5, "period": "DAY"},
    )
    gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    outputs = {
        "function_names": {name: name for name in arns},
        "api_id": api,
        "api_stage_name": "v1",
        "api_url": f"https://{api}.execute-api.{target.region}.amazonaws.com/v1/items",
        "api_key_value": key["value"],
    }
    log_dir = tmp_path_factory.mktemp("logs")
    with LocalCloud(target, outputs, log_dir=log_dir, time_scale=600.0, schedule_time_scale=None) as running:
        yield running


def post(url: str, body: Any, key: str | None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **({"x-api-key": key} if key else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def messages(cloud: LocalCloud, queue: str) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]


def test_the_front_door_answers_like_api_gateway_and_enforces_the_usage_plan(cloud: LocalCloud) -> None:
    url, key = cloud.api_url, cloud.api_key
    time.sleep(3)  # a full bucket: burst 3

    assert post(url, {"id": "a", "amount": 906.31}, key)[::2] == (201, {"id": "a", "amount": 906.31}), "exact decimals"
    assert post(url, {"id": "a", "amount": 1.001}, key)[::2] == (400, {"message": "Invalid request body"})
    assert post(url, {"id": "a", "amount": 1}, None)[::2] == (403, {"message": "Forbidden"})
    assert post(url, {"id": "a", "amount": 1}, "wrong")[::2] == (403, {"message": "Forbidden"})
    assert post(url.replace("/items", "/nothing"), {}, key)[::2] == (403, {"message": "Missing Authentication Token"})
    throttled = [post(url, {"id": "b", "amount": 1}, key)[0] for _ in range(3)]
    assert 429 in throttled, "rate 1/s with a burst of 3 cannot take 5 requests at once"
    time.sleep(4)
    answers = [post(url, {"id": "c", "amount": 1}, key)[::2] for _ in range(3)]
    assert (429, {"message": "Limit Exceeded"}) in answers, "the daily quota of 5 is spent"


def test_a_function_that_outlives_its_timeout_is_killed_and_the_api_answers_504(cloud: LocalCloud) -> None:
    outcome = cloud.runtime.invoke("slow", {})

    assert outcome.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in outcome.error["errorMessage"]
    assert cloud.runtime.invoke("api", {"body": "{}"}).ok, "other functions are not affected"


def test_a_failing_async_invocation_is_retried_then_sent_to_its_on_failure_destination(cloud: LocalCloud) -> None:
    before = cloud.runtime.stats()["fails"]["invocations"]

    cloud.trigger_schedule("fails")
    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    assert cloud.runtime.stats()["fails"]["invocations"] - before == 2, "the first attempt and MaximumRetryAttempts=1"
    [record] = messages(cloud, "async-failures")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorMessage"] == "always fails"


def test_a_stream_mapping_retries_from_the_first_reported_failure_then_gives_up_to_its_destination(
    cloud: LocalCloud,
) -> None:
    dynamodb = cloud.client("dynamodb")
    dynamodb.batch_write_item(
        RequestItems={
            "items": [
                {"PutRequest": {"Item": {"id": {"S": name}, "poison": {"BOOL": poison}}}}
                for name, poison in (("r1", False), ("r2", True), ("r3", False))
            ]
        }
    )  # one request: the three records reach the stream together

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    batches = [b for b in logged_batches(cloud) if set(b) & {"r1", "r2", "r3"}]
    assert batches[0] == ["r1", "r2", "r3"]
    assert batches[1:] == [["r2", "r3"]], "retried from the failed record on (r1 was checkpointed), once"
    [record] = messages(cloud, "stream-failures")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2


def test_a_rolled_back_transaction_does_not_stop_the_stream(cloud: LocalCloud) -> None:
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName="items", Item={"id": {"S": "t0"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "items", "Item": {"id": {"S": "t-phantom"}}}},
                {
                    "Put": {
                        "TableName": "items",
                        "Item": {"id": {"S": "t0"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    dynamodb.put_item(TableName="items", Item={"id": {"S": "t1"}})

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    delivered = {key for batch in logged_batches(cloud) for key in batch}
    assert {"t0", "t1"} <= delivered
    assert "t-phantom" not in delivered, "a cancelled transaction writes nothing to the stream"


def logged_batches(cloud: LocalCloud) -> list[list[str]]:
    log = (cloud.log_dir / "batch.log").read_text()
    return [json.loads(line)["batch"] for line in log.splitlines() if line.startswith('{"batch"')]
