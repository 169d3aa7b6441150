"""modules/training in the root module's plans: the exports bucket every environment has, the operator policy that
runs `make export`, and the EMR Serverless application with its job role, only where enable_training_emr is set
(the prod/direct/vpc configuration; the others show it off by default). parliament lints every one of these
policies in test_plan_production.py's test over all plans."""

from __future__ import annotations

import json
import re

import pytest

from tests.terraform.test_plan_production import conditions, denies_insecure_transport, document, of_module

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def statements_by_sid(plan, pattern: str) -> dict[str, dict]:
    return {s["sid"]: s for s in document(plan, pattern)}


def test_the_exports_bucket_is_cmk_encrypted_versioned_private_tls_only_and_expires_what_it_holds(any_plan):
    (bucket,) = of_module(any_plan, "aws_s3_bucket", "training")
    assert re.fullmatch(rf"exports-\d{{12}}-us-east-1-{any_plan.suffix}", bucket.get("bucket"))
    (sse,) = of_module(any_plan, "aws_s3_bucket_server_side_encryption_configuration", "training")
    rule = sse.get("rule", 0)
    assert rule["bucket_key_enabled"] is True
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert sse.is_set("rule", 0, "apply_server_side_encryption_by_default", 0, "kms_master_key_id")
    (versioning,) = of_module(any_plan, "aws_s3_bucket_versioning", "training")
    assert versioning.get("versioning_configuration", 0, "status") == "Enabled"
    (block,) = of_module(any_plan, "aws_s3_bucket_public_access_block", "training")
    assert all(
        block.get(k) is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    (ownership,) = of_module(any_plan, "aws_s3_bucket_ownership_controls", "training")
    assert ownership.get("rule", 0, "object_ownership") == "BucketOwnerEnforced"
    assert denies_insecure_transport(
        document(any_plan, r"module\.training\.data\.aws_iam_policy_document\.tls_only$"), "s3:*"
    )
    (lifecycle,) = of_module(any_plan, "aws_s3_bucket_lifecycle_configuration", "training")
    rules = {r["id"]: r for r in lifecycle.get("rule")}
    for rule_id, prefix in (
        ("expire-exports", "exports/"),
        ("expire-feature-tables", "features/"),
        ("expire-job-code", "jobs/"),
    ):
        assert rules[rule_id]["filter"][0]["prefix"] == prefix and rules[rule_id]["expiration"][0]["days"] == 30
    cleanup = rules["expire-noncurrent-versions-and-uploads"]
    assert cleanup["noncurrent_version_expiration"][0]["noncurrent_days"] == 7
    assert cleanup["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1


def test_the_operator_may_export_the_table_into_the_exports_prefix_and_nothing_more(any_plan):
    by_sid = statements_by_sid(any_plan, r"module\.training\.data\.aws_iam_policy_document\.operator$")
    table = [r for r in any_plan.resources("aws_dynamodb_table") if r.get("name") == f"transactions-{any_plan.suffix}"]
    assert table
    export = by_sid["ExportTheTransactionsTable"]
    assert "dynamodb:ExportTableToPointInTime" in export["actions"] and len(export["resources"]) == 1
    writes = by_sid["WriteExportsLabelsAndJobCode"]
    assert set(writes["actions"]) == {"s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload"}
    assert all(re.search(r":::exports-\d{12}-us-east-1-.+/(exports|jobs)/\*$", r) for r in writes["resources"])
    key = by_sid["UseTheKeyThroughS3AndDynamoDB"]
    assert conditions(key)["kms:ViaService"] == (
        "StringEquals",
        ["s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"],
    )
    (policy,) = [
        r for r in any_plan.resources("aws_iam_policy") if (r.get("name") or "").startswith("training-operator-")
    ]
    assert policy.get("name") == f"training-operator-us-east-1-{any_plan.suffix}"


def test_emr_serverless_is_off_by_default(no_emr_plan):
    assert no_emr_plan.variables["enable_training_emr"] is False
    assert not no_emr_plan.resources("aws_emrserverless_application")
    assert not [r for r in no_emr_plan.resources("aws_iam_role") if (r.get("name") or "").startswith("training-job-")]
    by_sid = statements_by_sid(no_emr_plan, r"module\.training\.data\.aws_iam_policy_document\.operator$")
    assert not any(action.startswith(("emr-serverless:", "iam:")) for s in by_sid.values() for action in s["actions"])


def test_the_emr_application_runs_spark_within_a_capacity_ceiling_and_stops_when_idle(emr_plan):
    (application,) = emr_plan.resources("aws_emrserverless_application")
    assert (application.get("type"), application.get("architecture")) == ("spark", "ARM64")
    assert application.get("name") == f"training-features-{emr_plan.suffix}"
    assert re.fullmatch(r"emr-7\.\d+\.\d+", application.get("release_label"))
    assert application.get("maximum_capacity", 0, "cpu") == "64 vCPU"
    assert application.get("maximum_capacity", 0, "memory") == "256 GB"
    assert application.get("auto_stop_configuration", 0, "enabled") is True


def test_the_job_role_reads_the_exports_and_writes_only_the_feature_tables(emr_plan):
    (role,) = [r for r in emr_plan.resources("aws_iam_role") if (r.get("name") or "").startswith("training-job-")]
    trust = json.loads(role.get("assume_role_policy"))["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "emr-serverless.amazonaws.com"}]
    assert "aws:SourceAccount" in trust[0]["Condition"]["StringEquals"]
    by_sid = statements_by_sid(emr_plan, r"module\.training\.data\.aws_iam_policy_document\.job$")
    writes = [s for s in by_sid.values() if {"s3:PutObject", "s3:DeleteObject"} & set(s["actions"])]
    assert len(writes) == 1 and all(str(r).endswith("/features/*") for r in writes[0]["resources"])
    reads = by_sid["ReadExportsAndJobCode"]
    assert reads["actions"] == ["s3:GetObject"]
    assert sorted(str(r).rsplit("/", 2)[-2] for r in reads["resources"]) == ["exports", "jobs"]
    assert conditions(by_sid["UseTheKeyThroughS3"])["kms:ViaService"] == (
        "StringEquals",
        ["s3.us-east-1.amazonaws.com"],
    )
    assert not any(action.startswith("dynamodb:") for s in by_sid.values() for action in s["actions"])


def test_the_operator_hands_over_only_the_job_role_and_only_to_emr_serverless(emr_plan):
    by_sid = statements_by_sid(emr_plan, r"module\.training\.data\.aws_iam_policy_document\.operator$")
    pass_role = by_sid["HandTheJobRoleToEmrServerless"]
    assert pass_role["actions"] == ["iam:PassRole"] and len(pass_role["resources"]) == 1
    assert conditions(pass_role)["iam:PassedToService"] == ("StringEquals", ["emr-serverless.amazonaws.com"])
    assert set(by_sid["RunTheFeatureJob"]["actions"]) == {
        "emr-serverless:StartJobRun",
        "emr-serverless:GetApplication",
        "emr-serverless:StartApplication",
    }
