"""make model: validate an artifact like detect-fraud, upload it with the CMK, move the pointer; shadow,
promote, roll back (moto's S3, KMS and SSM)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from fraud.config import load_config
from fraud.model import FORMAT, FORMAT_VERSION
from tools._cli import ToolError
from tools.detection import model as tool

BUCKET = "fraud-models-test"
PARAMETER = "/fraud-detection/test/model-test"


def artifact(version: str, alert: int = 60) -> dict:
    """A small valid artifact over real features: one split on the amount."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "features": ["amount", "category"],
        "categories": {"category": ["grocery_pos", "shopping_net"]},
        "feature_spec": load_config(None).features.to_document(),
        "trees": [
            {
                "feature": [0],
                "threshold": [500.0],
                "missing": ["NaN"],
                "default_left": [True],
                "left": [-1],
                "right": [-2],
                "internal_value": [0.0],
                "leaf_value": [-4.0, 3.0],
            }
        ],
        "calibration": {"slope": 1.0, "intercept": 0.0, "points_per_doubling": 5.0, "even_odds_score": 50.0},
        "thresholds": {"review": 40, "alert": alert},
    }


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / f"{doc['version']}.json"
    path.write_text(json.dumps(doc, sort_keys=True))
    return path


@pytest.fixture
def store(monkeypatch) -> tool.ModelStore:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
            },
        )
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=PARAMETER, Value=json.dumps({"live": None, "shadow": None}), Type="String")
        yield tool.ModelStore(BUCKET, PARAMETER, s3, ssm)


def cli(*args: str) -> int:
    return tool.main(["--bucket", BUCKET, "--parameter-name", PARAMETER, *args])


def test_push_uploads_with_the_bucket_cmk_and_points_live_at_it(store, tmp_path) -> None:
    path = write(tmp_path, artifact("20250101-aaaa"))
    assert cli("push", str(path)) == 0
    ref = store.pointer()["live"]
    data = path.read_bytes()
    assert ref == {
        "key": "models/20250101-aaaa.json",
        "sha256": hashlib.sha256(data).hexdigest(),
        "version": "20250101-aaaa",
    }
    head = store.s3.head_object(Bucket=BUCKET, Key=ref["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == store.kms_key()
    assert store.s3.get_object(Bucket=BUCKET, Key=ref["key"])["Body"].read() == data
    assert store.pointer()["shadow"] is None


def test_an_invalid_artifact_is_refused_and_nothing_changes(store, tmp_path) -> None:
    bad = artifact("20250101-bad")
    bad["features"] = ["amount", "category", "not_a_feature"]
    with pytest.raises(ToolError, match="does not compute: not_a_feature; nothing was uploaded"):
        cli("push", str(write(tmp_path, bad)))
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(write(tmp_path, artifact("20250101-cut")).read_bytes()[:100])
    with pytest.raises(ToolError, match="truncated or corrupt"):
        cli("push", str(truncated))
    assert store.pointer() == {"live": None, "shadow": None}
    assert store.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_shadow_then_promote_then_rollback(store, tmp_path) -> None:
    first, second = artifact("20250101-one"), artifact("20250102-two", alert=70)
    cli("push", str(write(tmp_path, first)))
    cli("push", "--shadow", str(write(tmp_path, second)))
    pointer = store.pointer()
    assert (pointer["live"]["version"], pointer["shadow"]["version"]) == ("20250101-one", "20250102-two")

    cli("promote")
    pointer = store.pointer()
    assert pointer["live"]["version"] == "20250102-two" and pointer["shadow"] is None
    with pytest.raises(ToolError, match="no shadow model to promote"):
        cli("promote")

    cli("rollback")
    assert store.pointer()["live"]["version"] == "20250101-one"
    cli("rollback")  # a second rollback undoes the first
    assert store.pointer()["live"]["version"] == "20250102-two"


def test_rollback_refuses_a_target_whose_object_changed(store, tmp_path) -> None:
    cli("push", str(write(tmp_path, artifact("20250101-one"))))
    cli("push", str(write(tmp_path, artifact("20250102-two"))))
    store.s3.put_object(Bucket=BUCKET, Key="models/20250101-one.json", Body=b"{}")  # a new object version
    with pytest.raises(ToolError, match="has sha256 .* the pointer says"):
        cli("rollback")
    assert store.pointer()["live"]["version"] == "20250102-two"


def test_rollback_without_history_says_so(store) -> None:
    with pytest.raises(ToolError, match="no earlier live model"):
        cli("rollback")


def test_show_reports_both_slots_and_flags_a_broken_object(store, tmp_path, capsys) -> None:
    cli("push", str(write(tmp_path, artifact("20250101-one"))))
    cli("push", "--shadow", str(write(tmp_path, artifact("20250102-two"))))
    store.s3.delete_object(Bucket=BUCKET, Key="models/20250102-two.json")
    capsys.readouterr()
    cli("show")
    shown = capsys.readouterr().out
    assert "live: 20250101-one" in shown and "1 trees, review >= 40, alert >= 60" in shown
    assert "shadow: 20250102-two" in shown and "NOT USABLE" in shown
    assert "20250101-one  20250102-two" in shown


def test_drop_shadow_clears_only_the_shadow(store, tmp_path) -> None:
    cli("push", str(write(tmp_path, artifact("20250101-one"))))
    cli("push", "--shadow", str(write(tmp_path, artifact("20250102-two"))))
    cli("drop-shadow")
    pointer = store.pointer()
    assert pointer["live"]["version"] == "20250101-one" and pointer["shadow"] is None


def test_a_bucket_without_a_kms_key_is_not_used(store, tmp_path) -> None:
    store.s3.create_bucket(Bucket="plain-bucket")
    store.s3.delete_bucket_encryption(Bucket="plain-bucket")
    plain = tool.ModelStore("plain-bucket", PARAMETER, store.s3, store.ssm)
    with pytest.raises(ToolError, match="no default KMS key"):
        tool.push(plain, write(tmp_path, artifact("20250101-one")))
    assert store.pointer() == {"live": None, "shadow": None}


def test_a_pointer_parameter_that_is_not_a_pointer_is_an_error(store) -> None:
    store.ssm.put_parameter(Name=PARAMETER, Value='{"live": 3}', Type="String", Overwrite=True)
    with pytest.raises(ToolError, match="live must be null or an object with exactly key, sha256 and version"):
        store.pointer()


def test_check_validates_without_aws(tmp_path, capsys) -> None:
    doc = copy.deepcopy(artifact("20250101-one"))
    assert tool.main(["check", str(write(tmp_path, doc))]) == 0
    assert "valid model 20250101-one" in capsys.readouterr().out
