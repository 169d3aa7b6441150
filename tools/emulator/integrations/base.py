"""What every integration shares: the protocol, the context it runs in, pollers, event patterns.

An integration is one AWS feature that moto stores but does not run (a pipe, an event source
mapping, a schedule, the REST API...). It is one class in one file of this package:

    class Pipes(Integration):
        name = "pipes"

        def __init__(self, ctx: Context) -> None:   # read its part of the deployment (boto3 calls)
            super().__init__(ctx)
            ...
        def start(self) -> None: ...               # start its threads or servers
        def stop(self) -> None: ...
        def counters(self) -> dict[str, Any]: ...  # what it has done, for summaries and tests

and one line in ``tools/emulator/integrations/__init__.py`` (``INTEGRATIONS``). Integrations reach
each other only through ``ctx.targets``: a pipe sends to its target ARN, and whichever integration
registered that kind of ARN (an event bus, Lambda's asynchronous invocation, a queue) takes it.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from moto.events.models import EventPattern

from tools.emulator.runtime import LambdaRuntime
from tools.emulator.timings import TIMINGS, Timings
from tools.emulator.topology import Topology

log = logging.getLogger("emulator")

POLL_INTERVAL_S = 0.1
ERROR_BACKOFF_S = 1.0  # after a poll that raised

Sender = Callable[..., None]


class Activity:
    """Counts work in flight, so callers can wait until the pipeline has settled."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = 0
        self._last = time.monotonic()

    def start(self) -> None:
        with self._cond:
            self._busy += 1

    def done(self, worked: bool = True) -> None:
        """End one piece of work; ``worked=False`` for a poll that found nothing (no new activity)."""
        with self._cond:
            self._busy -= 1
            if worked:
                self._last = time.monotonic()
            self._cond.notify_all()

    def idle_for(self, since: float = 0.0) -> float:
        """Seconds since the last piece of work ended (or since ``since``, a ``time.monotonic()``
        value, if later), or 0.0 while something is in flight."""
        with self._cond:
            return 0.0 if self._busy else time.monotonic() - max(self._last, since)


class Ledger:
    """Per function, how many events or records it processed successfully (``(name, "ok")``) and how
    many failed for good (``(name, "failed")``: retries exhausted); read it like a Counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self.last_success: dict[str, float] = {}  # function -> time.time() of its last success

    def record(self, function: str, ok: int = 0, failed: int = 0) -> None:
        with self._lock:
            self._counts[(function, "ok")] += ok
            self._counts[(function, "failed")] += failed
            if ok:
                self.last_success[function] = time.time()

    def __getitem__(self, key: tuple[str, str]) -> int:
        with self._lock:
            return self._counts[key]


class Targets:
    """Delivery by ARN: integrations register a sender for the ARNs they own; others send to them.

    A sender is called as ``sender(arn, payload, source=..., detail_type=...)``; ``source`` and
    ``detail_type`` matter to event buses (the event's envelope) and are ignored by the rest. A target
    that takes several entries in one request (an event bus: ``PutEvents``) registers a batch sender too,
    called as ``batch_sender(arn, payloads, source=..., detail_type=...)``.
    """

    def __init__(self) -> None:
        self._senders: list[tuple[Callable[[str], bool], Sender, Sender | None]] = []
        self.sent: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()  # records of work given up on, by destination ARN

    def register(self, accepts: Callable[[str], bool], sender: Sender, batch_sender: Sender | None = None) -> None:
        self._senders.append((accepts, sender, batch_sender))

    def send(self, arn: str, payload: Any, *, source: str = "", detail_type: str = "", failure: bool = False) -> None:
        """Deliver ``payload`` to ``arn``; ``failure=True`` for an on-failure destination or a
        dead-letter queue (counted in ``failures``: something was given up on)."""
        for accepts, sender, _ in self._senders:
            if accepts(arn):
                sender(arn, payload, source=source, detail_type=detail_type)
                self.sent[arn] += 1
                if failure:
                    self.failures[arn] += 1
                return
        raise ValueError(f"target {arn} is not supported by the emulator")

    def send_entries(self, arn: str, payloads: list[Any], *, source: str = "", detail_type: str = "") -> None:
        """Deliver ``payloads`` to ``arn`` in one request where the target takes several, else one by one."""
        for accepts, sender, batch_sender in self._senders:
            if accepts(arn):
                if batch_sender is not None:
                    batch_sender(arn, payloads, source=source, detail_type=detail_type)
                else:
                    for payload in payloads:
                        sender(arn, payload, source=source, detail_type=detail_type)
                self.sent[arn] += len(payloads)
                return
        raise ValueError(f"target {arn} is not supported by the emulator")


def service_of(arn: str) -> str:
    """``arn:aws:sqs:us-east-1:123:q`` -> ``sqs``."""
    return arn.split(":")[2]


@dataclass
class Context:
    """What the local cloud gives every integration."""

    session: Any  # an EndpointSession: boto3 clients on the moto endpoint
    topology: Topology
    runtime: LambdaRuntime
    time_scale: float  # AWS's waits (visibility timeouts, retry back-off) are divided by this
    schedule_time_scale: float | None  # schedule rates are divided by this (None: only when triggered)
    api_port: int = 0
    activity: Activity = field(default_factory=Activity)
    ledger: Ledger = field(default_factory=Ledger)
    targets: Targets = field(default_factory=Targets)
    timings: Timings = TIMINGS
    log_dir: Any = None


class Integration:
    """One AWS integration the emulator runs; see the module docstring."""

    name: ClassVar[str]

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def deployed(self) -> bool:
        """True if the deployment has anything for this integration to run."""
        return True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def counters(self) -> dict[str, Any]:
        return {}

    def backlog(self) -> int:
        """Work waiting outside the emulator (e.g. messages in a consumed queue)."""
        return 0

    def errors(self) -> list[str]:
        """Failures of the emulator's own machinery (not of the functions)."""
        return []


class Poller(threading.Thread):
    """A daemon thread that calls ``poll`` until stopped; ``poll`` returns True when it did work."""

    def __init__(self, name: str, activity: Activity) -> None:
        super().__init__(name=name, daemon=True)
        self.activity = activity
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.before_poll()
            try:
                did_work = self.poll()
            except Exception as exc:  # shown by the emulator's health check; the poller keeps going
                if self._stop_event.is_set():
                    return
                self.error = exc
                log.exception("%s: poll failed", self.name)
                self._stop_event.wait(ERROR_BACKOFF_S)  # a lasting failure (a deleted queue) is not retried in a spin
                continue
            if not did_work and not self._stop_event.is_set():
                self.idle_wait()

    def poll(self) -> bool:
        raise NotImplementedError

    def before_poll(self) -> None:
        """Called before every poll (e.g. to note what has been seen so far)."""

    def idle_wait(self) -> None:
        """After a poll that found nothing: wait a little before the next."""
        self._stop_event.wait(POLL_INTERVAL_S)

    def stop(self) -> None:
        self._stop_event.set()


class PollingIntegration(Integration):
    """An integration made of pollers (``self.pollers``), started and stopped together."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pollers: list[Poller] = []

    @property
    def deployed(self) -> bool:
        return bool(self.pollers)

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            if poller.is_alive():
                poller.join(timeout=5)

    def errors(self) -> list[str]:
        return [f"{p.name}: {p.error!r}" for p in self.pollers if p.error is not None]


# -- event patterns ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _pattern(raw: str) -> EventPattern:
    return EventPattern.load(raw)


def matches(patterns: tuple[str, ...] | str | None, event: dict[str, Any]) -> bool:
    """True if ``event`` matches any of the EventBridge ``patterns`` (no pattern matches everything).

    Evaluated with moto's own EventBridge matcher, for pipe and mapping filters and rule patterns.
    """
    if not patterns:
        return True
    if isinstance(patterns, str):
        patterns = (patterns,)
    # moto annotates the matcher for EventBridge events only; it reads any JSON object (stream records,
    # queue messages) by key, as the pipe and mapping filters of AWS do.
    return any(_pattern(p).matches_event(event) for p in patterns)  # type: ignore[arg-type]


def json_ready(value: Any) -> Any:
    """A boto3 response as the JSON the service sent: timestamps as epoch seconds, binary as base64."""
    import base64

    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(record: Any) -> str:
    return json.dumps(record, default=str)
