"""``LocalCloud``: runs a deployment that Terraform applied into the moto server.

    with LocalAWS() as aws:
        Stack("local", env=aws.env()).apply(plan=False)
        with LocalCloud(aws, Stack("local").outputs(), log_dir=Path("build/logs")) as cloud:
            requests.post(cloud.api_url, headers={"x-api-key": cloud.api_key}, json=...)
            cloud.wait_idle()

It reads the deployed functions back from the emulator (``topology.read_topology``), starts the
Lambda runtime, then every integration of ``tools.emulator.integrations.INTEGRATIONS`` (each reads
its own part of the deployment: pipes, buses and rules, event source mappings, schedules, the REST
API, log shipping) and runs what moto stores but does not run. Nothing about this project's
resources is written here.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import boto3

from tools.emulator import inprocess, moto_dynamodb
from tools.emulator.faults import Fault
from tools.emulator.integrations import INTEGRATIONS, Context, Integration
from tools.emulator.integrations.async_invoke import AsyncInvocations
from tools.emulator.integrations.rest_api import RestApis
from tools.emulator.integrations.schedules import Schedules
from tools.emulator.network import Network
from tools.emulator.runtime import LambdaRuntime
from tools.emulator.topology import Topology, read_topology

log = logging.getLogger("emulator")

TEST_CREDENTIAL = "test"
DEFAULT_TIME_SCALE = 60.0

I = TypeVar("I", bound=Integration)  # noqa: E741


class EndpointSession(boto3.Session):
    """A boto3 session whose clients all talk to one endpoint (the moto server)."""

    def __init__(self, endpoint: str, region: str, *, in_process: bool = True) -> None:
        super().__init__(aws_access_key_id=TEST_CREDENTIAL, aws_secret_access_key=TEST_CREDENTIAL, region_name=region)
        self.endpoint = endpoint
        self.in_process = in_process

    def client(self, service_name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        client = super().client(service_name, **kwargs)
        # In the process that runs moto, no socket is needed (tools.emulator.inprocess).
        return inprocess.use_in_process(client, kwargs["endpoint_url"]) if self.in_process else client


def detach_moto_mappings(account: str, region: str) -> None:
    """Stop moto from running event source mappings inline.

    moto's SQS ``send_message`` and DynamoDB stream writes call the mapped function themselves (in a
    Docker container this machine does not have): a failed attempt still counts a receive, and a
    stream shard is emptied after a delivery. The mappings stay deployed (``ListEventSourceMappings``
    is unchanged); only moto's inline hooks on the queue and the table are removed, and the emulator's
    own integrations run them instead.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[account][region].queues.values():
        queue.lambda_event_source_mappings.clear()
    for table in dynamodb_backends[account][region].tables.values():
        table.lambda_event_source_mappings.clear()


def freeze_heap() -> None:
    """Take what this process holds now (moto's restored state, botocore's service models, the
    topology) out of the garbage collector's full collections. A full collection walks every object
    and holds the interpreter meanwhile: with the deployment loaded it paused the emulator (moto
    included) for a quarter of a second, with a pre-loaded table of 100,000 transactions for a
    second. Frozen objects are still freed when nothing refers to them; only cycles among them stay."""
    gc.collect()
    gc.freeze()


class LongLived:
    """While a local cloud runs, what survives a full collection is frozen after it (``gc.freeze``), so
    the next full collection walks only what arrived since: the items, stream records and log lines a
    running pipeline keeps adding stay out of the collections that follow, as ``freeze_heap`` keeps what
    was there at start. Every ``THAW_S`` the frozen objects are let go once (``gc.unfreeze``), so that the
    full collection after it also frees the reference cycles among them that died meanwhile (frozen objects
    are still freed when nothing refers to them): one walk of the whole heap every ``THAW_S``. One callback
    for the process, whatever the number of local clouds (``acquire`` and ``release``)."""

    THAW_S = 600.0

    def __init__(self) -> None:
        self.users = 0
        self.thawed = time.monotonic()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        if time.monotonic() - self.thawed >= self.THAW_S:
            gc.unfreeze()  # the next full collection walks everything once
            self.thawed = time.monotonic()
        else:
            gc.freeze()

    def acquire(self) -> None:
        if self.users == 0:
            self.thawed = time.monotonic()
            gc.callbacks.append(self)
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self in gc.callbacks:
            gc.callbacks.remove(self)


LONG_LIVED = LongLived()


class LocalCloud:
    """The running pipeline.

    ``aws`` is the running ``LocalAWS``; ``time_scale`` divides AWS's waiting times (SQS visibility
    timeout, retry back-off); ``schedule_time_scale`` divides schedule rates (None: schedules run
    only when triggered); ``index_lag_s``: how far behind the table each global secondary index is, at
    most (a new entry shows after a random time up to it; 0: at once); ``max_sandboxes``: per function;
    ``sandbox_python``: the interpreter the sandboxes run (its site-packages stand in for the Lambda runtime and
    layer; by default this process's).
    """

    def __init__(
        self,
        aws: Any,
        outputs: Mapping[str, Any],
        *,
        log_dir: Path,
        time_scale: float = DEFAULT_TIME_SCALE,
        schedule_time_scale: float | None = DEFAULT_TIME_SCALE,
        api_port: int = 0,
        max_sandboxes: int = 4,
        index_lag_s: float = 0.0,
        sandbox_python: str | None = None,
    ) -> None:
        self.aws = aws
        self.endpoint = aws.endpoint
        self.region = aws.region
        self.gateway = aws.gateway
        self.outputs = dict(outputs)
        self.log_dir = log_dir
        self.time_scale = time_scale
        self.schedule_time_scale = schedule_time_scale
        self.api_port = api_port
        self.max_sandboxes = max_sandboxes
        self.index_lag_s = index_lag_s
        self.sandbox_python = sandbox_python
        self.session = EndpointSession(self.endpoint, self.region)
        self.topology: Topology | None = None
        self.runtime: LambdaRuntime | None = None
        self.network: Network | None = None
        self.ctx: Context | None = None
        self.integrations: list[Integration] = []
        self._started: list[Integration] = []
        self._long_lived = False  # holds LONG_LIVED while started

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
        moto_dynamodb.set_index_lag(self.index_lag_s)
        topology = self.topology = read_topology(self.session, self.outputs)
        detach_moto_mappings(topology.account, topology.region)
        aws_env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": TEST_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIAL,
            "AWS_SESSION_TOKEN": TEST_CREDENTIAL,
        }
        self.runtime = LambdaRuntime(
            topology, aws_env, self.log_dir, max_sandboxes=self.max_sandboxes, python=self.sandbox_python
        )
        self.network = Network(self.session, topology.functions)
        self.gateway.attach_runtime(self.runtime.caller, self.runtime.crash, self.network.blocked)
        self.runtime.warm()
        self.ctx = Context(
            session=self.session,
            topology=topology,
            runtime=self.runtime,
            time_scale=self.time_scale,
            schedule_time_scale=self.schedule_time_scale,
            api_port=self.api_port,
            log_dir=self.log_dir,
        )
        self.integrations = [integration(self.ctx) for integration in INTEGRATIONS]
        for integration in self.integrations:
            integration.start()
            self._started.append(integration)
        freeze_heap()
        LONG_LIVED.acquire()
        self._long_lived = True

    def close(self) -> None:
        if self._long_lived:
            LONG_LIVED.release()
            self._long_lived = False
        for integration in reversed(self._started):
            try:
                integration.stop()
            except Exception:
                log.exception("%s: stopping failed", integration.name)
        self._started.clear()
        if self.runtime is not None:
            self.runtime.close()
        self.gateway.detach_runtime()
        moto_dynamodb.set_index_lag(0.0)

    # -- what callers use ----------------------------------------------------------------------------

    def integration(self, kind: type[I]) -> I:
        """The running integration of a kind (e.g. ``cloud.integration(Schedules)``)."""
        for integration in self.integrations:
            if isinstance(integration, kind):
                return integration
        raise KeyError(f"no {kind.__name__} integration")

    @property
    def ledger(self) -> Any:
        assert self.ctx is not None
        return self.ctx.ledger

    @property
    def activity(self) -> Any:
        assert self.ctx is not None
        return self.ctx.activity

    @property
    def api_url(self) -> str:
        """The local URL of the deployed ``api_url`` output (same stage and path)."""
        return self.local_url(self.outputs.get("api_url", ""))

    def local_url(self, deployed_url: str) -> str:
        """The local URL of a deployed invoke URL of one of the deployment's REST APIs (same stage and path),
        e.g. the console's base URL or an alert e-mail's link to a case."""
        rest = self.integration(RestApis)
        if not rest.deployed:
            raise RuntimeError("the deployment has no REST API")
        return rest.url(deployed_url)

    @property
    def api_key(self) -> str:
        return self.outputs["api_key_value"]

    @property
    def last_success(self) -> dict[str, float]:
        return self.ledger.last_success

    @property
    def discarded(self) -> list[dict[str, Any]]:
        """Asynchronous events that failed for good with no on-failure destination."""
        return self.integration(AsyncInvocations).discarded

    @property
    def failures_sent(self) -> dict[str, int]:
        """Records of work given up on (on-failure destinations, dead-letter queues), by destination ARN."""
        assert self.ctx is not None
        return dict(self.ctx.targets.failures)

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def mail(self) -> list[Any]:
        """The e-mails SNS has sent in the deployment's account and region (subscription confirmations,
        with the link and token to confirm them), oldest first: there is no mail server."""
        from moto.sns.models import sns_backends

        from tools.emulator.moto_sns import confirmation_mails

        assert self.topology is not None
        return confirmation_mails(sns_backends[self.topology.account][self.region])

    # -- fault injection -----------------------------------------------------------------------------

    def fail(
        self,
        service: str,
        action: str | None = None,
        *,
        error: str = "ServiceUnavailable",
        status: int = 503,
        message: str = "",
        times: int | None = None,
        duration_s: float | None = None,
        function: str | None = None,
    ) -> Fault:
        """From now on, the functions' calls to ``service`` (one ``action``, or all) fail with an AWS error,
        for the next ``times`` calls, for ``duration_s`` seconds, or until ``clear_fault``.
        ``function`` (a key or a name) limits it to one function."""
        fault = Fault(
            service=service,
            action=action,
            function=self._function_name(function),
            error=error,
            status=status,
            message=message,
            times=times,
            until=time.monotonic() + duration_s if duration_s is not None else None,
        )
        return self.gateway.faults.add(fault)

    def throttle(
        self, service: str, action: str | None = None, *, per_second: float, function: str | None = None
    ) -> Fault:
        """A quota, as AWS enforces one per account and region (Parameter Store: about 40 requests a second by
        default): the functions' calls to ``service`` beyond ``per_second`` get ``ThrottlingException`` (400) until
        ``clear_fault``; the fault counts the calls it refused (``hits``) and let through (``passed``)."""
        fault = Fault(
            service=service,
            action=action,
            function=self._function_name(function),
            error="ThrottlingException",
            status=400,
            message="Rate exceeded",
            per_second=per_second,
        )
        return self.gateway.faults.add(fault)

    def crash_after(self, service: str, action: str, *, function: str | None = None, times: int = 1) -> Fault:
        """The next ``times`` successful ``action`` calls of a function reach moto and get their answer,
        then the calling sandbox is killed (the invocation fails with ``Runtime.ExitError``)."""
        fault = Fault(
            service=service, action=action, function=self._function_name(function), times=times, crash_after=True
        )
        return self.gateway.faults.add(fault)

    def clear_fault(self, fault: Fault | None = None) -> None:
        """Remove one fault, or every fault."""
        if fault is None:
            self.gateway.faults.clear()
        else:
            self.gateway.faults.remove(fault)

    @contextmanager
    def outage(self, service: str) -> Iterator[Fault]:
        """Inside the block, every call of the functions to ``service`` fails with 503 ``ServiceUnavailable``."""
        fault = self.fail(service)
        try:
            yield fault
        finally:
            self.clear_fault(fault)

    def set_index_lag(self, max_s: float, seed: int = 0) -> None:
        """From now on, each new entry of a global secondary index shows in queries after up to ``max_s``
        seconds (0: at once), as AWS's eventually consistent indexes do (``tools.emulator.moto_dynamodb``)."""
        self.index_lag_s = max_s
        moto_dynamodb.set_index_lag(max_s, seed)

    def calls(self, service: str, action: str | None = None, *, function: str | None = None) -> int:
        """Calls of the functions (or of one) that moto answered with success, e.g. ``calls("sns", "Publish")``."""
        return self.gateway.successful_calls(service, action, self._function_name(function))

    def _function_name(self, function: str | None) -> str | None:
        if function is None:
            return None
        assert self.topology is not None
        return self.topology.function(function).name

    # -- the pipeline --------------------------------------------------------------------------------

    def trigger_schedule(self, target: str) -> None:
        """Run now the schedule(s) of a function (a key like ``analyze-patterns``, a name or an ARN)."""
        self.integration(Schedules).trigger(target)

    def backlog(self) -> int:
        """Work waiting outside the emulator, e.g. messages in the queues that functions consume."""
        return sum(integration.backlog() for integration in self._started)

    def counters(self) -> dict[str, Any]:
        """What each integration has done so far (for a summary that does not reconcile)."""
        parts: dict[str, Any] = {i.name: i.counters() for i in self.integrations if i.counters()}
        if self.runtime is not None:
            parts["functions"] = self.runtime.stats()
        return parts

    def errors(self) -> list[str]:
        """Failures of the emulator's own machinery (not of the functions)."""
        return [error for integration in self.integrations for error in integration.errors()]

    def network_failures(self) -> list[str]:
        """Calls a function in a VPC made to a service it has no path to (held unanswered, as on AWS): which
        function, which service, why (``tools.emulator.network``). A deployment that works has none."""
        return self.network.failures() if self.network is not None else []

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
