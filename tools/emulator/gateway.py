"""The moto gateway: a WSGI middleware in front of moto's application; every call to the local cloud
passes through it.

For each request it finds the service (from the SigV4 credential scope), the action (``X-Amz-Target``,
the ``Action`` form field, or the method and first path segment of a REST call) and the caller: a
function's sandbox, when the request's user agent carries the sandbox's ``app/<id>`` (the runtime
sets ``AWS_SDK_UA_APP_ID`` per sandbox), or the emulator itself. Then:

- the network (``tools.emulator.network``): a call from a function in a VPC to a service it has no path
  to (no endpoint, no route, no security group rule) is held unanswered, as AWS drops the connection
  attempt, until the caller gives up (its client's timeout, or its sandbox's);
- fault injection (``tools.emulator.faults``): a matching fault answers with an AWS error instead of
  moto, or lets the call reach moto and then kills the calling sandbox;
- concurrency: calls run in parallel (moto's DynamoDB actions take their own lock:
  ``tools.emulator.moto_dynamodb``); while recording or replaying, every call runs one at a time;
- recording (``tools.emulator.snapshot``): each call is appended to the recording with its time and
  status;
- bookkeeping: the time moto took per action (``tools.emulator.timings``) and the successful calls
  per service, action and calling function (``calls``).

DynamoDB and DynamoDB Streams calls (``POST /`` with an ``X-Amz-Target`` of theirs: most calls, one or more per
transaction) go to moto's handler directly (``direct_app``), as moto's Flask application would call it after
routing, without the Flask request and response around it (a fifth of such a call's time in the server). The
status, headers and body are moto's.
"""

from __future__ import annotations

import importlib
import io
import re
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from tools.emulator import moto_dynamodb
from tools.emulator.faults import FaultPlan, error_response
from tools.emulator.timings import TIMINGS

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_APP_ID = re.compile(r"\bapp/([\w.\-]+)")
HOLD_LIMIT_S = 900.0  # the longest a call without a network path is held (Lambda's longest timeout)


class Request:
    """What the gateway knows about one call."""

    __slots__ = ("service", "action", "caller", "protocol")

    def __init__(self, environ: dict[str, Any], callers: Callable[[str], str | None]) -> None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        # Credential=KEY/DATE/REGION/SERVICE/aws4_request
        scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        self.service = scope[3] if len(scope) > 3 else ""
        if target:
            self.action = target.rpartition(".")[2]
            self.protocol = "json"
        elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            self.action = _form_action(environ)
            self.protocol = "query"
        else:
            path = environ.get("PATH_INFO", "/")
            self.action = f"{environ['REQUEST_METHOD']} /{path.split('/')[1] if path != '/' else ''}"
            self.protocol = "rest-xml" if self.service == "s3" else "rest-json"
        match = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
        self.caller = callers(match.group(1)) if match else None

    @property
    def name(self) -> str:
        return f"{self.service}.{self.action}"


def _form_action(environ: dict[str, Any]) -> str:
    """The ``Action`` of a query-protocol request (the body is read and put back)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    for pair in body.split(b"&"):
        if pair.startswith(b"Action="):
            return pair[7:].decode("ascii", "replace")
    return "?"


# X-Amz-Target prefix -> the moto response class whose ``dispatch`` serves it (moto's URL map: ``POST /``).
DIRECT_TARGETS = {
    "DynamoDB_20120810": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "Logs_20140328": ("moto.logs.responses", "LogsResponse"),
}
# Not SQS: with its calls on this path, the notify-team crash fault test (tests/e2e/test_faults.py) saw the crashed
# invocation reach its SNS publish seconds later and the publish repeated by the client's retry; not explained yet.


def direct_app(dispatch: Callable[..., Any]) -> App:
    """A WSGI application calling moto's ``dispatch`` as its Flask view does (``moto.core.utils
    .convert_to_flask_response``): the same request object (moto's server ``BackendRequest``) and answer."""
    from botocore.exceptions import ClientError
    from moto.moto_server.werkzeug_app import BackendRequest

    class JsonRequest(BackendRequest):
        """moto's request, without werkzeug's form parser for a JSON body (it finds no form in one and leaves the
        body as it is: the same ``data``) and without Flask's look-up of an application's body size limit (there is
        no application here: werkzeug's default, no limit, as Flask answers outside one)."""

        max_content_length = None

        @property
        def want_form_data_parsed(self) -> bool:
            content_type = self.environ.get("CONTENT_TYPE") or ""
            return bool(content_type) and "json" not in content_type

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = JsonRequest(environ)
        try:
            result = dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as error:
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        headers = {str(k): str(v) for k, v in headers.items() if k.lower() != "content-length"}
        headers.setdefault("Content-Type", "text/html; charset=utf-8")  # Flask's default, as before
        start_response(f"{int(status)} {HTTPStatus(int(status)).phrase}", list(headers.items()))
        return [payload]

    return app


class MotoGateway:
    """The middleware; ``LocalAWS`` installs one in front of its moto server (``app``: moto's
    ``DomainDispatcherApplication``)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.faults = FaultPlan()
        self.calls: Counter[tuple[str, str, str | None]] = Counter()  # (service, action, caller) -> successes
        self.recorder: Callable[[dict[str, Any], Callable[[], tuple[int, list[bytes]]]], list[bytes]] | None = None
        self.exclusive = False  # one call at a time (recording, replaying)
        self._serial = threading.Lock()  # every call, while exclusive
        self.dynamodb_lock = moto_dynamodb.LOCK  # held by every DynamoDB action
        self._apps: dict[str, Any] = {}  # X-Amz-Target prefix -> moto's application for that service
        self._callers: Callable[[str], str | None] = lambda app_id: None
        self._crash: Callable[[str], None] = lambda app_id: None
        self._blocked: Callable[[str, str], str | None] = lambda function, service: None
        self._released = threading.Event()  # set when the runtime detaches: held calls end
        self.timings = TIMINGS

    def attach_runtime(
        self,
        callers: Callable[[str], str | None],
        crash: Callable[[str], None],
        blocked: Callable[[str, str], str | None] | None = None,
    ) -> None:
        """Name callers by their sandbox id, kill a sandbox for a fault, and hold the calls a function has no
        network path for (``blocked(function, service)`` says why, or None) (``LocalCloud`` does this)."""
        self._callers, self._crash = callers, crash
        self._blocked = blocked or (lambda function, service: None)
        self._released.clear()

    def detach_runtime(self) -> None:
        self._callers, self._crash = (lambda app_id: None), (lambda app_id: None)
        self._blocked = lambda function, service: None
        self._released.set()
        self.faults.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        if self.exclusive or self.recorder is not None:
            with self._serial:
                return iter(self._exclusive_call(environ, start_response))
        request = Request(environ, self._callers)
        if request.caller is not None and self._blocked(request.caller, request.service) is not None:
            return self._hold(environ, start_response)
        if request.caller is not None:
            fault = self.faults.take(request.service, request.action, request.caller, after=False)
            if fault is not None:
                status, headers, body = error_response(fault, request.protocol, request.service)
                start_response(status, headers)
                return iter([body])
        started, cpu_started = time.perf_counter(), time.thread_time()
        status_line: list[str] = []

        def capture(status: str, headers: Any, *args: Any) -> Any:
            status_line.append(status)
            return start_response(status, headers, *args)

        chunks = list(self._backend_app(environ)(environ, capture))
        self.timings.add(f"moto {request.name}", time.perf_counter() - started)
        # The CPU the call took in its server thread (the lock wait and the GIL's turns are not in it).
        self.timings.add(f"moto {request.name} (CPU)", time.thread_time() - cpu_started)
        if status_line and status_line[0][:1] in "23":
            self.calls[(request.service, request.action, request.caller)] += 1
            if request.caller is not None and self.faults.take(
                request.service, request.action, request.caller, after=True
            ):
                self._crash_caller(environ)
        return iter(chunks)

    def _hold(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        """Answer nothing until the caller hangs up (its client timed out, or its sandbox was killed), as a
        connection attempt with no route is never answered on AWS; then close the connection."""
        connection = environ.get("werkzeug.socket")
        deadline = time.monotonic() + HOLD_LIMIT_S
        while time.monotonic() < deadline and not self._released.is_set():
            if connection is None:
                self._released.wait(0.5)
                continue
            try:
                readable, _, _ = select.select([connection], [], [], 0.5)
                if readable and not connection.recv(1, socket.MSG_PEEK):
                    break  # the caller closed its end
            except (OSError, ValueError):
                break
        start_response("504 Gateway Timeout", [("Content-Type", "text/plain"), ("Connection", "close")])
        return iter([b""])

    def _backend_app(self, environ: dict[str, Any]) -> App:
        """moto's application for the request's service. moto's dispatcher works it out from the host,
        path, headers and body of every request, under a lock; a JSON-protocol request names its
        service in ``X-Amz-Target``, so the answer is kept per target prefix."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        get_application = getattr(self.app, "get_application", None)
        if not target or get_application is None:
            return self.app
        prefix = target.partition(".")[0]
        app = self._apps.get(prefix)
        if app is None:
            if prefix in DIRECT_TARGETS and environ.get("PATH_INFO") == "/" and environ["REQUEST_METHOD"] == "POST":
                module, name = DIRECT_TARGETS[prefix]
                app = direct_app(getattr(importlib.import_module(module), name).dispatch)
            else:
                app = get_application(environ)
            self._apps[prefix] = app
        return app

    def _crash_caller(self, environ: dict[str, Any]) -> None:
        match = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
        if match:
            self._crash(match.group(1))

    def _exclusive_call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """One call while nothing else runs (the caller holds ``_serial``), recorded when recording."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status_line: list[str] = []

        def capture(status: str, headers: Any, *args: Any) -> Any:
            status_line.append(status)
            return start_response(status, headers, *args)

        def call() -> tuple[int, list[bytes]]:
            # Consume the response here: moto does its work while the body is produced.
            response = list(self.app(environ, capture))
            return (int(status_line[0].split()[0]) if status_line else 0), response

        if self.recorder is not None:
            return self.recorder(environ, call)
        return call()[1]

    def successful_calls(self, service: str, action: str | None = None, function: str | None = None) -> int:
        """Calls that moto answered with success, from ``function`` (a deployed name; None: any function)."""
        return sum(
            n
            for (s, a, caller), n in self.calls.items()
            if s == service
            and (action is None or a == action)
            and caller is not None
            and (function is None or caller == function)
        )
