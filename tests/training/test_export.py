"""``make export``'s code against moto: DynamoDB's export into the exports bucket, the manifests DynamoDB writes
(written by the tool where moto has none), the labels beside it, the local copy; bad input refused before anything
is exported."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.training.conftest import END_MS
from tools._cli import ToolError
from tools.training import export, labels, layout, synthetic

REGION = "us-east-1"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, Any], list[dict]]]:
    """A table with point-in-time recovery holding a small history (and the claim items the API writes), an
    exports bucket and a KMS key, as Terraform deploys them; the outputs the tool reads."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        dynamodb = session.client("dynamodb")
        dynamodb.create_table(
            TableName="transactions-t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "transaction_id", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "N"},
            ],
            KeySchema=[
                {"AttributeName": "transaction_id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
        )
        dynamodb.update_continuous_backups(
            TableName="transactions-t", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        items = [item for item, _ in synthetic.stored_items(5, 3, seed=1, fraud_rate=0.1, end_ms=END_MS)]
        for item in items:
            dynamodb.put_item(TableName="transactions-t", Item=json.loads(layout.item_line(item))["Item"])
            claim = {"transaction_id": item["transaction_id"], "timestamp": 0, "kind": "claim"}
            dynamodb.put_item(TableName="transactions-t", Item=json.loads(layout.item_line(claim))["Item"])
        session.client("s3").create_bucket(Bucket="exports-t")
        key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        outputs = {"table_name": "transactions-t", "exports_bucket_name": "exports-t", "kms_key_arn": key}
        yield session, outputs, items


def test_an_export_has_dynamodbs_layout_with_manifests_labels_and_a_local_copy(deployed: Any, tmp_path: Path) -> None:
    session, outputs, items = deployed
    labels_file = tmp_path / "chargebacks.jsonl"
    chargebacks = [
        {"transaction_id": items[0]["transaction_id"], "label": "fraud", "source": "chargeback", "by": "f", "at": 1}
    ]
    labels_file.write_text("".join(json.dumps(x) + "\n" for x in chargebacks))
    record = export.export(
        session,
        outputs,
        suffix="t",
        labels_file=labels_file,
        build=tmp_path / "build",
        interval=0.05,
        now_ms=lambda: END_MS,
    )
    assert record["name"] == "20261101T000000Z-full" and record["labels"] == {"table": 0, "file": 1, "total": 1}
    keys = [o["Key"] for o in export.list_keys(session.client("s3"), "exports-t", "exports/")]
    base = f"exports/{record['name']}"
    summaries = [k for k in keys if k.endswith("/manifest-summary.json")]
    assert len(summaries) == 1 and summaries[0].startswith(f"{base}/AWSDynamoDB/")
    assert f"{base}/labels/labels.jsonl.gz" in keys and f"{base}/export.json" in keys
    assert record["manifests"].startswith("written by tools.training.export")  # moto 5.2.5 writes none

    local = Path(record["local"])
    summary = json.loads(next(local.glob("AWSDynamoDB/*/manifest-summary.json")).read_text())
    files = [
        json.loads(line) for line in next(local.glob("AWSDynamoDB/*/manifest-files.json")).read_text().splitlines()
    ]
    assert summary["itemCount"] == sum(f["itemCount"] for f in files) == 2 * len(items)  # transactions and claims
    assert summary["manifestFilesS3Key"].endswith("manifest-files.json") and summary["exportType"] == "FULL_EXPORT"
    data = [local / f["dataFileS3Key"].removeprefix(f"{base}/") for f in files]
    lines = [json.loads(line) for path in data for line in gzip.decompress(path.read_bytes()).splitlines()]
    exported = {x["Item"]["transaction_id"]["S"] for x in lines if x["Item"]["kind"]["S"] == "transaction"}
    assert exported == {item["transaction_id"] for item in items}
    assert labels.read_file(local / layout.LABELS_FILE) == chargebacks


def test_a_bad_labels_file_stops_before_anything_is_exported(deployed: Any, tmp_path: Path) -> None:
    session, outputs, _ = deployed
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"transaction_id": "t", "label": "fraud", "source": "gossip", "by": "x", "at": 1}) + "\n")
    with pytest.raises(ToolError, match="source must be one of"):
        export.export(session, outputs, suffix="t", labels_file=bad, build=tmp_path, interval=0.05)
    assert export.list_keys(session.client("s3"), "exports-t", "exports/") == []


def test_an_incremental_export_must_cover_15_minutes_to_24_hours(deployed: Any, tmp_path: Path) -> None:
    session, outputs, _ = deployed
    with pytest.raises(ToolError, match="15 minutes to 24 hours"):
        export.export(session, outputs, suffix="t", since_ms=END_MS - 2 * 86_400_000, until_ms=END_MS, build=tmp_path)


def test_an_environment_without_the_exports_bucket_is_told_to_deploy(deployed: Any, tmp_path: Path) -> None:
    session, outputs, _ = deployed
    with pytest.raises(ToolError, match="no exports_bucket_name output"):
        export.export(session, {**outputs, "exports_bucket_name": None}, suffix="t", build=tmp_path)


def test_an_environment_of_the_local_cloud_is_exported_by_the_local_path_only(tmp_path: Path) -> None:
    (tmp_path / "train-x").mkdir()
    (tmp_path / "train-x" / "terraform.tfvars.json").write_text(json.dumps({"tags": {"Profile": "local"}}))
    with pytest.raises(ToolError, match="make train-at-scale ENV=train-x"):
        export.refuse_local("train-x", build=tmp_path)
    export.refuse_local("dev", build=tmp_path)  # no rendered variables: a deployed environment, nothing to refuse
