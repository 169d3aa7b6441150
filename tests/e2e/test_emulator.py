"""The emulator's own AWS semantics, on a small topology created with boto3 (no Terraform, seconds).

What the pipeline tests cannot reach with the real deployment: throttling and quotas, function
timeouts, asynchronous retries into an on-failure destination, the stream event source mapping's
partial batch failures, bisection, retries, filtering and maximum record age, the pipe's maximum
record age, a parallelization factor above 1 on a mapping and a pipe (batches of a shard at once, the
records of one key in order), a pipe's batch put on a bus as one PutEvents of up to 10 entries, fault
injection (AWS errors for a while or for N calls, a crash after a call reached moto), the calls
counted per function, and function logs in CloudWatch Logs.
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

    def calls(event, context):
        """Calls the AWS API an event names; an AWS error comes back as its code."""
        import boto3
        from botocore.exceptions import ClientError

        try:
            if event["op"] == "ssm":
                return {"value": boto3.client("ssm").get_parameter(Name=event["name"])["Parameter"]["Value"]}
            if event["op"] == "sns":
                boto3.client("sns").publish(TopicArn=event["topic"], Message=event["message"])
                return {"published": True}
        except ClientError as error:
            return {"error": error.response["Error"]["Code"]}
        if event["op"] == "sleep":
            time.sleep(event["seconds"])
            return {}
        if event["op"] == "env":
            return {"value": os.environ.get(event["name"]), "pid": os.getpid()}
        print(event["text"])
        return {}

    def slow_batch(event, context):
        """Takes 2 s per batch (a pipe sends a list of records, a mapping {"Records": [...]})."""
        records = event["Records"] if isinstance(event, dict) else event
        print(json.dumps({"aged": [r["dynamodb"]["Keys"]["id"]["S"] for r in records]}))
        time.sleep(2)

    def batch(event, context):
        """Fails the records whose NewImage has poison=true, reporting them as batch item failures."""
        failures = [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
            for r in event["Records"] if r["dynamodb"]["NewImage"].get("poison", {}).get("BOOL")
        ]
        print(json.dumps({"batch": [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]}))
        return {"batchItemFailures": failures}

    def ordered(event, context):
        """Notes in the table "observed", per source table: the order in which each item hash key's
        records were processed, and for each invocation how many of that table's invocations ran at once
        (it waits up to 2 s for another one to start: a lone invocation only takes longer)."""
        import boto3

        db = boto3.client("dynamodb")
        records = event["Records"] if isinstance(event, dict) else event
        table = records[0]["eventSourceARN"].split("/")[1]

        def add(name, delta):
            reply = db.update_item(
                TableName="observed",
                Key={"id": {"S": f"{table}#{name}"}},
                UpdateExpression="ADD n :d",
                ExpressionAttributeValues={":d": {"N": str(delta)}},
                ReturnValues="ALL_NEW",
            )
            return int(reply["Attributes"]["n"]["N"])

        def now_in_flight():
            item = db.get_item(TableName="observed", Key={"id": {"S": f"{table}#in-flight"}}, ConsistentRead=True)
            return int(item["Item"]["n"]["N"])

        def append(name, value):
            db.update_item(
                TableName="observed", Key={"id": {"S": f"{table}#{name}"}},
                UpdateExpression="SET seen = list_append(if_not_exists(seen, :none), :v)",
                ExpressionAttributeValues={":none": {"L": []}, ":v": {"L": [{"S": value}]}},
            )

        at_once = add("in-flight", 1)
        deadline = time.time() + 2
        while at_once < 2 and time.time() < deadline:
            time.sleep(0.05)
            at_once = max(at_once, now_in_flight())
        for record in records:
            keys = record["dynamodb"]["Keys"]
            append("order#" + keys["pk"]["S"], keys["n"]["N"])
        append("at-once", str(at_once))
        add("in-flight", -1)
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


# Provisioned at 5 units: one partition, so the table's stream has one shard and batches are made of all its
# records (an on-demand table's stream has four shards: see the "sharded" table).
ONE_PARTITION: dict[str, Any] = {
    "BillingMode": "PROVISIONED",
    "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
}
ON_DEMAND: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}


def _stream_table(session: Any, name: str) -> str:
    return session.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **ONE_PARTITION,
    )["TableDescription"]["LatestStreamArn"]


def _keyed_stream_table(session: Any, name: str, capacity: dict[str, Any] = ONE_PARTITION) -> str:
    """A table keyed (pk, n) with a stream: several items share a hash key."""
    return session.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **capacity,
    )["TableDescription"]["LatestStreamArn"]


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
        ("calls", "handlers.calls", 10),
        ("slow_batch", "handlers.slow_batch", 5),
        ("ordered", "handlers.ordered", 10),
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
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **ONE_PARTITION,
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
    # Maximum record age: records that wait behind a 2 s batch are older than 300 s in the cloud's
    # time (600x: 0.5 s), for a mapping and for a pipe.
    _, aging_failures_arn = _queue(sqs, "aging-failures")
    lam.create_event_source_mapping(
        EventSourceArn=_stream_table(session, "aging"),
        FunctionName="slow_batch",
        StartingPosition="LATEST",
        BatchSize=1,
        MaximumRecordAgeInSeconds=300,
        DestinationConfig={"OnFailure": {"Destination": aging_failures_arn}},
    )
    _, piped_dlq_arn = _queue(sqs, "piped-dlq")
    session.client("pipes").create_pipe(
        Name="aging-pipe",
        RoleArn=role,
        Source=_stream_table(session, "piped"),
        Target=arns["slow_batch"],
        DesiredState="RUNNING",
        SourceParameters={
            "DynamoDBStreamParameters": {
                "StartingPosition": "LATEST",
                "BatchSize": 1,
                "MaximumRecordAgeInSeconds": 300,
                "DeadLetterConfig": {"Arn": piped_dlq_arn},
            }
        },
    )
    # Parallelization factors above 1: a mapping (4) and a pipe (3) on tables keyed (pk, n), and a mapping
    # (3) whose batches report failures; the function notes what it saw in "observed".
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName="observed",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    lam.create_event_source_mapping(
        EventSourceArn=_keyed_stream_table(session, "lanes"),
        FunctionName="ordered",
        StartingPosition="LATEST",
        BatchSize=2,
        ParallelizationFactor=4,
    )
    lam.create_event_source_mapping(  # the default factor, 1, on an on-demand table's four shards
        EventSourceArn=_keyed_stream_table(session, "sharded", ON_DEMAND),
        FunctionName="ordered",
        StartingPosition="LATEST",
        BatchSize=2,
    )
    session.client("pipes").create_pipe(
        Name="lanes-pipe",
        RoleArn=role,
        Source=_keyed_stream_table(session, "piped-lanes"),
        Target=arns["ordered"],
        DesiredState="RUNNING",
        SourceParameters={
            "DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 2, "ParallelizationFactor": 3}
        },
    )
    _, lanes_failures_arn = _queue(sqs, "lanes-failures")
    lam.create_event_source_mapping(
        EventSourceArn=_stream_table(session, "poisoned-lanes"),
        FunctionName="batch",
        StartingPosition="LATEST",
        BatchSize=4,
        ParallelizationFactor=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": lanes_failures_arn}},
    )
    # A pipe that puts batches of 10 on a bus, whose rule sends each event to a queue.
    events = session.client("events")
    bus_arn = events.create_event_bus(Name="piped-bus")["EventBusArn"]
    _, bus_events_arn = _queue(sqs, "bus-events")
    events.put_rule(Name="piped-to-queue", EventBusName="piped-bus", EventPattern=json.dumps({"source": ["test.pipe"]}))
    events.put_targets(Rule="piped-to-queue", EventBusName="piped-bus", Targets=[{"Id": "q", "Arn": bus_events_arn}])
    session.client("pipes").create_pipe(
        Name="to-bus",
        RoleArn=role,
        Source=_stream_table(session, "to-bus"),
        Target=bus_arn,
        DesiredState="RUNNING",
        SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 10}},
        TargetParameters={"EventBridgeEventBusParameters": {"Source": "test.pipe", "DetailType": "Inserted"}},
    )
    session.client("ssm").put_parameter(Name="/emulator-test/setting", Value="on", Type="String")
    topic = session.client("sns").create_topic(Name="published")["TopicArn"]
    _, published_arn = _queue(sqs, "published-copy")
    session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=published_arn)
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
        "topic_arn": topic,
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


def logged_batches(cloud: LocalCloud, function: str = "batch", key: str = "batch") -> list[list[str]]:
    log = (cloud.log_dir / f"{function}.log").read_text()
    return [json.loads(line)[key] for line in log.splitlines() if line.startswith(f'{{"{key}"')]


def test_a_stream_mapping_filters_records_before_it_batches_them(cloud: LocalCloud) -> None:
    dynamodb = cloud.client("dynamodb")
    for name in ("f-x", "f-y"):
        dynamodb.put_item(TableName="items", Item={"id": {"S": name}, "poison": {"BOOL": False}})
    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    dynamodb.transact_write_items(  # one write: six stream records at once, two of them MODIFY
        TransactItems=[
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-1"}}}},
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-x"}, "poison": {"BOOL": False}, "v": {"N": "2"}}}},
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-y"}, "poison": {"BOOL": False}, "v": {"N": "2"}}}},
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-2"}}}},
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-3"}}}},
            {"Put": {"TableName": "items", "Item": {"id": {"S": "f-4"}}}},
        ]
    )
    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    batches = [b for b in logged_batches(cloud) if set(b) & {"f-1", "f-2", "f-3", "f-4"}]
    assert batches == [["f-1", "f-2", "f-3", "f-4"]], "the MODIFY records do not count towards the batch size"


def test_stream_records_older_than_the_mapping_s_maximum_age_go_to_its_on_failure_destination(
    cloud: LocalCloud,
) -> None:
    cloud.client("dynamodb").batch_write_item(
        RequestItems={"aging": [{"PutRequest": {"Item": {"id": {"S": f"age-{n}"}}}} for n in range(3)]}
    )

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    assert logged_batches(cloud, "slow_batch", "aged") == [["age-0"]], "the first record was fresh, the others waited"
    failures = messages(cloud, "aging-failures")
    assert [f["requestContext"]["condition"] for f in failures] == ["RecordAgeExceeded"] * 2
    assert [f["DDBStreamBatchInfo"]["batchSize"] for f in failures] == [1, 1]


def test_stream_records_older_than_the_pipe_s_maximum_age_go_to_its_dead_letter_queue(cloud: LocalCloud) -> None:
    before = logged_batches(cloud, "slow_batch", "aged")
    cloud.client("dynamodb").batch_write_item(
        RequestItems={"piped": [{"PutRequest": {"Item": {"id": {"S": f"pipe-{n}"}}}} for n in range(3)]}
    )

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    assert logged_batches(cloud, "slow_batch", "aged")[len(before) :] == [["pipe-0"]]
    dead = messages(cloud, "piped-dlq")
    assert [d["requestContext"]["condition"] for d in dead] == ["RecordAgeExceeded"] * 2
    assert {d["DDBStreamBatchInfo"]["streamArn"].split("/")[1] for d in dead} == {"piped"}


def observed(cloud: LocalCloud, table: str) -> tuple[dict[str, list[int]], list[int]]:
    """What the "ordered" function noted for ``table``: each hash key's order, and each invocation's
    count of invocations at once."""
    items = cloud.client("dynamodb").scan(TableName="observed")["Items"]
    seen = {i["id"]["S"].removeprefix(f"{table}#"): [v["S"] for v in i.get("seen", {}).get("L", [])] for i in items}
    orders = {
        name.removeprefix("order#"): [int(n) for n in values]
        for name, values in seen.items()
        if name.startswith("order#")
    }
    return orders, [int(n) for n in seen.get("at-once", [])]


def write_keyed(cloud: LocalCloud, table: str, keys: int, per_key: int) -> None:
    """``keys`` hash keys with ``per_key`` items each, in one request (the records reach the stream at
    once), each key's items in the order of ``n``."""
    cloud.client("dynamodb").batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": {"pk": {"S": f"k{k}"}, "n": {"N": str(n)}}}}
                for n in range(per_key)
                for k in range(keys)
            ]
        }
    )


@pytest.mark.parametrize(("table", "factor"), [("lanes", 4), ("piped-lanes", 3)], ids=["mapping", "pipe"])
def test_a_parallelization_factor_runs_batches_of_a_shard_at_once_and_each_keys_records_in_order(
    cloud: LocalCloud, table: str, factor: int
) -> None:
    write_keyed(cloud, table, keys=5, per_key=5)

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=60)

    orders, at_once = observed(cloud, table)
    assert orders == {f"k{k}": [0, 1, 2, 3, 4] for k in range(5)}, "each key's records in order, none twice"
    assert max(at_once) >= 2, "batches of the one shard overlapped"
    assert max(at_once) <= factor, "never more batches at once than the factor"
    assert cloud.errors() == []


def test_the_shards_of_an_on_demand_table_s_stream_are_read_at_once_each_key_in_order(cloud: LocalCloud) -> None:
    write_keyed(cloud, "sharded", keys=8, per_key=5)

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=60)

    shards = cloud.client("dynamodbstreams").describe_stream(StreamArn=_stream_arn(cloud, "sharded"))
    assert len(shards["StreamDescription"]["Shards"]) == 4, "four partitions on demand: four shards"
    orders, at_once = observed(cloud, "sharded")
    assert orders == {f"k{k}": [0, 1, 2, 3, 4] for k in range(8)}, "each key's records in order, none twice"
    assert max(at_once) >= 2, "batches of different shards overlapped"
    assert max(at_once) <= 4, "one batch per shard at a time (parallelization factor 1)"
    assert cloud.errors() == []


def _stream_arn(cloud: LocalCloud, table: str) -> str:
    return str(cloud.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"])


def test_a_failing_record_holds_back_only_its_own_lane_and_goes_to_the_destination(cloud: LocalCloud) -> None:
    from tools.emulator.integrations._streams import lane_of

    ids = [f"pl-{n}" for n in range(9)]
    cloud.client("dynamodb").batch_write_item(
        RequestItems={
            "poisoned-lanes": [{"PutRequest": {"Item": {"id": {"S": i}, "poison": {"BOOL": i == "pl-4"}}}} for i in ids]
        }
    )

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=60)

    lane = [i for i in ids if lane_of(json.dumps({"S": i}), 3) == lane_of(json.dumps({"S": "pl-4"}), 3)]
    at = lane.index("pl-4")
    first = at - at % 4  # the lane's batches of 4: the one holding the poison
    expected_failed = lane[at : first + 4]
    [record] = messages(cloud, "lanes-failures")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["batchSize"] == len(expected_failed)
    delivered = {i for batch in logged_batches(cloud) for i in batch if i.startswith("pl-")}
    assert delivered == set(ids), "every record reached the function; the other lanes went on"


def test_a_pipe_puts_a_batch_on_a_bus_as_putevents_of_up_to_10_entries_one_event_per_record(
    cloud: LocalCloud,
) -> None:
    cloud.client("dynamodb").batch_write_item(
        RequestItems={"to-bus": [{"PutRequest": {"Item": {"id": {"S": f"b-{n}"}}}} for n in range(25)]}
    )

    assert cloud.wait_idle(quiet_s=0.5, timeout_s=30)

    assert cloud.counters()["event-buses"]["entries_per_request"]["piped-bus"] == {10: 2, 5: 1}
    events = [json.loads(m["Body"]) for m in _receive_all(cloud, "bus-events")]
    assert sorted(e["detail"]["dynamodb"]["Keys"]["id"]["S"] for e in events) == sorted(f"b-{n}" for n in range(25))
    assert {(e["source"], e["detail-type"]) for e in events} == {("test.pipe", "Inserted")}, "one event per record"


def test_an_aws_error_answers_the_next_n_calls_of_the_functions_and_botocore_retries_it(cloud: LocalCloud) -> None:
    read = {"op": "ssm", "name": "/emulator-test/setting"}

    brief = cloud.fail("ssm", "GetParameter", error="ThrottlingException", status=400, times=2)
    assert cloud.runtime.invoke("calls", read).result == {"value": "on"}, "botocore retried past two throttles"
    assert brief.hits == 2
    lasting = cloud.fail("ssm", "GetParameter", error="ThrottlingException", status=400)
    try:
        assert cloud.runtime.invoke("calls", read).result == {"error": "ThrottlingException"}
        assert cloud.client("ssm").get_parameter(Name=read["name"])["Parameter"]["Value"] == "on", (
            "not the tests' calls"
        )
    finally:
        cloud.clear_fault(lasting)
    assert lasting.hits > 1, "every attempt botocore made was throttled"
    assert cloud.runtime.invoke("calls", read).result == {"value": "on"}, "cleared"


def test_a_fault_can_last_a_while_and_name_one_function(cloud: LocalCloud) -> None:
    read = {"op": "ssm", "name": "/emulator-test/setting"}
    fault = cloud.fail("ssm", error="AccessDeniedException", status=400, duration_s=60, function="calls")
    try:
        assert cloud.runtime.invoke("calls", read).result == {"error": "AccessDeniedException"}
        fault.until = 0.0  # the minute is over
        assert cloud.runtime.invoke("calls", read).result == {"value": "on"}
    finally:
        cloud.clear_fault(fault)


def test_a_crash_after_a_call_leaves_its_effect_and_fails_the_invocation(cloud: LocalCloud) -> None:
    topic = cloud.outputs["topic_arn"]
    published_before = cloud.calls("sns", "Publish", function="calls")
    fault = cloud.crash_after("sns", "Publish", function="calls")

    crashed = cloud.runtime.invoke("calls", {"op": "sns", "topic": topic, "message": "sent-then-crashed"})
    after = cloud.runtime.invoke("calls", {"op": "sns", "topic": topic, "message": "sent-normally"})

    assert crashed.error_type == "Runtime.ExitError", "the sandbox died right after SNS answered"
    assert fault.hits == 1 and after.result == {"published": True}, "once: the next invocation runs in a new sandbox"
    delivered = {json.loads(m["Body"])["Message"] for m in _receive_all(cloud, "published-copy")}
    assert delivered == {"sent-then-crashed", "sent-normally"}, "the publish before the crash happened"
    assert cloud.calls("sns", "Publish", function="calls") - published_before == 2


def test_a_changed_configuration_takes_effect_in_new_sandboxes_and_can_be_put_back(cloud: LocalCloud) -> None:
    read = {"op": "env", "name": "SETTING_UNDER_TEST"}
    before = cloud.runtime.invoke("calls", read).result
    assert before["value"] is None

    former = cloud.runtime.update_configuration("calls", environment={"SETTING_UNDER_TEST": "2"}, timeout_s=1)
    changed = cloud.runtime.invoke("calls", read).result
    timed_out = cloud.runtime.invoke("calls", {"op": "sleep", "seconds": 1.5})
    cloud.runtime.update_configuration("calls", **former)
    restored = cloud.runtime.invoke("calls", read).result

    assert former == {"environment": {"SETTING_UNDER_TEST": ""}, "timeout_s": 10}
    assert changed["value"] == "2" and changed["pid"] != before["pid"], "a new sandbox with the new environment"
    assert timed_out.error_type == "Sandbox.Timedout", "and the new timeout"
    assert restored["value"] is None and restored["pid"] != changed["pid"]
    assert cloud.runtime.invoke("calls", {"op": "sleep", "seconds": 1.5}).ok, "the former timeout is back"


def test_function_logs_reach_cloudwatch_logs_in_the_function_s_group(cloud: LocalCloud) -> None:
    from tools.emulator.integrations.function_logs import FunctionLogs

    cloud.runtime.invoke("calls", {"op": "log", "text": "marker-7f3a line from the handler"})
    cloud.integration(FunctionLogs).ship()

    events = cloud.client("logs").filter_log_events(logGroupName="/aws/lambda/calls")["events"]
    lines = [e["message"] for e in events]
    assert "marker-7f3a line from the handler" in lines
    assert any(line.startswith("START RequestId:") for line in lines)
    assert any(line.startswith("REPORT RequestId:") for line in lines)


def _receive_all(cloud: LocalCloud, queue: str) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found.extend(batch)
    return found
