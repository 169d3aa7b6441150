"""An AWS endpoint on 127.0.0.1 (moto's threaded server) for plans, applies and the local pipeline.

    with LocalAWS() as aws:
        Stack("local", env=aws.env()).apply()
        boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)

The hashicorp/aws provider (5.100) and boto3 both honour ``AWS_ENDPOINT_URL`` for every service, so
``env()`` is all a Terraform subprocess or a boto3 client needs. moto keeps its state in process-wide
backends: servers started in the same process share it (use different suffixes to keep stacks apart).
Every request passes through the moto gateway (``aws.gateway``, ``tools.emulator.gateway``), and
moto's DynamoDB runs with the emulator's patches (``tools.emulator.moto_dynamodb``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from types import TracebackType
from typing import Any, ClassVar, Self

from tools._cli import ToolError

TEST_CREDENTIAL = "test"
DEFAULT_REGION = "us-east-1"


def keep_alive_handler(base: type) -> type:
    """moto's request handler, answering with a Content-Length and keeping the connection open.

    werkzeug's development server closes every connection after one response ("Connection: close"),
    so each call of every function and poller opened a new TCP connection and the server started a
    new thread for it. botocore keeps connections open when the server lets it: this handler reads
    the whole request body first (so nothing is left on the connection) and answers with its length.
    Chunked requests and ``Expect: 100-continue`` take werkzeug's own way.
    """

    class KeepAliveRequestHandler(base):  # type: ignore[misc,valid-type]
        open_connections: ClassVar[set[socket.socket]] = set()

        def setup(self) -> None:
            super().setup()
            self.open_connections.add(self.connection)

        def finish(self) -> None:
            self.open_connections.discard(self.connection)
            super().finish()

        @classmethod
        def close_all(cls) -> None:
            """Close the connections still open (the server stops: clients must see it)."""
            for connection in list(cls.open_connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass  # werkzeug formats an access log line per request even when nobody reads it

        def run_wsgi(self) -> None:
            if self.headers.get("Transfer-Encoding") or self.headers.get("Expect"):
                super().run_wsgi()
                return
            environ = self.make_environ()
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length else b"")
            environ["wsgi.input_terminated"] = True
            started: list[Any] = []
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception:
                logging.getLogger("emulator").exception("moto failed on %s %s", self.command, self.path)
                started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
                chunks[:] = [b"Internal Server Error"]
            payload = b"".join(chunks)
            code, _, reason = started[0].partition(" ")
            self.send_response(int(code), reason)
            head = self.command == "HEAD"
            dropped = {"connection", "transfer-encoding"} | (set() if head else {"content-length"})
            for name, value in started[1]:
                if name.lower() not in dropped:  # a HEAD answer keeps the length a GET would send
                    self.send_header(name, value)
            if not head:
                self.send_header("Content-Length", str(len(payload)))
            # Headers and body in one write: two small writes on a kept-alive connection meet the
            # client's delayed ACK (Nagle), a 40 ms stall per response.
            self._headers_buffer.append(b"\r\n")
            if not head:
                self._headers_buffer.append(payload)
            self.flush_headers()

    return KeepAliveRequestHandler


class LocalAWS:
    """Context manager running ``moto.server.ThreadedMotoServer`` on a free port of 127.0.0.1."""

    def __init__(self, region: str = DEFAULT_REGION, *, log_requests: bool = False) -> None:
        self.region = region
        self.log_requests = log_requests
        self._server = None
        self.endpoint = ""
        self.gateway: Any = None

    def __enter__(self) -> Self:
        try:
            from moto.server import ThreadedMotoServer

            from tools.emulator import moto_dynamodb
        except ImportError:
            raise ToolError("moto is not installed: run `make venv` (or pip install -e '.[emulator]')") from None
        moto_dynamodb.install()
        if not self.log_requests:
            # werkzeug logs one line per request (hundreds during an apply) unless told otherwise.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Port 0: the OS picks a free port when the server binds, so parallel runs cannot collide.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        from tools.emulator import inprocess
        from tools.emulator.gateway import MotoGateway

        # ThreadedMotoServer serves through a werkzeug server whose request handler calls `server.app`.
        wsgi_server = self._server._server
        self.gateway = wsgi_server.app = MotoGateway(wsgi_server.app)
        wsgi_server.RequestHandlerClass = keep_alive_handler(wsgi_server.RequestHandlerClass)
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        inprocess.register(self.endpoint, self.gateway)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            from tools.emulator import inprocess

            inprocess.unregister(self.endpoint)
            self._server.stop()
            self._server._server.RequestHandlerClass.close_all()
            self._server = None

    def env(self) -> dict[str, str]:
        """Variables that point Terraform and boto3 at this server, and at nothing else.

        ``TF_CLI_CONFIG_FILE`` is neutral (``/dev/null``): a user's CLI configuration (credentials
        helpers, a network mirror the emulator cannot reach) must not leak into a local run. The
        provider mirror still applies through ``-plugin-dir`` (``TF_PLUGIN_DIR``).
        """
        if not self.endpoint:
            raise RuntimeError("LocalAWS.env() called outside its `with` block")
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": TEST_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIAL,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "TF_CLI_CONFIG_FILE": os.devnull,
        }
