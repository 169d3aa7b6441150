"""The state bucket bootstrap (tools/deploy/state_bucket.py) against moto: made once, corrected, then left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tools.deploy import state_bucket

BUCKET = "fraud-pipeline-tfstate-123456789012-eu-west-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.Session(region_name="eu-west-1")


def test_the_bucket_is_versioned_encrypted_with_its_own_rotated_key_private_and_tls_only(session):
    result = state_bucket.bootstrap(session)

    s3, kms = session.client("s3"), session.client("kms")
    assert result.bucket == BUCKET
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": result.key_arn}
    assert kms.describe_key(KeyId=state_bucket.KEY_ALIAS)["KeyMetadata"]["Arn"] == result.key_arn
    assert kms.get_key_rotation_status(KeyId=result.key_arn)["KeyRotationEnabled"] is True
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyOtherKey"]["Condition"]["StringNotEquals"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": result.key_arn
    }


def test_a_second_run_changes_nothing_and_a_drifted_setting_is_put_back(session):
    first = state_bucket.bootstrap(session)
    assert "created the bucket " + BUCKET in first.changes

    assert state_bucket.bootstrap(session).changes == ()

    s3 = session.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=BUCKET)
    again = state_bucket.bootstrap(session)
    assert set(again.changes) == {
        "turned on versioning",
        "set the policy: TLS only, no other encryption than the state key",
    }
    assert again.key_arn == first.key_arn, "the same key, not a new one"
