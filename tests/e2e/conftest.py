"""End-to-end fixtures: the deployed pipeline, in the local emulator or on AWS.

    pytest tests/e2e                                  # deploy into the emulator: the local and the prod shapes
    pytest tests/e2e --target aws --env pr-42         # a real deployment (reads its Terraform outputs)

Locally the ``pipeline`` fixture runs the real Terraform of a deployment (``DEPLOYMENTS``: a profile and a
stream routing, environments ``e2e-<name>`` under build/) with ``tools.emulator.LocalCloud``, once per test
module. A module says which deployments its tests run on with ``pytest.mark.deployments(...)`` (default: the
local profile, both routings). Before the first test, every deployment the session uses is applied side by
side (``tools.emulator.deployments``), recorded, and planned again; each module then restores its recording
in seconds. Against AWS it reads the outputs of an environment that ``make deploy`` created; tests that need
fault injection skip there.

``Pipeline.post`` signs whenever the deployment says it requires IAM (its ``api_authorization`` output: the
staging and prod profiles), with a producer role it makes in the emulator (allowed by its own IAM policy, which
is all the default resource policy asks of a principal of the account), or with the AWS credentials of the
environment on ``--target aws``; the local and dev profiles post with the API key alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.clock import DAY, NIGHT, pinned, wall_ms
from tools.api_client import Api

ANALYSIS_EVENT = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
PRODUCER_ROLE = "e2e-producer"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("e2e", "end-to-end target")
    group.addoption(
        "--target", choices=("local", "aws"), default="local", help="local emulator (default) or a real deployment"
    )
    group.addoption("--env", dest="e2e_env", metavar="SUFFIX", help="with --target aws: the environment suffix to test")


class Pipeline:
    """What a test can do to a deployed pipeline, wherever it runs."""

    def __init__(
        self,
        outputs: dict[str, Any],
        session: Any,
        cloud: Any = None,
        settle_s: float = 45.0,
        credentials: Any = None,
    ) -> None:
        self.outputs = outputs
        self.session = session
        self.cloud = cloud  # tools.emulator.LocalCloud locally, None on AWS
        self.settle_s = settle_s
        self.mode = outputs["stream_consumer"]
        self.profile = "deployed"  # locally: the profile of the local deployment
        self.api_url = cloud.api_url if cloud is not None else outputs["api_url"]
        self.api_key = outputs["api_key_value"]
        # AWS_IAM: every post is signed (SigV4) with these credentials; NONE: the API key alone.
        self.authorization = outputs.get("api_authorization", "NONE")
        self.credentials = credentials if self.signs else None
        if self.signs and self.credentials is None:
            raise ValueError("the deployment requires IAM-signed requests: give Pipeline the credentials to sign with")
        self.sqs = session.client("sqs")
        self.dynamodb = session.client("dynamodb")
        self.alerts: dict[str, dict[str, Any]] = {}  # every alert seen on the subscription, by id
        self.deliveries: dict[str, int] = {}

    @property
    def local(self) -> bool:
        return self.cloud is not None

    @property
    def signs(self) -> bool:
        """Whether the API requires IAM-signed (SigV4) requests."""
        return self.authorization == "AWS_IAM"

    def api(self, api_key: str | None = "default", credentials: Any = "default") -> Api:
        """How to post: the API key (``None``: none) and the credentials that sign (``None``: unsigned)."""
        return Api(
            url=self.api_url,
            api_key=self.api_key if api_key == "default" else api_key,
            credentials=self.credentials if credentials == "default" else credentials,
            region=self.outputs["region"],
        )

    def post(
        self, body: Any, api_key: str | None = "default", *, credentials: Any = "default", at: datetime | None = None
    ) -> tuple[int, Any]:
        """POST a transaction (or exact bytes) with the API key and, when the API requires IAM, signed
        by the pipeline's producer (``credentials``: other ones, or None for unsigned; ``at``: the
        signing time). Returns the status and the answer (JSON when it is)."""
        answer = self.api(api_key, credentials).post(body, timeout=60, at=at)
        return answer.status, answer.json()

    def items(self, transaction_id: str) -> list[dict[str, Any]]:
        """Every item of the table under this transaction id (the transaction and its claim)."""
        return self.dynamodb.query(
            TableName=self.outputs["table_name"],
            KeyConditionExpression="transaction_id = :id",
            ExpressionAttributeValues={":id": {"S": transaction_id}},
            ConsistentRead=True,
        )["Items"]

    def settle(self) -> None:
        """Let the pipeline finish what it has (locally: until idle; on AWS: a fixed wait)."""
        if self.local:
            assert self.cloud.wait_idle(quiet_s=1.0, timeout_s=120), "the pipeline did not settle"
        else:
            time.sleep(self.settle_s)

    def drain_alerts(self) -> None:
        url = self.outputs["alert_subscription_queue_url"]
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if self.local else 2
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                envelope = json.loads(message["Body"])
                alert = json.loads(envelope["Message"]) if "Message" in envelope else envelope
                self.alerts.setdefault(alert["alert_id"], alert)
                self.deliveries[alert["alert_id"]] = self.deliveries.get(alert["alert_id"], 0) + 1
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for_alert(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 120
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            self.drain_alerts()
            found = [a for a in self.alerts.values() if predicate(a)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                return None
            if self.local:
                self.cloud.wait_idle(quiet_s=0.5, timeout_s=2)
            else:
                time.sleep(2)

    def transaction_alerts(self, transaction_id: str) -> list[dict[str, Any]]:
        self.drain_alerts()
        return [
            a
            for a in self.alerts.values()
            if a.get("kind") == "transaction" and a["transaction"]["transaction_id"] == transaction_id
        ]

    def run_analysis(self, minutes_later: int = 0) -> None:
        """Run analyze-patterns as its schedule would now, or ``minutes_later``: its window is the minutes
        before, on the time transactions were received (the wall clock, not the traffic's)."""
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall_ms() / 1000 + 60 * minutes_later))
        event = {**ANALYSIS_EVENT, "id": str(uuid.uuid4()), "time": at}
        if self.local:
            from tools.emulator.integrations.async_invoke import AsyncInvocations

            invocations = self.cloud.integration(AsyncInvocations)
            invocations.submit(self.cloud.runtime.function("analyze-patterns").arn, event)
        else:
            self.session.client("lambda").invoke(
                FunctionName=self.outputs["function_names"]["analyze-patterns"],
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )

    def queue_depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def tally(self) -> dict[str, int]:
        """Locally, what each stage has done so far (compare two tallies around a test's traffic):
        ``posted`` (POSTs answered 201), ``stored`` (transaction items in the table), ``scored``
        (records detect-fraud processed), ``alerted`` (SNS publishes notify-team made)."""
        assert self.local, "the tally reads the emulator's counters"
        names = self.outputs["function_names"]
        stored = sum(
            page["Count"]
            for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=self.outputs["table_name"],
                FilterExpression="#k = :t",
                ExpressionAttributeNames={"#k": "kind"},
                ExpressionAttributeValues={":t": {"S": "transaction"}},
                Select="COUNT",
            )
        )
        return {
            "posted": self.cloud.counters().get("rest-api", {}).get("responses", {}).get(201, 0),
            "stored": stored,
            "scored": self.cloud.ledger[(names["detect-fraud"], "ok")],
            "alerted": self.cloud.calls("sns", "Publish", function=names["notify-team"]),
        }


def _local_pipeline(name: str) -> Iterator[Pipeline]:
    from tools._cli import BUILD
    from tools.emulator import LocalCloud
    from tools.emulator.demo import deploy
    from tools.emulator.iam import create_invoker
    from tools.emulator.localaws import LocalAWS

    shape = DEPLOYMENTS[name]
    deployment = shape.deployment(name)
    with LocalAWS() as aws:
        outputs, _ = deploy(aws, shape.routing, suffix=deployment.suffix, profile=shape.profile)
        # Time runs 120x faster for waits (SQS visibility 360 s -> 3 s); schedules run only when triggered.
        with LocalCloud(
            aws,
            outputs,
            log_dir=BUILD / deployment.suffix / "logs",
            time_scale=120.0,
            schedule_time_scale=None,
            max_sandboxes=shape.max_sandboxes,
            index_lag_s=shape.index_lag_s,
        ) as cloud:
            credentials = None
            if outputs.get("api_authorization") == "AWS_IAM":
                credentials = create_invoker(cloud.session, PRODUCER_ROLE, outputs["api_invoke_resource_arn"])
            pipeline = Pipeline(outputs, cloud.session, cloud, credentials=credentials)
            pipeline.profile = shape.profile
            yield pipeline
            assert not cloud.errors(), cloud.errors()
            assert not cloud.network_failures(), "calls without a network path:\n" + "\n".join(cloud.network_failures())


def _aws_pipeline(suffix: str) -> Iterator[Pipeline]:
    import boto3

    outputs = deployed_outputs(suffix)
    session = boto3.Session(region_name=outputs["region"])
    # The environment's own credentials sign (they must be a principal api_invoke_principals allows).
    yield Pipeline(outputs, session, credentials=session.get_credentials())


def deployed_outputs(suffix: str) -> dict[str, Any]:
    """The Terraform outputs of a deployed environment (initialising its working directory if needed)."""
    from tools._cli import ToolError
    from tools.deploy.tf import Stack

    stack = Stack(suffix)
    try:
        if not (stack.dir / ".terraform").is_dir():
            stack.init()
        outputs = stack.outputs()
    except ToolError as error:
        pytest.fail(f"cannot read the Terraform outputs of {suffix} (deployed with make deploy ENV={suffix}?): {error}")
    if "api_url" not in outputs:
        pytest.fail(f"environment {suffix} has no outputs: deploy it first (make deploy ENV={suffix})")
    return outputs


@dataclass(frozen=True)
class Shape:
    """One local deployment the e2e tests run on: a profile, a stream routing, what AWS does to it."""

    profile: str
    routing: str
    clock: str  # the time of day its traffic runs at (tests/clock.py): each test runs at night and by day
    index_lag_s: float = 0.0  # how far the global secondary indexes trail the table, at most
    max_sandboxes: int = 4  # per function (the prod profile reserves more: at least 4 score at once)
    suffix: str | None = None  # the environment (default e2e-<name>)

    def deployment(self, name: str) -> Any:
        from tools.emulator.deployments import Deployment

        return Deployment(self.suffix or f"e2e-{name}", self.profile, self.routing)


DEPLOYMENTS = {
    "eventbridge": Shape("local", "eventbridge", NIGHT),
    "direct": Shape("local", "direct", DAY),
    # What production runs: VPC with its endpoints and security groups, reservations, indexes that lag.
    "prod-eventbridge": Shape("prod", "eventbridge", DAY, index_lag_s=2.0),
    "prod-direct": Shape("prod", "direct", NIGHT, index_lag_s=2.0),
    # Applied and planned again only (test_deployments.py): every profile is stable after its apply.
    "dev": Shape("dev", "eventbridge", DAY),
    "staging": Shape("staging", "direct", NIGHT),
    # make demo PROFILE=prod's own environment (test_demo.py runs the demo on it).
    "demo-prod": Shape("prod", "eventbridge", DAY, suffix="local-prod"),
}
LOCAL = ("eventbridge", "direct")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deployments(*names): the e2e deployments (tests/e2e/conftest.py DEPLOYMENTS) a module runs on"
    )


def deployments_of(node: Any) -> tuple[str, ...]:
    marker = node.get_closest_marker("deployments")
    names = tuple(marker.args) if marker is not None else LOCAL
    unknown = [name for name in names if name not in DEPLOYMENTS]
    assert not unknown, f"unknown e2e deployments {unknown}: choose from {sorted(DEPLOYMENTS)}"
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture in ("pipeline", "deployment"):
        if fixture in metafunc.fixturenames:
            names = deployments_of(metafunc.definition)
            metafunc.parametrize(fixture, names, indirect=True, scope="module", ids=names)
            return


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, prepared: None) -> Any:
    """A local deployment the session prepared (applied, recorded, planned again), by the parameter's name."""
    if request.config.getoption("--target") != "local":
        pytest.skip("the local deployments are prepared in the emulator")
    return DEPLOYMENTS[request.param].deployment(request.param)


@pytest.fixture(scope="session")
def prepared(request: pytest.FixtureRequest, terraform_bin: str) -> None:
    """Every local deployment the session's tests use, applied side by side and recorded (once per session)."""
    if request.config.getoption("--target") != "local":
        return
    from tools.emulator.deployments import prepare

    used = {
        name
        for item in request.session.items
        if {"pipeline", "deployment"} & set(item.fixturenames)
        for name in deployments_of(item)
    }
    prepare([DEPLOYMENTS[name].deployment(name) for name in sorted(used)])


@pytest.fixture(scope="module")
def pipeline(request: pytest.FixtureRequest, prepared: None) -> Iterator[Pipeline]:
    """The deployed pipeline; locally the deployment the parameter names, on AWS the one --env names."""
    with pinned(DEPLOYMENTS[request.param].clock):
        yield from _pipeline(request)


def _pipeline(request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    if request.config.getoption("--target") == "aws":
        suffix = request.config.getoption("e2e_env")
        if not suffix:
            pytest.fail("--target aws needs --env <suffix> (an environment deployed with make deploy)")
        # The mode is the deployment's own: run the suite once, under the matching local parameter.
        deployed = deployed_outputs(suffix)["stream_consumer"]
        if request.param != deployed:
            pytest.skip(f"environment {suffix} uses stream_consumer={deployed}")
        yield from _aws_pipeline(suffix)
        return
    yield from _local_pipeline(request.param)


@pytest.fixture
def local_pipeline(pipeline: Pipeline) -> Pipeline:
    """The pipeline, for tests that inject faults: they need the emulator and skip on AWS."""
    if not pipeline.local:
        pytest.skip("fault injection needs the local emulator (it cannot take SNS down on AWS)")
    return pipeline


@pytest.fixture
def new_id() -> Callable[[str], str]:
    run = uuid.uuid4().hex[:8]

    def make(prefix: str) -> str:
        return f"e2e-{run}-{prefix}"

    return make
