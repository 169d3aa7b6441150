"""An AWS endpoint on 127.0.0.1 (moto's threaded server) for plans, applies and the local pipeline.

    with LocalAWS() as aws:
        Stack("local", env=aws.env()).apply()
        boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)

The hashicorp/aws provider (5.100) and boto3 both honour ``AWS_ENDPOINT_URL`` for every service, so
``env()`` is all a Terraform subprocess or a boto3 client needs. moto keeps its state in process-wide
backends: servers started in the same process share it (use different suffixes to keep stacks apart).
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import Self

from tools._cli import ToolError

TEST_CREDENTIAL = "test"
DEFAULT_REGION = "us-east-1"


class LocalAWS:
    """Context manager running ``moto.server.ThreadedMotoServer`` on a free port of 127.0.0.1."""

    def __init__(self, region: str = DEFAULT_REGION, *, log_requests: bool = False) -> None:
        self.region = region
        self.log_requests = log_requests
        self._server = None
        self.endpoint = ""

    def __enter__(self) -> Self:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise ToolError("moto is not installed: run `make venv` (or pip install -e '.[emulator]')") from None
        if not self.log_requests:
            # werkzeug logs one line per request (hundreds during an apply) unless told otherwise.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Port 0: the OS picks a free port when the server binds, so parallel runs cannot collide.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.stop()
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
