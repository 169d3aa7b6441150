"""``LocalCloud``: runs a deployment that Terraform applied into the moto server.

    with LocalAWS() as aws:
        Stack("local", env=aws.env()).apply(plan=False)
        with LocalCloud(aws.endpoint, aws.region, Stack("local").outputs()) as cloud:
            requests.post(cloud.api_url, headers={"x-api-key": cloud.api_key}, json=...)
            cloud.wait_idle()

It reads the deployed topology back from the emulator (``topology.read_topology``) and starts what
moto stores but does not run: the Lambda runtime, the API front door, the pipes, rules, event
source mappings and schedules. Nothing about this project's resources is written here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3

from tools.emulator.faults import ServiceProxy
from tools.emulator.frontdoor import FrontDoor
from tools.emulator.plumbing import (
    Activity,
    AsyncInvoker,
    Destinations,
    EventBus,
    Ledger,
    QueueMapping,
    Scheduler,
    StreamMapping,
    StreamPipe,
)
from tools.emulator.runtime import LambdaRuntime
from tools.emulator.topology import Topology, read_topology

log = logging.getLogger("emulator")

TEST_CREDENTIAL = "test"
DEFAULT_TIME_SCALE = 60.0


class EndpointSession(boto3.Session):
    """A boto3 session whose clients all talk to one endpoint (the moto server)."""

    def __init__(self, endpoint: str, region: str) -> None:
        super().__init__(aws_access_key_id=TEST_CREDENTIAL, aws_secret_access_key=TEST_CREDENTIAL, region_name=region)
        self.endpoint = endpoint

    def client(self, service_name: str, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().client(service_name, **kwargs)


def detach_moto_mappings(account: str, region: str) -> None:
    """Stop moto from running event source mappings inline.

    moto's SQS ``send_message`` and DynamoDB stream writes call the mapped function themselves (in a
    Docker container this machine does not have): a failed attempt still counts a receive, and a
    stream shard is emptied after a delivery. The mappings stay deployed (``ListEventSourceMappings``
    is unchanged); only moto's inline hooks on the queue and the table are removed, and the emulator's
    own pollers run them instead.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[account][region].queues.values():
        queue.lambda_event_source_mappings.clear()
    for table in dynamodb_backends[account][region].tables.values():
        table.lambda_event_source_mappings.clear()


class LocalCloud:
    """The running pipeline.

    ``time_scale`` divides AWS's waiting times (SQS visibility timeout, async retry back-off);
    ``schedule_time_scale`` divides schedule rates (None: schedules run only when triggered).
    """

    def __init__(
        self,
        endpoint: str,
        region: str,
        outputs: Mapping[str, Any],
        *,
        log_dir: Path,
        time_scale: float = DEFAULT_TIME_SCALE,
        schedule_time_scale: float | None = DEFAULT_TIME_SCALE,
        fault_services: tuple[str, ...] = ("sns",),
        api_port: int = 0,
        max_sandboxes: int = 4,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.outputs = dict(outputs)
        self.log_dir = log_dir
        self.time_scale = time_scale
        self.schedule_time_scale = schedule_time_scale
        self.fault_services = fault_services
        self.api_port = api_port
        self.max_sandboxes = max_sandboxes
        self.session = EndpointSession(endpoint, region)
        self.topology: Topology | None = None
        self.proxies: dict[str, ServiceProxy] = {}
        self.pollers: list[Any] = []
        self.buses: dict[str, EventBus] = {}
        self.front_door: FrontDoor | None = None
        self.scheduler: Scheduler | None = None
        self.activity = Activity()
        self.ledger = Ledger()

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        topology = self.topology = read_topology(self.session, self.outputs)
        detach_moto_mappings(topology.account, topology.region)
        for service in self.fault_services:
            self.proxies[service] = ServiceProxy(service, self.endpoint).start()
        overrides = {proxy.env_var: proxy.endpoint for proxy in self.proxies.values()}
        aws_env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": TEST_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIAL,
            "AWS_SESSION_TOKEN": TEST_CREDENTIAL,
        }
        self.runtime = LambdaRuntime(
            topology,
            aws_env,
            self.log_dir,
            env_overrides={name: overrides for name in topology.functions},
            max_sandboxes=self.max_sandboxes,
        )
        self.runtime.warm()
        self.destinations = Destinations(self.session, topology)
        self.invoker = AsyncInvoker(self.runtime, self.destinations, self.activity, self.ledger, self.time_scale)
        by_bus: dict[str, list[Any]] = {}
        for rule in topology.rules:
            by_bus.setdefault(rule.bus, []).append(rule)
        for pipe in topology.pipes:
            by_bus.setdefault(_bus_name(pipe.target_arn), [])
        for name, rules in by_bus.items():
            self.buses[name] = EventBus(name, rules, topology, self.invoker, self.destinations)
        self.destinations.buses = self.buses
        for pipe in topology.pipes:
            if pipe.running:
                self.pollers.append(
                    StreamPipe(pipe, self.session, self.buses[_bus_name(pipe.target_arn)], self.activity)
                )
        for mapping in topology.mappings:
            if not mapping.enabled:
                continue
            if mapping.service == "sqs":
                self.pollers.append(
                    QueueMapping(mapping, self.session, self.runtime, self.activity, self.ledger, self.time_scale)
                )
            elif mapping.service == "dynamodb":
                self.pollers.append(
                    StreamMapping(mapping, self.session, self.runtime, self.destinations, self.activity, self.ledger)
                )
            else:
                log.warning("event source mapping %s on %s is not emulated", mapping.uuid, mapping.source_arn)
        self.scheduler = Scheduler(topology.schedules, topology, self.invoker, self.activity, self.schedule_time_scale)
        self.pollers.append(self.scheduler)
        for poller in self.pollers:
            poller.start()
        if topology.api is not None:
            self.front_door = FrontDoor(
                topology.api, self.runtime, topology.account, topology.region, self.api_port
            ).start()

    def close(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        if self.front_door is not None:
            self.front_door.close()
        if getattr(self, "invoker", None) is not None:
            self.invoker.close()
        if getattr(self, "runtime", None) is not None:
            self.runtime.close()
        for proxy in self.proxies.values():
            proxy.close()

    # -- what callers use ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The local URL of the deployed ``api_url`` output (same stage and path)."""
        if self.front_door is None:
            raise RuntimeError("the deployment has no REST API")
        deployed = self.outputs.get("api_url", "")
        path = (
            deployed.split(f"/{self.front_door.api.stage}", 1)[1]
            if f"/{self.front_door.api.stage}/" in deployed
            else ""
        )
        return self.front_door.url(path)

    @property
    def api_key(self) -> str:
        return self.outputs["api_key_value"]

    @property
    def last_success(self) -> dict[str, float]:
        return self.ledger.last_success

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def outage(self, service: str) -> Any:
        """Context manager: the functions' calls to ``service`` fail with 503 inside it."""
        return self.proxies[service].outage()

    def trigger_schedule(self, target: str) -> None:
        """Run now the schedule(s) of a function (a key like ``analyze-patterns``, a name or an ARN)."""
        assert self.scheduler is not None
        self.scheduler.trigger(target)

    def backlog(self) -> int:
        """Messages waiting in the queues that functions consume (visible or waiting for a retry)."""
        return sum(p.backlog() for p in self.pollers if isinstance(p, QueueMapping))

    def counters(self) -> dict[str, Any]:
        """What each part of the plumbing has done so far (for a summary that does not reconcile)."""
        parts: dict[str, Any] = {}
        for poller in self.pollers:
            if isinstance(poller, StreamPipe):
                parts[poller.name] = {
                    "read": poller.read_count,
                    "filtered_out": poller.filtered_out,
                    "sent": poller.sent,
                }
            elif isinstance(poller, StreamMapping):
                parts[poller.name] = {
                    "invocations": poller.invocations,
                    "filtered_out": poller.filtered_out,
                    "failed_batches": poller.failed_batches,
                }
            elif isinstance(poller, QueueMapping):
                parts[poller.name] = {"invocations": poller.invocations, "failed_messages": poller.failed_messages}
        for name, bus in self.buses.items():
            parts[f"bus:{name}"] = {"put": bus.put_count, "matched": dict(bus.matched)}
        parts["functions"] = self.runtime.stats()
        parts["destinations"] = dict(self.destinations.sent)
        return parts

    def errors(self) -> list[str]:
        """Failures of the emulator's own pollers (not of the functions)."""
        return [f"{p.name}: {p.error!r}" for p in self.pollers if p.error is not None]

    def wait_idle(self, quiet_s: float = 1.0, timeout_s: float = 120.0) -> bool:
        """Wait until nothing has moved for ``quiet_s`` (counted from this call at the earliest, so
        every poller has looked again) and no consumed queue holds a message. False on timeout."""
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self.activity.idle_for(since=started) >= quiet_s and self.backlog() == 0:
                return True
            time.sleep(0.1)
        return False


def _bus_name(arn: str) -> str:
    # arn:aws:events:REGION:ACCOUNT:event-bus/NAME
    return arn.split(":event-bus/", 1)[1]
