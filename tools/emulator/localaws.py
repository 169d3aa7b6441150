"""An AWS endpoint on 127.0.0.1 (moto's threaded server) for plans, applies and the local pipeline.

    with LocalAWS() as aws:
        Stack("local", env=aws.env()).apply()
        boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)

The hashicorp/aws provider (5.100) and boto3 both honour ``AWS_ENDPOINT_URL`` for every service, so
``env()`` is all a Terraform subprocess or a boto3 client needs. moto keeps its state in process-wide
backends: servers started in the same process share it (use different suffixes to keep stacks apart).

The server starts with the public parameters the configuration reads (``seed_public_parameters``): AWS
publishes the Powertools layer ARN of each release under ``/aws/service/powertools/...``, and moto
refuses names under ``/aws`` through its API, so they go straight into moto's SSM backend. Three moto gaps
are closed before the server starts (``patch_moto``):

- SQS keeps a queue's RedriveAllowPolicy but never returns it, and the AWS provider waits for it to read
  back (the apply hangs on every dead-letter queue);
- S3 ignores the conditions of a bucket policy's Deny, so the TLS-only statement (Deny when
  ``aws:SecureTransport`` is false) refuses every request. The emulator's plain HTTP stands in for
  AWS's HTTPS endpoints: such statements never apply to its requests;
- API Gateway returns a REST API's resource policy JSON-escaped (``{\"Version\":...}`` once the response
  is parsed), and the AWS provider unescapes what it reads back; moto returned it as stored, and the
  provider failed on it (``aws_api_gateway_rest_api_policy``).

Every request passes through the moto gateway (``aws.gateway``, ``tools.emulator.gateway``), and
moto's DynamoDB runs with the emulator's patches (``tools.emulator.moto_dynamodb``), moto's SNS keeps
e-mail subscriptions pending until they are confirmed with the mailed token (``tools.emulator.moto_sns``).
While a server runs, DynamoDB streams have a shard per table partition
(``moto_dynamodb.set_partitioned_streams``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from tools._cli import ToolError, powertools_release

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

TEST_CREDENTIAL = "test"
DEFAULT_REGION = "us-east-1"
# Where AWS publishes the Powertools layer of each release; the emulator's values name a layer version
# of 0 (a placeholder: the emulator runs the project's own Powertools, never a layer).
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{release}"
POWERTOOLS_LAYER = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{runtime_id}-{architecture}:0"
)
POWERTOOLS_RUNTIMES = ("python3.11", "python3.12", "python3.13")
POWERTOOLS_ARCHITECTURES = ("arm64", "x86_64")


def _denies_insecure_transport_only(statement: dict) -> bool:
    condition = statement.get("Condition") or {}
    values = (condition.get("Bool") or {}).get("aws:SecureTransport") if set(condition) == {"Bool"} else None
    return statement.get("Effect") == "Deny" and values in ("false", ["false"])


def patch_moto() -> None:
    """Close the three moto gaps the Terraform configuration runs into (module docstring). Idempotent."""
    import json

    from moto.apigateway.models import RestAPI
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
        Queue.redrive_allow_policy = None  # type: ignore[attr-defined]  # a queue created without one

    if not getattr(RestAPI.to_dict, "escapes_policy", False):
        stored_form = RestAPI.to_dict

        def to_dict(self: RestAPI) -> dict[str, Any]:
            described = stored_form(self)
            if described.get("policy"):
                described["policy"] = json.dumps(described["policy"])[1:-1]  # as API Gateway answers it
            return described

        to_dict.escapes_policy = True  # type: ignore[attr-defined]
        RestAPI.to_dict = to_dict  # type: ignore[method-assign]

    if getattr(FakeBucket.get_permission, "secure_transport", False):
        return

    def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
        kept = [s for s in statements if not _denies_insecure_transport_only(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    get_permission.secure_transport = True  # type: ignore[attr-defined]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def keep_alive_handler(base: type, open_connections: set[socket.socket]) -> type:
    """moto's request handler, answering with a Content-Length and keeping the connection open.

    werkzeug's development server closes every connection after one response ("Connection: close"),
    so each call of every function and poller opened a new TCP connection and the server started a
    new thread for it. botocore keeps connections open when the server lets it: this handler reads
    the whole request body first (so nothing is left on the connection) and answers with its length.
    Chunked requests and ``Expect: 100-continue`` take werkzeug's own way. ``open_connections`` holds
    the connections open at any time (``close_connections`` closes them).
    """

    class KeepAliveRequestHandler(base):
        def setup(self) -> None:
            super().setup()
            open_connections.add(self.connection)

        def finish(self) -> None:
            open_connections.discard(self.connection)
            super().finish()

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


def close_connections(connections: set[socket.socket]) -> None:
    """Close the connections still open (the server stops: clients must see it)."""
    for connection in list(connections):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class LocalAWS:
    """Context manager running ``moto.server.ThreadedMotoServer`` on a free port of 127.0.0.1."""

    def __init__(self, region: str = DEFAULT_REGION, *, log_requests: bool = False) -> None:
        self.region = region
        self.log_requests = log_requests
        self._server: ThreadedMotoServer | None = None
        self._connections: set[socket.socket] = set()  # the keep-alive connections open to the server
        self.endpoint = ""
        self.gateway: Any = None
        self._partitioned_before = False

    def __enter__(self) -> Self:
        try:
            from moto.server import ThreadedMotoServer

            from tools.emulator import moto_dynamodb, moto_read_backs, moto_sns
        except ImportError:
            raise ToolError("moto is not installed: run `make venv` (or pip install -e '.[emulator]')") from None
        patch_moto()
        moto_sns.patch_moto_sns()
        moto_dynamodb.install()
        self._partitioned_before = moto_dynamodb.set_partitioned_streams(True)  # a shard per table partition
        moto_read_backs.install()
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
        assert wsgi_server is not None  # start() returns once the server is serving
        self.gateway = wsgi_server.app = MotoGateway(wsgi_server.app)
        moto_handler = wsgi_server.RequestHandlerClass
        assert isinstance(moto_handler, type)  # werkzeug's request handler class
        wsgi_server.RequestHandlerClass = keep_alive_handler(moto_handler, self._connections)
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        inprocess.register(self.endpoint, self.gateway)
        self.seed_public_parameters()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            from tools.emulator import inprocess, moto_dynamodb

            inprocess.unregister(self.endpoint)
            self._server.stop()
            moto_dynamodb.set_partitioned_streams(self._partitioned_before)
            close_connections(self._connections)
            self._server = None

    def seed_public_parameters(self) -> list[str]:
        """Put the public parameters the Terraform configuration reads into moto's SSM backend.

        The Powertools layer parameter of the pinned release, for every runtime and architecture the
        configuration allows. Idempotent; call it again after a ``/moto-api/reset``. Returns the names.
        """
        from datetime import UTC, datetime

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ssm.models import Parameter, ssm_backends

        parameters = ssm_backends[DEFAULT_ACCOUNT_ID][self.region]._parameters
        release, names = powertools_release(), []
        for runtime in POWERTOOLS_RUNTIMES:
            for architecture in POWERTOOLS_ARCHITECTURES:
                name = POWERTOOLS_PARAMETER.format(architecture=architecture, runtime=runtime, release=release)
                value = POWERTOOLS_LAYER.format(
                    region=self.region, runtime_id=runtime.replace(".", ""), architecture=architecture
                )
                if not parameters.get(name):
                    parameters[name].append(
                        # As moto's SSM backend builds its own: the abstract members are its CloudFormation
                        # hooks, which no seeded parameter is asked for.
                        Parameter(  # type: ignore[abstract]
                            account_id=DEFAULT_ACCOUNT_ID,
                            name=name,
                            value=value,
                            parameter_type="String",
                            description="Seeded by the local emulator (tools/emulator/localaws.py)",
                            allowed_pattern=None,
                            keyid=None,
                            last_modified_date=datetime.now(UTC),
                            version=1,
                            data_type="text",
                        )
                    )
                names.append(name)
        return names

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
