"""The emulator's own AWS calls, straight into the moto gateway of the same process.

The emulator's integrations call moto through boto3, the same API a real deployment answers. They
run in the process that hosts moto, so their requests need no socket: ``InProcessHttpSession``
takes botocore's prepared request, builds the WSGI environ werkzeug would build (``EnvironBuilder``),
runs it through the gateway in the calling thread and hands botocore the response. botocore still
serialises, signs and parses; only the TCP round trip, the server thread and the HTTP parsing go.
The functions' sandboxes, Terraform and the tests' own clients keep using HTTP.

``LocalAWS`` registers its gateway for its endpoint (``register``); ``EndpointSession`` clients use
it when one is registered.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

_apps: dict[str, Any] = {}  # endpoint -> WSGI application (the moto gateway)


def register(endpoint: str, app: Any) -> None:
    _apps[endpoint.rstrip("/")] = app


def unregister(endpoint: str) -> None:
    _apps.pop(endpoint.rstrip("/"), None)


def app_for(endpoint: str) -> Any:
    return _apps.get(endpoint.rstrip("/"))


class _Body:
    """The response body as botocore reads it: ``stream()`` for content, ``read(n)`` for streaming."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def stream(self, amt: int = 2**16, decode_content: bool = False) -> Iterator[bytes]:
        while chunk := self._data.read(amt):
            yield chunk

    def read(self, amt: int | None = None, decode_content: bool = False) -> bytes:
        return self._data.read() if amt is None else self._data.read(amt)

    def close(self) -> None:
        self._data.close()


class InProcessHttpSession:
    """A botocore HTTP session that sends every request to a WSGI application in this process."""

    def __init__(self, endpoint: str, app: Any) -> None:
        self.base_url = endpoint.rstrip("/")
        self.app = app

    def send(self, request: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        builder = EnvironBuilder(
            path=url.path or "/",
            base_url=self.base_url,
            query_string=url.query,
            method=request.method,
            headers=headers,
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = "127.0.0.1", 0
        app_iter, status, response_headers = run_wsgi_app(self.app, environ)
        try:
            payload = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(response_headers.items()), _Body(payload))

    def close(self) -> None:
        pass


def use_in_process(client: Any, endpoint: str) -> Any:
    """Make a boto3 client send its requests in process, if a gateway is registered for ``endpoint``."""
    app = app_for(endpoint)
    if app is not None:
        client._endpoint.http_session = InProcessHttpSession(endpoint, app)
    return client
