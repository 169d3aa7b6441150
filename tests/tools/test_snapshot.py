"""Keeping the local deployment between runs (tools/emulator/snapshot.py): a replay rebuilds what the
recording made, identifiers and stream ARNs included, or says where it diverged."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.emulator import snapshot
from tools.emulator.localaws import LocalAWS


@pytest.fixture
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as running:
        snapshot.reset(running.gateway)
        yield running
        snapshot.reset(running.gateway)


def clients(aws: LocalAWS) -> tuple[Any, Any, Any]:
    options = dict(
        endpoint_url=aws.endpoint, region_name=aws.region, aws_access_key_id="test", aws_secret_access_key="test"
    )
    return boto3.client("dynamodb", **options), boto3.client("lambda", **options), boto3.client("iam", **options)


def deploy_stream_consumer(aws: LocalAWS) -> str:
    """A table with a stream and a function mapped to it (the direct routing's shape)."""
    dynamodb, lam, iam = clients(aws)
    stream_arn = dynamodb.create_table(
        TableName="recorded",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    role = iam.create_role(RoleName="recorded", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    lam.create_function(
        FunctionName="consumer",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="LATEST"
    )["UUID"]


def test_a_replayed_recording_rebuilds_a_stream_mapping_with_the_same_identifiers(
    aws: LocalAWS, tmp_path: Path
) -> None:
    recording = tmp_path / "requests.jsonl"
    snapshot.seed(aws.gateway)
    snapshot.start_recording(aws.gateway, recording)
    try:
        mapping = deploy_stream_consumer(aws)
    finally:
        recorded = snapshot.stop_recording(aws.gateway)
    stream_arn = clients(aws)[0].describe_table(TableName="recorded")["Table"]["LatestStreamArn"]

    snapshot.reset(aws.gateway)
    snapshot.seed(aws.gateway)
    replayed = snapshot.replay(aws.gateway, recording)

    dynamodb, lam, _ = clients(aws)
    assert replayed == recorded
    assert dynamodb.describe_table(TableName="recorded")["Table"]["LatestStreamArn"] == stream_arn, "same stream ARN"
    [restored] = lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]
    assert (restored["UUID"], restored["EventSourceArn"]) == (mapping, stream_arn), "the mapping and its stream"


def test_a_replay_that_diverges_stops_at_the_first_request_that_no_longer_succeeds(
    aws: LocalAWS, tmp_path: Path
) -> None:
    recording = tmp_path / "requests.jsonl"
    snapshot.seed(aws.gateway)
    snapshot.start_recording(aws.gateway, recording)
    try:
        deploy_stream_consumer(aws)
    finally:
        snapshot.stop_recording(aws.gateway)
    lines = recording.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    create_table = next(
        i for i, e in enumerate(entries) if e["headers"].get("X-Amz-Target", "").endswith("CreateTable")
    )
    recording.write_text("\n".join(line for i, line in enumerate(lines) if i != create_table) + "\n")

    snapshot.reset(aws.gateway)
    snapshot.seed(aws.gateway)
    with pytest.raises(snapshot.ReplayDiverged, match="event-source-mappings"):
        snapshot.replay(aws.gateway, recording)
