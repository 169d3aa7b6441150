"""The emulator's patches to moto (tools/emulator/moto_dynamodb.py): moto's answers, at a cost that
does not grow with the table. Each test fails without the patch it names."""

from __future__ import annotations

import contextlib
import copy
import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodbstreams.models import dynamodbstreams_backends

from tools.emulator import moto_dynamodb
from tools.emulator.localaws import LocalAWS

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def dynamodb(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("dynamodb")


def make_table(dynamodb: Any, name: str, *, stream: bool = False) -> str:
    """A table keyed (id, ts) with a GSI by user; with a stream, provisioned at 5 units: one partition, so its
    stream has one shard (an on-demand table's has four: test_an_on_demand_table_s_stream_has_a_shard_per_partition)."""
    spec: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if stream:
        spec = {
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": throughput,
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "N"},
            {"AttributeName": "user", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-user",
                "KeySchema": [
                    {"AttributeName": "user", "KeyType": "HASH"},
                    {"AttributeName": "ts", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
                **({"ProvisionedThroughput": throughput} if stream else {}),
            }
        ],
        **spec,
    )["TableDescription"].get("LatestStreamArn", "")


def item(key: str, ts: int, user: str, **extra: Any) -> dict[str, Any]:
    return {"id": {"S": key}, "ts": {"N": str(ts)}, "user": {"S": user}, **extra}


def put_if_absent(table: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": attributes, "ConditionExpression": "attribute_not_exists(id)"}}


@contextlib.contextmanager
def counting_deepcopy() -> Iterator[list[Any]]:
    """Every value ``copy.deepcopy`` is called with inside the block (the copies are still made)."""
    seen: list[Any] = []
    real_deepcopy = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        seen.append(value)
        return real_deepcopy(value, memo)

    with mock.patch.object(copy, "deepcopy", counting):
        yield seen


# -- 1. transactions with an undo log ------------------------------------------------------------------


def test_a_cancelled_transaction_is_undone_and_a_stream_iterator_outlives_it(dynamodb: Any) -> None:
    stream_arn = make_table(dynamodb, "undo", stream=True)
    streams = streams_client(dynamodb)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    dynamodb.put_item(TableName="undo", Item=item("a", 1, "u1", n={"N": "1"}))
    dynamodb.put_item(TableName="undo", Item=item("c", 1, "u1"))
    table_before = dynamodb_backends[ACCOUNT]["us-east-1"].tables["undo"]

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                put_if_absent("undo", item("phantom", 1, "u1")),
                {
                    "Update": {
                        "TableName": "undo",
                        "Key": {"id": {"S": "a"}, "ts": {"N": "1"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                put_if_absent("undo", item("c", 1, "u1")),
            ]
        )
    dynamodb.put_item(TableName="undo", Item=item("b", 2, "u1"))

    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"], "moto's cancellation reasons"
    assert dynamodb.get_item(TableName="undo", Key={"id": {"S": "a"}, "ts": {"N": "1"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in dynamodb.get_item(TableName="undo", Key={"id": {"S": "phantom"}, "ts": {"N": "1"}})
    assert dynamodb_backends[ACCOUNT]["us-east-1"].tables["undo"] is table_before, "the table was not swapped"
    records = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in records]
    assert keys == ["a", "c", "b"], "the iterator from before the transaction sees the writes after it, and no phantom"


def test_a_cancelled_transaction_leaves_the_index_as_it_was(dynamodb: Any) -> None:
    make_table(dynamodb, "undo-index")
    dynamodb.put_item(TableName="undo-index", Item=item("taken", 1, "u1"))

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                put_if_absent("undo-index", item("new", 5, "u1")),
                put_if_absent("undo-index", item("taken", 1, "u1")),
            ]
        )

    found = dynamodb.query(
        TableName="undo-index",
        IndexName="by-user",
        KeyConditionExpression="#u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": {"S": "u1"}},
    )["Items"]
    assert [i["id"]["S"] for i in found] == ["taken"]


# -- 2. queries through partition maps -----------------------------------------------------------------


def test_an_index_query_reads_only_its_partition_and_answers_as_moto_does(dynamodb: Any) -> None:
    make_table(dynamodb, "partitions")
    for n in range(60):
        dynamodb.put_item(TableName="partitions", Item=item(f"t{n}", n, f"u{n % 6}"))
    dynamodb.update_item(  # moves t0 from u0 to u5: the index follows updates
        TableName="partitions",
        Key={"id": {"S": "t0"}, "ts": {"N": "0"}},
        UpdateExpression="SET #u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": {"S": "u5"}},
    )
    dynamodb.delete_item(TableName="partitions", Key={"id": {"S": "t6"}, "ts": {"N": "6"}})
    walked: list[int] = []
    all_items = Table.all_items

    def counting(self: Table) -> list[Any]:
        items = all_items(self)
        walked.append(len(items))
        return items

    with mock.patch.object(Table, "all_items", counting):
        found = dynamodb.query(
            TableName="partitions",
            IndexName="by-user",
            KeyConditionExpression="#u = :u AND ts BETWEEN :a AND :b",
            ExpressionAttributeNames={"#u": "user"},
            ExpressionAttributeValues={":u": {"S": "u0"}, ":a": {"N": "0"}, ":b": {"N": "40"}},
            ScanIndexForward=False,
            Limit=4,
        )

    assert [i["id"]["S"] for i in found["Items"]] == ["t36", "t30", "t24", "t18"], "newest first, t0 moved, t6 gone"
    assert "LastEvaluatedKey" in found
    assert walked and max(walked) <= 10, f"the query walked {walked} items, not the 10 of its partition"


# -- 8. query results copied without copy.deepcopy ---------------------------------------------------


def test_a_query_answers_copies_of_the_items_made_without_deepcopy(dynamodb: Any) -> None:
    make_table(dynamodb, "copies")
    nested = {"tags": {"SS": ["a", "b"]}, "seen": {"L": [{"N": "1"}, {"M": {"k": {"S": "v"}}}]}}
    dynamodb.put_item(TableName="copies", Item=item("t1", 1, "u1", **nested))
    with counting_deepcopy() as deep_copies:
        found = dynamodb.query(
            TableName="copies",
            KeyConditionExpression="id = :id",
            ExpressionAttributeValues={":id": {"S": "t1"}},
        )
    assert found["Items"] == [item("t1", 1, "u1", **nested)]
    assert not deep_copies, "the query's results went through copy.deepcopy"

    stored = (
        dynamodb_backends[ACCOUNT]["us-east-1"]
        .get_table("copies")
        .get_item(DynamoType({"S": "t1"}), DynamoType({"N": "1"}))
    )
    copied = moto_dynamodb._copy_item(stored)
    assert copied == copy.deepcopy(stored) and copied.to_json() == stored.to_json()
    assert copied.attrs["tags"].value is not stored.attrs["tags"].value, "a set is a list of its own"
    assert copied.attrs["seen"].value[1].value is not stored.attrs["seen"].value[1].value, "a map is a dict of its own"


def test_an_answer_s_items_become_the_same_plain_data_as_moto_makes_them(
    aws: LocalAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.utilities import dynamo_to_dict

    attributes = {
        "s": {"S": "x"},
        "n": {"N": "1.5"},
        "flag": {"BOOL": False},
        "none": {"NULL": True},
        "strings": {"SS": ["a", "b"]},
        "numbers": {"NS": ["1", "2"]},
        "binary": {"B": "aGk="},
        "binaries": {"BS": ["aGk="]},
        "nested": {"L": [{"N": "1"}, {"M": {"k": {"SS": ["c"]}, "b": {"B": "aGk="}}}]},
    }
    stored = Item(DynamoType({"S": "t1"}), DynamoType({"N": "1"}), attributes)
    answer = {"Items": [stored.attrs], "Count": 1, "At": datetime(2026, 1, 1, tzinfo=UTC), "Ratio": 0.5, "Key": None}
    assert responses.dynamo_to_dict is moto_dynamodb._dynamo_to_dict
    assert moto_dynamodb._dynamo_to_dict(answer) == dynamo_to_dict(answer)

    # An item's attributes (moto's LimitedSizeDict) without binary values take the path by type, not moto's.
    plain = Item(DynamoType({"S": "t2"}), DynamoType({"N": "2"}), {k: attributes[k] for k in ("s", "n", "strings")})
    to_moto: list[Any] = []
    monkeypatch.setitem(
        moto_dynamodb._original, "dynamo_to_dict", lambda obj: to_moto.append(obj) or dynamo_to_dict(obj)
    )
    assert moto_dynamodb._dynamo_to_dict({"Items": [plain.attrs]}) == dynamo_to_dict({"Items": [plain.attrs]})
    assert to_moto == []


# -- 3. stream iterators expire ------------------------------------------------------------------------


def test_shard_iterators_expire_instead_of_accumulating(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stream_arn = make_table(dynamodb, "iterators", stream=True)
    streams = streams_client(dynamodb)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    backend = dynamodbstreams_backends[ACCOUNT]["us-east-1"]
    monkeypatch.setattr(moto_dynamodb, "SHARD_ITERATOR_LIFETIME_S", 0)
    first = iterator
    for _ in range(20):
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]

    assert len(backend.shard_iterators) <= 2, "old iterators are dropped"
    with pytest.raises(streams.exceptions.ExpiredIteratorException):
        streams.get_records(ShardIterator=first)


def test_a_stream_write_wakes_a_waiting_reader(dynamodb: Any) -> None:
    make_table(dynamodb, "wake", stream=True)
    seen = moto_dynamodb.stream_generation()

    dynamodb.put_item(TableName="wake", Item=item("a", 1, "u1"))

    assert moto_dynamodb.wait_for_stream_write(seen, timeout_s=30) != seen


def test_an_in_process_read_of_a_shard_answers_as_get_records_does(dynamodb: Any) -> None:
    from tools.emulator.integrations.base import json_ready

    stream_arn = make_table(dynamodb, "in-process", stream=True)
    dynamodb.put_item(TableName="in-process", Item=item("a", 1, "u1", blob={"B": b"\x00hi"}, tags={"SS": ["x"]}))
    dynamodb.update_item(
        TableName="in-process",
        Key={"id": {"S": "a"}, "ts": {"N": "1"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2.50"}},
    )
    dynamodb.delete_item(TableName="in-process", Key={"id": {"S": "a"}, "ts": {"N": "1"}})
    streams = streams_client(dynamodb)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def iterator() -> str:
        return str(
            streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
        )

    answer = streams.get_records(ShardIterator=iterator(), Limit=2)
    read, next_iterator = moto_dynamodb.read_shard(stream_arn, iterator(), 2)

    assert [record for record, _ in read] == json_ready(answer["Records"])
    assert [record["eventName"] for record, _ in read] == ["INSERT", "MODIFY"]
    assert [int(created) for _, created in read] == [
        record["dynamodb"]["ApproximateCreationDateTime"] for record, _ in read
    ]
    rest, _ = moto_dynamodb.read_shard(stream_arn, str(next_iterator), 1000)
    assert [record["eventName"] for record, _ in rest] == ["REMOVE"], "the next iterator continues after the first read"
    with pytest.raises(moto_dynamodb.ExpiredIterator):
        moto_dynamodb.read_shard(stream_arn, stream_arn + "/never-issued", 10)


# -- 13. a stream shard per table partition ---------------------------------------------------------------


def streams_client(dynamodb: Any) -> Any:
    return boto3.client(
        "dynamodbstreams",
        endpoint_url=dynamodb.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def shard_records(streams: Any, stream_arn: str) -> dict[str, list[dict[str, Any]]]:
    """Every shard of the stream and its records, from the start."""
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    found = {}
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found[shard["ShardId"]] = streams.get_records(ShardIterator=iterator)["Records"]
    return found


def test_an_on_demand_table_s_stream_has_a_shard_per_partition_and_a_key_s_records_stay_in_one_in_order(
    dynamodb: Any,
) -> None:
    stream_arn = dynamodb.create_table(
        TableName="on-demand",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    for ts in range(3):
        for key in range(20):
            dynamodb.put_item(TableName="on-demand", Item={"id": {"S": f"k{key}"}, "ts": {"N": str(ts)}})
    streams = streams_client(dynamodb)

    found = shard_records(streams, stream_arn)

    assert len(found) == moto_dynamodb.ON_DEMAND_PARTITIONS
    keys_by_shard = {shard: {r["dynamodb"]["Keys"]["id"]["S"] for r in records} for shard, records in found.items()}
    assert all(keys_by_shard.values()), "20 keys spread over every shard"
    assert sum(len(keys) for keys in keys_by_shard.values()) == 20, "each key's records in one shard only"
    for records in found.values():
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers), "sequence numbers grow within a shard"
        for key in {r["dynamodb"]["Keys"]["id"]["S"] for r in records}:
            order = [r["dynamodb"]["Keys"]["ts"]["N"] for r in records if r["dynamodb"]["Keys"]["id"]["S"] == key]
            assert order == ["0", "1", "2"], "a key's records in the order written"
    all_numbers = [r["dynamodb"]["SequenceNumber"] for records in found.values() for r in records]
    assert len(set(all_numbers)) == 60, "sequence numbers unique in the stream"
    with pytest.raises(streams.exceptions.ResourceNotFoundException):
        streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId="shardId-00000000000000000000-00000000", ShardIteratorType="LATEST"
        )


def test_the_keys_of_one_shard_spread_over_all_the_lanes_of_a_parallelization_factor() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    from tools.emulator.integrations._streams import lane_of

    keys = [f"k{n}" for n in range(200)]
    in_first_shard = [
        k for k in keys if moto_dynamodb._partition_of(Item(DynamoType({"S": k}), None, {"id": {"S": k}}), 4) == 0
    ]
    assert {lane_of(json.dumps({"S": k}, sort_keys=True), 4) for k in in_first_shard} == {0, 1, 2, 3}


def test_a_provisioned_table_has_a_shard_per_1000_write_units_and_moto_s_one_shard_outside_the_local_cloud(
    dynamodb: Any,
) -> None:
    table = dynamodb_backends[ACCOUNT]["us-east-1"].tables[
        dynamodb.create_table(
            TableName="provisioned",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 3000, "WriteCapacityUnits": 1500},
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )["TableDescription"]["TableName"]
    ]
    assert moto_dynamodb.partitions(table) == 3, "1,500 / 1,000 + 3,000 / 3,000, rounded up"

    before = moto_dynamodb.set_partitioned_streams(False)
    try:
        table.set_stream_specification({"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})  # a new stream
        assert len(moto_dynamodb.stream_shards(table)) == 1
    finally:
        moto_dynamodb.set_partitioned_streams(before)


def test_a_cancelled_transaction_writes_to_no_shard(dynamodb: Any) -> None:
    stream_arn = dynamodb.create_table(
        TableName="undo-shards",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName="undo-shards", Item={"id": {"S": "taken"}})

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "undo-shards", "Item": {"id": {"S": f"phantom-{n}"}}}} for n in range(8)
            ]
            + [
                {
                    "Put": {
                        "TableName": "undo-shards",
                        "Item": {"id": {"S": "taken"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            ]
        )

    found = shard_records(streams_client(dynamodb), stream_arn)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for records in found.values() for r in records] == ["taken"]


# -- 4. attribute maps in responses as they are --------------------------------------------------------


def test_item_attributes_go_into_the_response_as_they_are_and_the_json_is_moto_s(aws: LocalAWS, dynamodb: Any) -> None:
    make_table(dynamodb, "wire")
    dynamodb.put_item(
        TableName="wire",
        Item=item(
            "a",
            1,
            "u1",
            n={"N": "1.50"},
            ok={"BOOL": True},
            no={"NULL": True},
            l={"L": [{"S": "x"}, {"N": "2"}]},
            m={"M": {"k": {"SS": ["a", "b"]}, "q": {"NS": ["1"]}}},
        ),
    )
    dynamodb.put_item(TableName="wire", Item=item("b", 2, "u1", n={"N": "3"}))
    dynamodb.put_item(TableName="wire", Item=item("c", 3, "u1", blob={"B": b"\x00\x01"}))

    def scan() -> bytes:
        request = urllib.request.Request(
            aws.endpoint,
            data=json.dumps({"TableName": "wire"}).encode(),
            headers={
                "X-Amz-Target": "DynamoDB_20120810.Scan",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        with urllib.request.urlopen(request) as response:
            return response.read()

    walked = []
    structure = BaseJSONSerializer._serialize_type_structure

    def counting(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        walked.append(shape.name)
        structure(self, serialized, value, shape, key)

    with mock.patch.object(BaseJSONSerializer, "_serialize_type_structure", counting):
        patched = scan()
    with mock.patch.object(
        BaseJSONSerializer, "_serialize_type_map", moto_dynamodb._original["BaseJSONSerializer._serialize_type_map"]
    ):
        moto_own = scan()

    assert patched == moto_own, "byte for byte the JSON moto writes"
    assert walked.count("AttributeValue") == 4, "only the item with a binary value took moto's walk (4 values)"


# -- 5. items built in one pass ------------------------------------------------------------------------


def test_an_item_is_measured_once_and_the_size_limit_still_holds(dynamodb: Any) -> None:
    make_table(dynamodb, "sizes")
    wide = item("wide", 1, "u1", **{f"a{n}": {"S": "x" * 10} for n in range(60)})
    sizes = []
    size = DynamoType.size

    def counting(self: DynamoType) -> int:
        sizes.append(1)
        return size(self)

    with mock.patch.object(DynamoType, "size", counting):
        dynamodb.put_item(TableName="sizes", Item=wide)

    assert len(sizes) < 400, f"{len(sizes)} size computations for 63 attributes (moto: one sum per attribute stored)"
    with pytest.raises(dynamodb.exceptions.ClientError, match="Item size has exceeded the maximum allowed size"):
        dynamodb.put_item(TableName="sizes", Item=item("huge", 1, "u1", big={"S": "x" * 410_000}))


# -- 6. action lookup once per class ---------------------------------------------------------------------


def test_moto_lists_a_response_class_s_methods_once(dynamodb: Any) -> None:
    import inspect

    make_table(dynamodb, "lookup")
    dynamodb.describe_table(TableName="lookup")
    calls = []
    getmembers = inspect.getmembers

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return getmembers(*args, **kwargs)

    with mock.patch.object(inspect, "getmembers", counting):
        for _ in range(3):
            dynamodb.describe_table(TableName="lookup")

    assert calls == [], "the method list of DynamoHandler is kept"


# -- 7. one DynamoDB call at a time, for its work only ---------------------------------------------------


def test_a_dynamodb_action_works_under_the_lock_and_its_response_is_serialised_outside_it(dynamodb: Any) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    make_table(dynamodb, "locking")
    dynamodb.put_item(TableName="locking", Item=item("a", 1, "u1"))
    owned: dict[str, bool] = {}
    query, serialize = DynamoDBBackend.query, BaseJSONSerializer.serialize

    def querying(*args: Any, **kwargs: Any) -> Any:
        owned["query"] = moto_dynamodb.LOCK._is_owned()  # type: ignore[attr-defined]
        return query(*args, **kwargs)

    def serializing(self: Any, *args: Any, **kwargs: Any) -> Any:
        owned.setdefault("serialize", moto_dynamodb.LOCK._is_owned())  # type: ignore[attr-defined]
        return serialize(self, *args, **kwargs)

    with (
        mock.patch.object(DynamoDBBackend, "query", querying),
        mock.patch.object(BaseJSONSerializer, "serialize", serializing),
    ):
        found = dynamodb.query(
            TableName="locking",
            KeyConditionExpression="id = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
        )["Items"]

    assert [i["id"]["S"] for i in found] == ["a"]
    assert owned == {"query": True, "serialize": False}


def test_with_an_index_lag_a_new_item_shows_in_the_index_only_after_a_while_and_in_the_table_at_once(dynamodb):
    """A global secondary index is eventually consistent (set_index_lag): a new entry is missing from index
    queries for up to the lag, the base table answers at once, and nothing lags once the lag is off."""
    import time

    make_table(dynamodb, "lagging")
    by_user = {
        "TableName": "lagging",
        "IndexName": "by-user",
        "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": "user"},
        "ExpressionAttributeValues": {":u": {"S": "u-1"}},
    }
    dynamodb.put_item(TableName="lagging", Item=item("before", 1, "u-1"))
    dynamodb.query(**by_user)  # the index's partition map exists before the lag starts
    moto_dynamodb.set_index_lag(30.0, seed=1)
    try:
        dynamodb.put_item(TableName="lagging", Item=item("new", 2, "u-1"))
        shown = [i["id"]["S"] for i in dynamodb.query(**by_user)["Items"]]
        in_table = dynamodb.get_item(
            TableName="lagging", Key={"id": {"S": "new"}, "ts": {"N": "2"}}, ConsistentRead=True
        )
    finally:
        moto_dynamodb.set_index_lag(0.0)
    assert shown == ["before"], "the new entry has not reached the index yet"
    assert in_table["Item"]["id"] == {"S": "new"}, "the table itself is consistent"

    moto_dynamodb.set_index_lag(0.05, seed=1)
    try:
        dynamodb.put_item(TableName="lagging", Item=item("soon", 3, "u-1"))
        time.sleep(0.1)  # longer than the lag
        shown = [i["id"]["S"] for i in dynamodb.query(**by_user)["Items"]]
    finally:
        moto_dynamodb.set_index_lag(0.0)
    assert "soon" in shown, "it shows once the lag has passed"


# -- 9. updates copied without copy.deepcopy -------------------------------------------------------------


def _moto_s_copies() -> Any:
    """moto's own ``copy`` and ``deepcopy`` in the modules patch 9 points at its copies."""
    from contextlib import ExitStack

    from moto.dynamodb import models, responses
    from moto.dynamodb.models import table
    from moto.dynamodb.parsing import validators

    stack = ExitStack()
    for module in (table, models, responses):
        stack.enter_context(mock.patch.object(module, "copy", copy))
    stack.enter_context(mock.patch.object(validators, "deepcopy", copy.deepcopy))
    return stack


def _updates(dynamodb: Any, table: str) -> list[Any]:
    """An UpdateItem and a transaction's update, each appending to a list, and a cancelled transaction: the answers,
    the item and the stream's images."""
    key = {"id": {"S": "a"}, "ts": {"N": "1"}}
    dynamodb.put_item(TableName=table, Item=item("a", 1, "u1", seen={"L": [{"M": {"n": {"N": "1"}}}]}, s={"SS": ["x"]}))
    dynamodb.put_item(TableName=table, Item=item("b", 1, "u1"))
    append = {
        "UpdateExpression": "SET #e = list_append(if_not_exists(#e, :none), :entry), #k = :kind",
        "ExpressionAttributeNames": {"#e": "seen", "#k": "kind"},
        "ExpressionAttributeValues": {
            ":none": {"L": []},
            ":entry": {"L": [{"M": {"n": {"N": "2"}}}]},
            ":kind": {"S": "k"},
        },
    }
    answers: list[Any] = [
        dynamodb.update_item(TableName=table, Key=key, ReturnValues="ALL_OLD", **append)["Attributes"]
    ]
    dynamodb.transact_write_items(TransactItems=[{"Update": {"TableName": table, "Key": key, **append}}])
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table, "Key": key, **append}},
                put_if_absent(table, item("b", 1, "u1")),
            ]
        )
    answers.append(dynamodb.get_item(TableName=table, Key=key)["Item"])
    shard = dynamodb_backends[ACCOUNT]["us-east-1"].tables[table].stream_shard
    answers += [
        {
            k: v
            for k, v in record.record["dynamodb"].items()
            if k not in ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")
        }
        for record in shard.items
    ]
    return answers


def test_an_update_copies_its_item_without_deepcopy_and_answers_as_with_moto_s_copies(dynamodb: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    make_table(dynamodb, "update-copies", stream=True)
    make_table(dynamodb, "update-copies-moto", stream=True)
    with counting_deepcopy() as deep_copies:
        patched = _updates(dynamodb, "update-copies")
    with _moto_s_copies():
        moto_own = _updates(dynamodb, "update-copies-moto")

    assert patched == moto_own
    assert patched[1]["seen"]["L"] == [{"M": {"n": {"N": str(n)}}} for n in (1, 2, 2)], "the cancelled append undone"
    copied = [type(value).__name__ for value in deep_copies if isinstance(value, (Item, DynamoType))]
    assert copied == [], "items and attribute values went through copy.deepcopy"


# -- 10. and 11. attribute values to plain data, and their sizes -------------------------------------------

VARIED = {
    "s": {"S": "x"},
    "n": {"N": "1.50"},
    "flag": {"BOOL": False},
    "none": {"NULL": True},
    "strings": {"SS": ["a", "bé"]},
    "numbers": {"NS": ["1", "20"]},
    "binary": {"B": "aGk="},
    "binaries": {"BS": [b"hi", b"\x00"]},
    "nested": {"L": [{"N": "1"}, {"M": {"k": {"SS": ["c"]}, "b": {"B": "aGk="}, "l": {"L": [{"M": {}}, {"L": []}]}}}]},
}


def test_an_item_becomes_the_same_plain_data_without_copying_each_level_again(aws: LocalAWS) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    stored = Item(DynamoType({"S": "t1"}), DynamoType({"N": "1"}), copy.deepcopy(VARIED))
    with counting_deepcopy() as deep_copies:
        patched = (stored.to_json(), stored.to_regular_json(), [v.to_regular_json() for v in stored.attrs.values()])
    assert not deep_copies, "the values went through copy.deepcopy"
    with mock.patch.object(DynamoType, "to_regular_json", moto_dynamodb._original["DynamoType.to_regular_json"]):
        moto_own = (stored.to_json(), stored.to_regular_json(), [v.to_regular_json() for v in stored.attrs.values()])
    assert patched == moto_own


def test_an_attribute_is_measured_as_it_is_and_its_size_is_moto_s(aws: LocalAWS) -> None:
    values = [DynamoType(value) for value in VARIED.values()] + [DynamoType({"M": VARIED})]
    built: list[Any] = []
    init = DynamoType.__init__

    def counting(self: DynamoType, value: Any) -> None:
        built.append(value)
        init(self, value)

    with mock.patch.object(DynamoType, "__init__", counting):
        patched = [value.size() for value in values]
    assert not built, "the sizes built new DynamoTypes"
    with mock.patch.object(DynamoType, "size", moto_dynamodb._original["DynamoType.size"]):
        assert patched == [value.size() for value in values]


# -- 12. update expressions parsed once ------------------------------------------------------------------


def test_an_update_expression_is_parsed_once_and_updates_as_moto_s_parse_does(dynamodb: Any) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import ActionCountValidator

    make_table(dynamodb, "parsing")
    make_table(dynamodb, "parsing-moto")
    expression = "SET #e = list_append(if_not_exists(#e, :none), :entry), n = if_not_exists(n, :zero) + :one REMOVE x"
    tokens: list[str] = []
    real_make_list = __import__("moto.dynamodb.parsing.tokens", fromlist=["ExpressionTokenizer"]).ExpressionTokenizer

    def update(table: str) -> Any:
        return [
            dynamodb.update_item(
                TableName=table,
                Key={"id": {"S": "a"}, "ts": {"N": "1"}},
                UpdateExpression=expression,
                ExpressionAttributeNames={"#e": "seen"},
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":entry": {"L": [{"S": f"e{n}"}]},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
            for n in range(3)
        ] + [
            dynamodb.update_item(
                TableName=table,
                Key={"id": {"S": "a"}, "ts": {"N": "1"}},
                UpdateExpression="ADD c :one, tags :t SET #e[0] = :one, m = if_not_exists(m, :t)",
                ExpressionAttributeNames={"#e": "seen"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":t": {"SS": ["x", "y"]},
                },
                ReturnValues="UPDATED_NEW",
            ).get("Attributes")
            for _ in range(2)
        ]

    make_list = real_make_list.make_list

    def counting(expression_str: str) -> Any:
        tokens.append(expression_str)
        return make_list(expression_str)

    maps: list[Any] = []
    action_counts = ActionCountValidator._processing_map

    def building(self: Any) -> Any:
        maps.append(self)
        return action_counts(self)

    with (
        mock.patch.object(real_make_list, "make_list", counting),
        mock.patch.object(ActionCountValidator, "_processing_map", building),
    ):
        patched = update("parsing")
        for _ in range(2):
            with pytest.raises(dynamodb.exceptions.ClientError, match="Invalid UpdateExpression"):
                dynamodb.update_item(
                    TableName="parsing", Key={"id": {"S": "a"}, "ts": {"N": "1"}}, UpdateExpression="SET"
                )
    assert tokens.count(expression) <= 1, "parsed once for all its updates"
    assert len(maps) <= 6, f"a walker built its map {len(maps)} times in 3 updates, not once per pass"
    assert tokens.count("SET") == 2, "a parse error is raised each time"

    with (
        mock.patch.object(UpdateExpressionParser, "make", moto_dynamodb._original["UpdateExpressionParser.make"]),
        mock.patch.object(
            DepthFirstTraverser,
            "nodes_to_be_processed",
            moto_dynamodb._original["DepthFirstTraverser.nodes_to_be_processed"],
        ),
        mock.patch.object(DepthFirstTraverser, "process", moto_dynamodb._original["DepthFirstTraverser.process"]),
        mock.patch.object(
            DepthFirstTraverser,
            "traverse_node_recursively",
            moto_dynamodb._original["DepthFirstTraverser.traverse_node_recursively"],
        ),
    ):
        moto_own = update("parsing-moto")
    assert patched == moto_own
    assert patched[2]["seen"] == {"L": [{"S": "e0"}, {"S": "e1"}, {"S": "e2"}]} and patched[2]["n"] == {"N": "3"}


# -- 14. an update expression's checks once, and its tree copied by a walker ------------------------------


def _shape(node: Any, nodes: list[Any] | None = None) -> Any:
    """A tree as plain data: each node's class, type and children, and its parent as the position of the parent in a
    depth-first walk (what a copy must keep: the structure and where each parent points)."""
    from moto.dynamodb.parsing.ast_nodes import Node

    nodes = [] if nodes is None else nodes
    if not isinstance(node, Node):
        return ("leaf", type(node).__name__, node if isinstance(node, (str, int, float)) else repr(node))
    nodes.append(node)
    parent = next((i for i, seen in enumerate(nodes) if seen is node.parent), None)
    children = [_shape(child, nodes) for child in node.children or []]
    return (type(node).__name__, node.type, parent, children)


def test_an_expression_tree_is_copied_as_deepcopy_copies_it() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    for expression in (
        "SET #e = list_append(if_not_exists(#e, :none), :entry), n = if_not_exists(n, :zero) + :one REMOVE x",
        "ADD c :one, tags :t SET #e[0] = :one, m.k[2].z = if_not_exists(m, :t) DELETE s :v",
    ):
        tree = moto_dynamodb._original["UpdateExpressionParser.make"].__func__(UpdateExpressionParser, expression)
        copied = moto_dynamodb._copy_tree(tree)
        assert _shape(copied) == _shape(copy.deepcopy(tree)) == _shape(tree)
        originals: list[Any] = []
        copies: list[Any] = []
        _shape(tree, originals)
        _shape(copied, copies)
        assert not {id(node) for node in originals} & {id(node) for node in copies}, "every node is new"
    assert moto_dynamodb._copy_tree(["a", {"b": 1}]) == ["a", {"b": 1}], "anything else is deep-copied"


def test_an_update_expression_is_checked_once_and_a_bad_one_fails_every_time(dynamodb: Any) -> None:
    from moto.dynamodb.parsing.validators import ActionCountValidator, Validator

    make_table(dynamodb, "checked")
    make_table(dynamodb, "checked-moto")
    key = {"id": {"S": "a"}, "ts": {"N": "1"}}
    good = "SET #e = list_append(if_not_exists(#e, :none), :entry), #k = :kind"

    def updates(table: str, *, bad: bool = True) -> list[Any]:
        answers: list[Any] = []
        for n in range(3):
            answers.append(
                dynamodb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression=good,
                    ExpressionAttributeNames={"#e": "seen", "#k": "kind"},
                    ExpressionAttributeValues={
                        ":none": {"L": []},
                        ":entry": {"L": [{"N": str(n)}]},
                        ":kind": {"S": "k"},
                    },
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            )
        if not bad:
            return answers
        good_values = {":none": {"L": []}, ":entry": {"L": []}, ":kind": {"S": "k"}}
        for refused_expression, names, values in (
            (good, {"#e": "seen", "#k": "ts"}, good_values),  # the same expression setting the range key: refused
            (good, {"#e": "kind", "#k": "kind"}, good_values),  # the same path twice
            ("SET a = :v ADD b :v ADD c :v", {}, {":v": {"N": "1"}}),  # two ADD clauses
        ):
            for _ in range(2):
                with pytest.raises(dynamodb.exceptions.ClientError) as refused:
                    dynamodb.update_item(
                        TableName=table,
                        Key=key,
                        UpdateExpression=refused_expression,
                        **({"ExpressionAttributeNames": names} if names else {}),
                        ExpressionAttributeValues=values,
                    )
                answers.append(refused.value.response["Error"])
        return answers

    counted: list[Any] = []
    verify = ActionCountValidator.verify_action_counts

    def counting(self: Any, node: Any) -> Any:
        counted.append(node)
        return verify(self, node)

    patched = updates("checked")
    with mock.patch.object(ActionCountValidator, "verify_action_counts", counting):
        updates("checked", bad=False)
    expression_checks = len(counted)
    with (
        mock.patch.object(Validator, "__init__", moto_dynamodb._original["Validator.__init__"]),
        mock.patch.object(Validator, "validate", moto_dynamodb._original["Validator.validate"]),
    ):
        moto_own = updates("checked-moto")
        with mock.patch.object(ActionCountValidator, "verify_action_counts", counting):
            updates("checked-moto", bad=False)
    moto_checks = len(counted) - expression_checks
    assert patched == moto_own
    assert patched[2]["seen"] == {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]}
    assert [error["Code"] for error in patched[3:]] == ["ValidationException"] * 6
    assert "ts" in patched[3]["Message"] and "Two document paths" in patched[5]["Message"]
    assert moto_checks > 0 and expression_checks == 0, f"checked again {expression_checks} times (moto: {moto_checks})"


# -- 15. the response serialiser's member look-ups kept ---------------------------------------------------


def _serialised(service: str, operation: str, result: Any) -> Any:
    from moto.core.responses import XFormedAttributePicker, get_serializer_class, get_service_model

    model = get_service_model(service)
    serializer_class = get_serializer_class(model.service_name, model.protocol)
    serializer = serializer_class(
        operation_model=model.operation_model(operation), value_picker=XFormedAttributePicker()
    )
    return serializer.serialize(result)


ANSWERS = [
    (
        "dynamodb",
        "Query",
        {
            "Count": 2,
            "ScannedCount": 2,
            "Items": [{"id": {"S": "a"}, "n": {"N": "1"}}, {"id": {"S": "b"}, "l": {"L": [{"M": {"x": {"S": "y"}}}]}}],
            "LastEvaluatedKey": {"id": {"S": "b"}},
            "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.5}},
        },
    ),
    ("dynamodb", "UpdateItem", {"Attributes": {"id": {"S": "a"}, "flag": {"BOOL": True}}}),
    ("dynamodb", "TransactWriteItems", {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 3.0}]}),
    (
        "sqs",
        "ReceiveMessage",
        {
            "Messages": [
                {
                    "MessageId": "m1",
                    "ReceiptHandle": "r1",
                    "MD5OfBody": "x",
                    "Body": "hello",
                    "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
                    "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
                }
            ]
        },
    ),
    (
        "logs",
        "GetLogEvents",
        {"events": [{"timestamp": 1, "message": "m", "ingestionTime": 2}], "nextForwardToken": "f"},
    ),
]


def test_the_serialiser_looks_members_up_once_per_shape_and_answers_as_moto_does(aws: LocalAWS) -> None:
    from moto.core import serialize

    made: list[str] = []
    init = serialize.AttributeAliasProvider.__init__

    def counting(self: Any, context: Any) -> None:
        made.append(type(self).__name__)
        init(self, context)

    with mock.patch.object(serialize.AttributeAliasProvider, "__init__", counting):
        first = [_serialised(*answer) for answer in ANSWERS]
        made_first = len(made)
        again = [_serialised(*answer) for answer in ANSWERS]
    with mock.patch.object(
        serialize.XFormedAttributePicker,
        "get_possible_keys",
        moto_dynamodb._original["XFormedAttributePicker.get_possible_keys"],
    ):
        moto_own = [_serialised(*answer) for answer in ANSWERS]

    assert first == again == moto_own
    assert json.loads(first[0]["body"])["Items"][1]["l"] == {"L": [{"M": {"x": {"S": "y"}}}]}
    assert json.loads(first[3]["body"])["Messages"][0]["MessageAttributes"]["k"]["StringValue"] == "v"
    assert len(made) == made_first, "the second time, no alias provider was made"


# -- 16. condition expressions parsed once --------------------------------------------------------------


def test_a_condition_is_parsed_once_and_decides_as_moto_s_parse_does(dynamodb: Any) -> None:
    from moto.dynamodb import comparisons

    make_table(dynamodb, "conditions")
    make_table(dynamodb, "conditions-moto")
    absent = "attribute_not_exists(id)"
    newer = "attribute_not_exists(id) OR #at < :at"

    def writes(table: str) -> list[Any]:
        outcomes: list[Any] = []

        def attempt(call: Any) -> None:
            try:
                call()
                outcomes.append("ok")
            except dynamodb.exceptions.ClientError as error:
                outcomes.append(error.response["Error"]["Code"])

        for n in range(3):  # the first put of the key passes, the next two fail
            attempt(
                lambda: dynamodb.put_item(
                    TableName=table, Item=item("a", 1, "u", at={"N": "5"}), ConditionExpression=absent
                )
            )
            key = f"t{n % 2}"
            attempt(
                lambda key=key: dynamodb.transact_write_items(TransactItems=[put_if_absent(table, item(key, 1, "u"))])
            )
        for at in ("4", "6", "6"):  # the same expression with other values decides by its own (the item's at: 5)
            attempt(
                lambda at=at: dynamodb.put_item(  # type: ignore[misc]
                    TableName=table,
                    Item=item("a", 1, "u", at={"N": "5"}),
                    ConditionExpression=newer,
                    ExpressionAttributeNames={"#at": "at"},
                    ExpressionAttributeValues={":at": {"N": at}},
                )
            )
        return outcomes

    parses: list[str] = []
    real = comparisons.ConditionExpressionParser._lex_condition_expression

    def counting(self: Any) -> Any:
        parses.append(self.condition_expression)
        return real(self)

    with mock.patch.object(comparisons.ConditionExpressionParser, "_lex_condition_expression", counting):
        patched = writes("conditions")
        for _ in range(2):
            with pytest.raises(ValueError, match="Bad comparison"):
                comparisons.ConditionExpressionParser("id <>", {}, {}).parse()
    with mock.patch.object(moto_dynamodb, "_conditions", {}), mock.patch.object(moto_dynamodb, "_CONDITIONS_LIMIT", 0):
        moto_own = writes("conditions-moto")  # nothing kept: every condition parsed, as moto does

    failed = "ConditionalCheckFailedException"
    assert patched == moto_own
    assert patched[:6] == ["ok", "ok", failed, "ok", failed, "TransactionCanceledException"]
    assert patched[6:9] == [failed, "ok", "ok"], "the value :at decides (5 < 4, 5 < 6), not the first parse's"
    assert parses.count(absent) <= 1 and parses.count(newer) == 2, parses  # absent: maybe kept from a test before
    assert parses.count("id <>") == 2, "a parse error every time"


# -- 17. an item measured once per query -------------------------------------------------------------------


def test_a_query_measures_each_item_once_and_still_stops_a_page_at_1_mb(dynamodb: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    make_table(dynamodb, "query-sizes")
    for ts in range(30):  # 30 items of ~100 KB under one key, 25 of them in the queried range
        dynamodb.put_item(TableName="query-sizes", Item=item("k", ts, "u", blob={"S": "x" * 100_000}))
    real = moto_dynamodb._original["Item.size"]

    def pages(patched: bool) -> tuple[list[list[int]], list[list[int]]]:
        """Each page's items and, per page, the items measured while it was made."""
        measured: list[list[int]] = []

        def counting(self: Any) -> int:
            measured[-1].append(int(self.range_key.value))
            return int(real(self))

        found: list[list[int]] = []
        start: dict[str, Any] | None = None
        with (
            mock.patch.dict(moto_dynamodb._original, {"Item.size": counting})
            if patched
            else mock.patch.object(Item, "size", counting)  # moto's own measuring, no patch 17
        ):
            while True:
                measured.append([])
                page = dynamodb.query(
                    TableName="query-sizes",
                    KeyConditionExpression="id = :k AND ts BETWEEN :a AND :b",
                    ExpressionAttributeValues={":k": {"S": "k"}, ":a": {"N": "5"}, ":b": {"N": "29"}},
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                found.append([int(i["ts"]["N"]) for i in page["Items"]])
                start = page.get("LastEvaluatedKey")
                if start is None:
                    return found, measured

    found, measured = pages(patched=True)
    moto_found, moto_measured = pages(patched=False)

    assert found == moto_found, "the same pages as moto's own measuring"
    assert [len(page) for page in found] == [9, 9, 7], "1 MB pages over the 25 items in range"
    for page, moto_page in zip(measured, moto_measured, strict=True):
        assert len(page) == len(set(page)), f"each item measured once per query call: {page}"
        assert len(moto_page) > len(page), "moto measures each match twice"


# -- 18. item requests read as JSON -------------------------------------------------------------------------


def _parsed(action: str, body: dict[str, Any] | bytes, *, walk: bool) -> Any:
    """What the handler's parameters are for ``body`` sent as ``action``: read as JSON (patch 18) or by moto's walk."""
    from types import SimpleNamespace

    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler()
    handler.querystring, handler.uri_match = {}, {}
    handler.headers = {"X-Amz-Target": f"DynamoDB_20120810.{action}"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = SimpleNamespace(
        method="POST",
        values={},
        headers=handler.headers,
        data=data,
        path="/",
        content_type="application/x-amz-json-1.0",
    )
    parse = moto_dynamodb._original["DynamoHandler.parse_parameters"] if walk else DynamoHandler.parse_parameters
    parse(handler, request)
    return handler.params


ITEM = {
    "id": {"S": "t-1"},
    "ts": {"N": "1765158000000"},
    "amount": {"N": "12.50"},
    "flags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2.5"]},
    "ok": {"BOOL": True},
    "nothing": {"NULL": True},
    "where": {"M": {"lat": {"N": "52.5"}, "tags": {"L": [{"S": "x"}, {"N": "1"}]}}},
}
REQUESTS = [
    ("GetItem", {"TableName": "t", "Key": {"id": {"S": "t-1"}, "ts": {"N": "1"}}, "ConsistentRead": True}),
    (
        "PutItem",
        {
            "TableName": "t",
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(id) OR #e < :now",
            "ExpressionAttributeNames": {"#e": "expires"},
            "ExpressionAttributeValues": {":now": {"N": "5"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    (
        "Query",
        {
            "TableName": "t",
            "IndexName": "by-user",
            "KeyConditionExpression": "#u = :u AND ts BETWEEN :a AND :b",
            "ExpressionAttributeNames": {"#u": "user"},
            "ExpressionAttributeValues": {":u": {"S": "u1"}, ":a": {"N": "0"}, ":b": {"N": "9"}},
            "ScanIndexForward": False,
            "Limit": 25,
            "ExclusiveStartKey": {"id": {"S": "t-1"}, "ts": {"N": "1"}, "user": {"S": "u1"}},
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    (
        "UpdateItem",
        {
            "TableName": "t",
            "Key": {"id": {"S": "t-1"}, "ts": {"N": "1"}},
            "UpdateExpression": "SET #s = :s ADD n :one REMOVE gone",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "done"}, ":one": {"N": "1"}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(id)"}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"id": {"S": "c"}, "ts": {"N": "0"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"id": {"S": "d"}, "ts": {"N": "0"}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
                {"Delete": {"TableName": "t", "Key": {"id": {"S": "e"}, "ts": {"N": "0"}}}},
            ],
            "ClientRequestToken": "token-1",
        },
    ),
    ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"id": {"S": "a"}, "ts": {"N": "1"}}], "ConsistentRead": True}}}),
    (
        "Scan",
        {
            "TableName": "t",
            "Segment": 0,
            "TotalSegments": 2,
            "FilterExpression": "ok = :t",
            "ExpressionAttributeValues": {":t": {"BOOL": True}},
        },
    ),
]


@pytest.mark.parametrize(("action", "body"), REQUESTS, ids=[action for action, _ in REQUESTS])
def test_an_item_request_is_read_as_json_into_what_moto_s_walk_makes_of_it(action: str, body: dict[str, Any]) -> None:
    walked = _parsed(action, body, walk=True)
    walk = moto_dynamodb._original["DynamoHandler.parse_parameters"]
    with mock.patch.dict(moto_dynamodb._original, {"DynamoHandler.parse_parameters": mock.Mock(side_effect=walk)}):
        read = _parsed(action, body, walk=False)
        assert not moto_dynamodb._original["DynamoHandler.parse_parameters"].called, "read as JSON, no walk"
    assert read == walked
    assert walked == body, "the walk gave back the JSON itself: the case patch 18 reads as JSON"


def test_a_request_the_walk_converts_goes_the_walk_s_way() -> None:
    binary = {"TableName": "t", "Item": {"id": {"S": "k"}, "ts": {"N": "1"}, "blob": {"B": "aGVsbG8="}}}
    with_null = {"TableName": "t", "Key": {"id": {"S": "k"}, "ts": {"N": "1"}}, "ProjectionExpression": None}
    for action, body in (("PutItem", binary), ("GetItem", with_null)):
        walked = _parsed(action, body, walk=True)
        assert _parsed(action, body, walk=False) == walked
    assert _parsed("PutItem", binary, walk=False)["Item"]["blob"]["B"] == b"hello", "base64 decoded, as moto does"
    assert "ProjectionExpression" not in _parsed("GetItem", with_null, walk=False), "a null member dropped"
    table = {"TableName": "t", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}
    assert _parsed("DescribeTable", table, walk=False) == _parsed(
        "DescribeTable", table, walk=True
    )  # not an item action
    assert _parsed("GetItem", b"not json", walk=False) == _parsed("GetItem", b"not json", walk=True)
