"""The production shape in the local cloud: what only the prod profile has, proven as deployed.

The prod deployments (``prod-eventbridge``, ``prod-direct`` in conftest.py) run the real Terraform of the prod
profile: the functions in private subnets that reach AWS only through the VPC endpoints their security groups
allow (``tools.emulator.network``), reserved concurrency with several sandboxes scoring at once, user indexes
that trail the table (``index_lag_s``). The pipeline tests (test_pipeline.py, test_live_equals_backtest.py) run
on them too; these are the behaviours only this shape has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from fraud.model_store import TRANSIENT_RETRY_S
from tests.e2e.test_faults import FunctionLog, failure_queue, failure_records, invoker
from tests.e2e.test_pipeline import fraud_after_history, post_all, transaction

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.deployments("prod-eventbridge", "prod-direct"),
]


def function_name(pipeline: Pipeline, key: str) -> str:
    return str(pipeline.outputs["function_names"][key])


def test_every_function_runs_in_the_vpc_and_reaches_what_it_calls_through_the_endpoints(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    lam = pipeline.session.client("lambda")
    for key in pipeline.outputs["function_names"]:
        config = lam.get_function_configuration(FunctionName=function_name(pipeline, key))
        assert len(config["VpcConfig"]["SubnetIds"]) == 2 and config["VpcConfig"]["SecurityGroupIds"], key

    fraud = fraud_after_history(pipeline, new_id, "vpc")
    post_all(pipeline, [fraud])
    assert pipeline.wait_for_alert(
        lambda a: a.get("kind") == "transaction" and a["transaction"]["transaction_id"] == fraud["transaction_id"]
    ), "scored with the model from S3, queued, published: every hop through an endpoint"
    assert cloud.network_failures() == []


def test_without_the_s3_endpoint_detect_fraud_fails_rather_than_score_without_its_model_and_loses_nothing(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    """Remove the S3 gateway endpoint: a sandbox that has not loaded the live model cannot fetch it (the call is
    never answered, as with no route on AWS), fails the record after its client's timeouts instead of scoring with
    the rules alone, and the failure names the function and the service. Put back, `make replay` scores it."""
    from tools.deploy.replay import Replayer

    pipeline, cloud = local_pipeline, local_pipeline.cloud
    detect = function_name(pipeline, "detect-fraud")
    ec2 = pipeline.session.client("ec2")
    [endpoint] = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["ServiceName"].endswith(".s3")]
    key, queue = failure_queue(pipeline)
    body = transaction(new_id("no-s3"), new_id("no-s3-user"))
    failures_before = failure_records(pipeline)
    log = FunctionLog(pipeline, "detect-fraud")

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    cloud.network.refresh()
    cloud.runtime.update_configuration(detect, environment={})  # new sandboxes: no model loaded yet
    try:
        post_all(pipeline, [body])
        pipeline.settle()
        unreachable = cloud.network_failures()
        unscored = body["transaction_id"] not in log.decisions()
        unavailable = log.metric("ModelUnavailable")
        held = pipeline.queue_depth(queue)
    finally:
        ec2.create_vpc_endpoint(
            VpcId=endpoint["VpcId"],
            ServiceName=endpoint["ServiceName"],
            VpcEndpointType="Gateway",
            RouteTableIds=endpoint["RouteTableIds"],
            PolicyDocument=endpoint["PolicyDocument"],
        )
        cloud.network.refresh()
        cloud.network.forget_failures()

    assert any(
        line.startswith(f"{detect} could not reach s3") and "no gateway or interface endpoint" in line
        for line in unreachable
    ), unreachable
    assert unscored, "never scored by the rules alone in place of the configured model"
    assert unavailable >= 1, "ModelUnavailable counted (alarmed)"
    assert held == 1 and failure_records(pipeline) - failures_before == 1, f"the record is in {key} after its retries"

    time.sleep(TRANSIENT_RETRY_S)  # a sandbox reads the artifact again this long after a transient failure
    replayed = Replayer(cloud.session, pipeline.outputs["suffix"], invoke=invoker(pipeline)).replay([key])
    pipeline.settle()
    assert [o.ok for o in replayed.outcomes] == [True]
    decision = log.decisions()[body["transaction_id"]]
    pointer = json.loads(
        pipeline.session.client("ssm").get_parameter(Name=pipeline.outputs["model_parameter_name"])["Parameter"][
            "Value"
        ]
    )
    assert decision["model_version"] == pointer["live"]["version"], "scored with the live model once it could be read"
    assert pipeline.queue_depth(queue) == 0


def test_a_cold_scale_out_within_parameter_stores_quota_fails_no_invocation(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    """Parameter Store allows about 40 requests a second per account; 100 sandboxes starting at once that read
    three parameters each would go over it. Each cold sandbox reads its documents in one GetParameters call, and
    what the quota refuses is retried by the client: a scale-out under a quota as tight, for 4 sandboxes, as 40 a
    second is for 100 loses nothing and scores every transaction. A sandbox whose reads the quota refused on every
    attempt (the jittered retries of several sandboxes can keep colliding; how often depends on the machine's
    load) fails its invocation on the throttle, never on anything else, and the platform retries it."""
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    detect = function_name(pipeline, "detect-fraud")
    stats = cloud.runtime.stats
    before = stats()[detect]
    calls_before = {action: cloud.calls("ssm", action, function=detect) for action in ("GetParameter", "GetParameters")}
    failures_before = failure_records(pipeline)
    log = FunctionLog(pipeline, "detect-fraud")
    bodies = [
        transaction(new_id(f"burst-{i}"), new_id(f"burst-user-{i % 4}"), amount=20 + i, channel="online")
        for i in range(16)
    ]

    cloud.runtime.update_configuration(detect, environment={})  # every sandbox cold
    quota = cloud.throttle("ssm", per_second=1.6)  # 40 a second for 100 sandboxes = 1.6 for 4
    try:
        with ThreadPoolExecutor(max_workers=8) as clients:
            statuses = list(clients.map(lambda body: pipeline.post(body)[0], bodies))
        pipeline.settle()
    finally:
        cloud.clear_fault(quota)

    after = stats()[detect]
    cold = [e for e in log.entries() if e.get("cold_start") and e.get("message") == "Transaction scored"]
    reads = {action: cloud.calls("ssm", action, function=detect) - n for action, n in calls_before.items()}
    scored = {e["transaction_id"] for e in log.messages("Transaction scored")}
    failed = after["errors"] - before["errors"]
    error_types = {e["errorType"] for e in log.entries() if "errorType" in e}
    assert statuses == [201] * len(bodies)
    assert scored >= {b["transaction_id"] for b in bodies}, "every transaction scored"
    assert failure_records(pipeline) == failures_before, "nothing lost"
    assert error_types <= {"ThrottlingException"}, (
        f"an invocation failed on something else than the quota: {error_types}"
    )
    assert len(cold) >= 2, "several sandboxes started cold at once"
    # One GetParameters per cold sandbox, and one more per invocation the quota failed (its retry reads again; a
    # sandbox whose reads the quota kept refusing found the documents in their history instead): never the three
    # GetParameter calls of one document at a time.
    assert reads["GetParameters"] <= len(cold) + failed and reads["GetParameter"] == 0, (reads, failed)
    assert quota.hits + quota.passed >= len(cold), "the quota saw every cold sandbox's read"


def test_an_unreadable_shadow_rules_document_means_no_shadow_never_a_failed_live_score(
    local_pipeline: Pipeline, new_id: Callable[[str], str]
) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    detect = function_name(pipeline, "detect-fraud")
    log = FunctionLog(pipeline, "detect-fraud")
    before = cloud.runtime.stats()[detect]["errors"]
    missing = {"SHADOW_RULES_PARAMETER_NAME": pipeline.outputs["rules_parameter_name"] + "-missing"}
    former = cloud.runtime.update_configuration(detect, environment=missing)
    try:
        body = transaction(new_id("no-shadow"), new_id("no-shadow-user"))
        post_all(pipeline, [body])
        pipeline.settle()
    finally:
        cloud.runtime.update_configuration(detect, **former)
    decision: dict[str, Any] = log.decisions()[body["transaction_id"]]
    assert "shadow" not in decision, "scored live, without a shadow"
    assert cloud.runtime.stats()[detect]["errors"] == before
    assert log.metric("ShadowRulesFallback") >= 1
