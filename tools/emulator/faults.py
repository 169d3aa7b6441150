"""Fault injection: a service outage seen by the functions, without touching moto.

``ServiceProxy`` is a small HTTP proxy in front of the moto endpoint for one service. The runtime
points the functions at it with the service-specific endpoint variable that botocore honours
(``AWS_ENDPOINT_URL_SNS`` for SNS), so the functions' calls pass through it while everything else
(the emulator, the tests) keeps talking to moto directly. While ``outage()`` is active the proxy
answers every call with 503 ``ServiceUnavailable``, which botocore retries and then raises, as it
would during a real regional incident.

A function that always fails is ``LambdaRuntime.inject_failure``.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_QUERY_ERROR = (
    b'<ErrorResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
    b"<Code>ServiceUnavailable</Code><Message>Service is unavailable (injected outage)</Message></Error>"
    b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)
_JSON_ERROR = b'{"__type":"ServiceUnavailable","message":"Service is unavailable (injected outage)"}'


class ServiceProxy:
    """Forwards to ``upstream`` (the moto endpoint) unless an outage is on; counts what it refused."""

    def __init__(self, service: str, upstream: str) -> None:
        self.service = service
        target = urlsplit(upstream)
        self._upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self._down = threading.Event()
        self.refused = 0
        self.forwarded = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"proxy-{service}", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def env_var(self) -> str:
        """The botocore variable that sends one service's calls to this proxy."""
        return f"AWS_ENDPOINT_URL_{self.service.upper().replace('-', '_')}"

    def start(self) -> ServiceProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def down(self) -> bool:
        return self._down.is_set()

    def set_down(self, down: bool) -> None:
        if down:
            self._down.set()
        else:
            self._down.clear()

    @contextmanager
    def outage(self) -> Iterator[None]:
        """Every call fails with 503 inside the block."""
        self.set_down(True)
        try:
            yield
        finally:
            self.set_down(False)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.down:
                    proxy.refused += 1
                    json_protocol = "json" in (self.headers.get("Content-Type") or "")
                    payload = _JSON_ERROR if json_protocol else _QUERY_ERROR
                    self.send_response(503)
                    self.send_header("Content-Type", "application/x-amz-json-1.0" if json_protocol else "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                proxy.forwarded += 1
                connection = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    upstream = connection.getresponse()
                    payload = upstream.read()
                    self.send_response(upstream.status, upstream.reason)
                    for name, value in upstream.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
