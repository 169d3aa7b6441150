"""Fault injection: the functions' calls to a service fail the way AWS fails them, without touching moto.

The moto gateway (``tools.emulator.gateway``) consults the fault plan for every call a function's
sandbox makes (the emulator's own calls, and the tests', are never affected). A fault names a service
(``ssm``, ``sns``, ``dynamodb``... as in SigV4), optionally an action (``GetParameter``) and a
function, and either

- answers with an AWS error (``ThrottlingException``, 400) instead of moto, for the next ``times``
  calls, for ``duration_s`` seconds, or until it is cleared; botocore sees the error as AWS sends it
  (JSON, query-XML or REST shape, by the request's protocol) and retries or raises as it would; or
- lets the call reach moto and answer (``crash_after``), then kills the calling sandbox, as if the
  function crashed right after the call returned: the side effect happened, the function never knew.

    with cloud.outage("sns"):                                   # every SNS call: 503
        ...
    cloud.fail("ssm", "GetParameter", error="ThrottlingException", times=5)
    cloud.throttle("ssm", per_second=40)                         # a service's quota: calls above the rate
    cloud.crash_after("sns", "Publish", function="notify-team")
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

DEFAULT_MESSAGES = {
    "ServiceUnavailable": "Service is unavailable (injected outage)",
    "ThrottlingException": "Rate exceeded (injected)",
}


@dataclass
class Fault:
    service: str
    action: str | None = None  # None: every action of the service
    function: str | None = None  # a deployed function name; None: every function
    error: str = "ServiceUnavailable"
    status: int = 503
    message: str = ""
    times: int | None = None  # answer this many calls, then stop (None: no limit)
    until: float | None = None  # time.monotonic() after which the fault is over (None: until cleared)
    crash_after: bool = False
    per_second: float | None = None  # a quota: only calls beyond this rate (a token bucket, burst of one second's)
    hits: int = 0  # calls this fault answered (or crashed after)
    passed: int = 0  # calls a quota let through
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _tokens: float = field(default=-1.0, repr=False, compare=False)
    _refilled: float = field(default=0.0, repr=False, compare=False)

    @property
    def active(self) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.until is None or time.monotonic() < self.until

    def matches(self, service: str, action: str, function: str) -> bool:
        return (
            self.service == service
            and (self.action is None or self.action == action)
            and (self.function is None or self.function == function)
        )

    def take(self) -> bool:
        """Count one hit if the fault is still active (and, for a quota, the call is over the rate); False when
        it does not answer this call."""
        with self._lock:
            if not self.active:
                return False
            if self.per_second is not None and self._within_quota():
                self.passed += 1
                return False
            self.hits += 1
            return True

    def _within_quota(self) -> bool:
        assert self.per_second is not None
        now = time.monotonic()
        capacity = max(1.0, self.per_second)
        if self._tokens < 0:
            self._tokens, self._refilled = capacity, now
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.per_second)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class FaultPlan:
    """The faults in force; the gateway asks ``take`` for every call of a function."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, action: str, function: str, *, after: bool) -> Fault | None:
        """The fault that answers this call (``after=False``) or crashes its caller after it
        (``after=True``), with one hit counted; None when no fault applies."""
        if not self._faults:
            return None
        with self._lock:
            faults = [f for f in self._faults if f.crash_after == after and f.matches(service, action, function)]
        for fault in faults:
            if fault.take():
                return fault
        return None


_QUERY_NAMESPACES = {
    "sns": "https://sns.amazonaws.com/doc/2010-03-31/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}


def error_response(fault: Fault, protocol: str, service: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an AWS error in the request's protocol."""
    message = fault.message or DEFAULT_MESSAGES.get(fault.error, f"{fault.error} (injected)")
    sender = "Sender" if fault.status < 500 else "Receiver"
    request_id = "00000000-0000-0000-0000-000000000000"
    if protocol == "json":
        body = json.dumps({"__type": fault.error, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", fault.error)]
    elif protocol == "rest-json":
        body = json.dumps({"Type": sender, "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", fault.error)]
    elif protocol == "rest-xml":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault.error}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    else:  # query
        namespace = _QUERY_NAMESPACES.get(service, "")
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{sender}</Type><Code>{fault.error}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)]
    try:
        reason = HTTPStatus(fault.status).phrase
    except ValueError:
        reason = "Error"
    return f"{fault.status} {reason}", headers, body
