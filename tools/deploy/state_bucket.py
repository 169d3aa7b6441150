"""The S3 bucket that holds the Terraform state of an account's environments: made once, checked every time.

    python -m tools.deploy.state_bucket --env prod       # make state-bootstrap ENV=prod

One bucket per account and region, ``fraud-pipeline-tfstate-<account>-<region>``, each environment
under its own key (``fraud-pipeline/<suffix>.tfstate``, tools/deploy/tf.py), with its own
customer-managed key ``alias/fraud-pipeline-tfstate`` (rotation on). The state holds the API key,
the hash key of the pattern alerts and every resource's configuration, so the bucket:

- is versioned (a bad apply or a corrupted write can be rolled back to the previous state);
- encrypts with the key by default (bucket key on), and refuses an upload that asks for any other
  encryption (so no client can store a state under S3's own key);
- refuses requests without TLS (``aws:SecureTransport``);
- blocks every form of public access and enforces bucket-owner ownership (no ACLs).

Locking is S3's own (Terraform 1.10+, ``use_lockfile``: a lock object beside the state), so no
DynamoDB table is needed. Who may read the state is decided by IAM: the account's deploy role needs
``s3:GetObject``/``PutObject``/``DeleteObject`` on ``fraud-pipeline/*`` and ``kms:Decrypt``/
``GenerateDataKey`` on the key; nobody else should have them.

Why a tool and not a Terraform root: the bucket must outlive every Terraform state, its own
included. A root for it would keep its state on a laptop (what the bucket exists to prevent), and a
``terraform destroy`` there would take every environment's state with it. The tool makes what is
missing and corrects what differs (versioning, encryption, policy, public access), and changes
nothing else; run it again at any time to check. It prints the ``TF_STATE_BUCKET`` and
``TF_STATE_KMS_KEY`` to export.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools._cli import ToolError, progress, run, validate_suffix

KEY_ALIAS = "alias/fraud-pipeline-tfstate"
BUCKET_PREFIX = "fraud-pipeline-tfstate"


def bucket_name(account: str, region: str) -> str:
    return f"{BUCKET_PREFIX}-{account}-{region}"


def bucket_policy(bucket: str, key_arn: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                # An upload that names an encryption must name this key (none: the default, this key).
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                },
            },
            {
                "Sid": "DenyOtherKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                },
            },
        ],
    }


@dataclass(frozen=True)
class StateBucket:
    bucket: str
    key_arn: str
    changes: tuple[str, ...]  # what this run made or corrected


def ensure_key(kms: Any) -> tuple[str, list[str]]:
    """The state key's ARN (made, with rotation, when the alias does not exist yet)."""
    changes = []
    try:
        key_id = kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        key_id = kms.create_key(
            Description="Terraform state of the fraud pipeline's environments (tools/deploy/state_bucket.py)",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "Project", "TagValue": "fraud-detection"}],
        )["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key_id)
        changes.append(f"created the key {KEY_ALIAS}")
    if not kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
        kms.enable_key_rotation(KeyId=key_id)
        changes.append("turned on the key's rotation")
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"], changes


def ensure_bucket(s3: Any, bucket: str, region: str, key_arn: str) -> list[str]:
    from botocore.exceptions import ClientError

    changes = []
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("403", "AccessDenied", "Forbidden"):
            raise ToolError(
                f"the bucket {bucket} exists and this identity may not use it (another account's?)"
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced", **location)
        changes.append(f"created the bucket {bucket}")

    block = {
        name: True for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    try:
        current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        current = {}
    if current != block:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        changes.append("blocked public access")

    try:
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError:
        ownership = []
    if ownership != [{"ObjectOwnership": "BucketOwnerEnforced"}]:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
        changes.append("enforced bucket-owner ownership (no ACLs)")

    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        changes.append("turned on versioning")

    wanted_rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,
    }
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        rules = []
    if [{k: r.get(k) for k in wanted_rule} for r in rules] != [wanted_rule]:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [wanted_rule]})
        changes.append("set the default encryption to the state key")

    policy = bucket_policy(bucket, key_arn)
    try:
        current_policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        current_policy = None
    if current_policy != policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        changes.append("set the policy: TLS only, no other encryption than the state key")
    return changes


def bootstrap(session: Any) -> StateBucket:
    """Make or correct the state bucket and key of the session's account and region."""
    account = session.client("sts").get_caller_identity()["Account"]
    region = session.region_name or "us-east-1"
    key_arn, changes = ensure_key(session.client("kms"))
    bucket = bucket_name(account, region)
    changes += ensure_bucket(session.client("s3"), bucket, region, key_arn)
    return StateBucket(bucket, key_arn, tuple(changes))


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.state_bucket", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="an environment of the account, e.g. prod")
    parser.add_argument("--region", help="region of the bucket (default: the environment's, else AWS_REGION)")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from tools.deploy.tf import Stack

    suffix = validate_suffix(args.env)
    region = args.region
    if region is None:
        try:
            region = json.loads(Stack(suffix).var_file.read_text()).get("region")
        except (FileNotFoundError, json.JSONDecodeError):
            region = None
    session = boto3.Session(region_name=region or None)
    if session.region_name is None:
        session = boto3.Session(region_name="us-east-1")
    try:
        result = bootstrap(session)
    except (BotoCoreError, ClientError) as error:
        raise ToolError(f"the state bucket could not be made or checked: {error}") from None
    for change in result.changes:
        progress(f"  {change}")
    progress(f"state bucket {result.bucket}: versioned, encrypted with {KEY_ALIAS}, TLS only, private")
    print(f"export TF_STATE_BUCKET={result.bucket}\nexport TF_STATE_KMS_KEY={result.key_arn}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
