"""Submitting the feature job to EMR Serverless, against moto. moto stores the application and the job run and runs
nothing, so this proves the request (botocore validates it against the service model), where the job code goes
and what it is told to read and write, and how the tool follows the run to its end; not that EMR runs the job
(the job itself is tested in local mode, test_job.py)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.emrserverless.models import emrserverless_backends

from tools._cli import ToolError
from tools.training import features

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def emr(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, Any]]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket="exports-t")
        application = session.client("emr-serverless").create_application(
            name="training-features-t", releaseLabel="emr-7.5.0", type="SPARK"
        )["applicationId"]
        outputs = {
            "exports_bucket_name": "exports-t",
            "training_emr_application_id": application,
            "training_job_role_arn": f"arn:aws:iam::{ACCOUNT}:role/training-job-us-east-1-t",
        }
        yield session, outputs


def test_the_job_run_reads_the_export_chain_and_writes_the_feature_table_of_the_bucket(emr: Any) -> None:
    session, outputs = emr
    name = "20261101T000000Z-full"
    started = features.submit_emr(session, outputs, name, chunk_rows=5000, exports=[name])
    job_run = session.client("emr-serverless").get_job_run(
        applicationId=started["application_id"], jobRunId=started["job_run_id"]
    )["jobRun"]
    driver = job_run["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == f"s3://exports-t/jobs/{name}/job.py"
    arguments = driver["entryPointArguments"]
    assert arguments[arguments.index("--export") + 1] == f"s3://exports-t/exports/{name}"
    assert arguments[arguments.index("--labels") + 1] == f"s3://exports-t/exports/{name}/labels/labels.jsonl.gz"
    assert arguments[arguments.index("--output") + 1] == started["output"] == f"s3://exports-t/features/{name}"
    assert f"spark.submit.pyFiles=s3://exports-t/jobs/{name}/job.zip" in driver["sparkSubmitParameters"]
    assert job_run["executionRole"] == outputs["training_job_role_arn"]
    code = session.client("s3").get_object(Bucket="exports-t", Key=f"jobs/{name}/job.zip")["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(code)).namelist()
    assert {"fraud/features.py", "fraud/history.py", "fraud/rules.default.json", "tools/training/labels.py"} <= set(
        names
    )
    assert code == features.job_zip()  # the same code, the same bytes


def test_the_tool_follows_the_run_until_it_ends(emr: Any, capsys: pytest.CaptureFixture[str]) -> None:
    session, outputs = emr
    started = features.submit_emr(session, outputs, "20261101T000000Z-full")
    runs = emrserverless_backends[ACCOUNT][REGION].job_runs[started["application_id"]]
    runs[0].state = "RUNNING"  # moto stores a new run as SUCCESS; a real one starts PENDING, then RUNNING
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the run ends after the second poll
        polls.append(seconds)
        if len(polls) == 2:
            runs[0].state = "SUCCESS"

    final = features.follow_emr(session, started["application_id"], started["job_run_id"], interval=5, sleep=sleep)
    assert final["state"] == "SUCCESS" and polls == [5, 5]
    assert f"job run {started['job_run_id']}: SUCCESS" in capsys.readouterr().err


def test_an_environment_without_the_application_is_told_how_to_get_one(emr: Any) -> None:
    session, outputs = emr
    with pytest.raises(ToolError, match="enable_training_emr"):
        features.submit_emr(session, {**outputs, "training_emr_application_id": None}, "x")
