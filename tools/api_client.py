"""Post transactions to a deployed API, signed with AWS Signature Version 4 when the API requires IAM.

    python -m tools.api_client --env prod transaction.json            # a JSON object, a list, or JSON lines
    python -m tools.api_client --env prod - < transactions.jsonl      # from stdin
    python -m tools.api_client --env local --url http://127.0.0.1:40123/local/transactions t.json  # the emulator

The URL, the region, the API key and whether the API requires signing (``api_authorization``) come
from the environment's Terraform outputs (``tools.deploy.tf``: its state must be readable); the
credentials from the usual AWS chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
``AWS_SESSION_TOKEN``, SSO, an instance or task role). Each request is signed by botocore's
``SigV4Auth`` for the service ``execute-api``, over the exact body sent. Prints one line per
transaction: the HTTP status and the answer. Exit status 1 if any was not accepted (2xx).

The Python API (``post``, ``signed_headers``) is what the end-to-end tests, the demo and the
simulator use.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest

from tools._cli import ToolError, run

SERVICE = "execute-api"
IAM = "AWS_IAM"


class _SigV4At(SigV4Auth):
    """botocore's signer with the signing time given instead of read from the clock (tests sign
    expired requests, and a test's traffic has a pinned time)."""

    def __init__(self, credentials: Any, service: str, region: str, at: datetime) -> None:
        super().__init__(credentials, service, region)
        self._at = at

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._at.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        self._inject_signature_to_request(request, self.signature(self.string_to_sign(request, canonical), request))


def signed_headers(
    url: str,
    body: bytes,
    credentials: Any,
    region: str,
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token`` for
    temporary credentials) for sending ``body`` to ``url``. ``credentials``: botocore credentials
    (``boto3.Session().get_credentials()``); ``at``: the signing time (default: now, UTC)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    signer = _SigV4At(frozen, SERVICE, region, at) if at is not None else SigV4Auth(frozen, SERVICE, region)
    signer.add_auth(request)
    return dict(request.headers.items())


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body


def send(url: str, body: bytes, headers: Mapping[str, str], *, method: str = "POST", timeout: float = 30) -> Answer:
    """One HTTP request as given (already signed, or not); any status is an answer, not an error."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read().decode("utf-8", errors="replace"), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode("utf-8", errors="replace"), dict(error.headers))


@dataclass(frozen=True)
class Api:
    """Where and how to post: the URL, the API key (metering), and, when the API requires IAM, the
    credentials and region to sign with (``credentials`` None: unsigned)."""

    url: str
    api_key: str | None = None
    credentials: Any = None
    region: str = "us-east-1"

    @property
    def signs(self) -> bool:
        return self.credentials is not None

    def headers(self, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        if self.signs:
            headers = signed_headers(self.url, body, self.credentials, self.region, headers=headers, at=at)
        return headers

    def post(self, transaction: Any, *, timeout: float = 30, at: datetime | None = None) -> Answer:
        """POST one transaction (a JSON-serialisable value, or the exact bytes to send)."""
        body = transaction if isinstance(transaction, bytes) else json.dumps(transaction).encode()
        return send(self.url, body, self.headers(body, at=at), timeout=timeout)


def api_from_outputs(outputs: Mapping[str, Any], *, url: str | None = None, credentials: Any = None) -> Api:
    """The API of a deployment from its Terraform outputs; signs (with ``credentials``, else the default
    AWS chain's) when ``api_authorization`` is AWS_IAM. ``url`` replaces the deployed one (the emulator's)."""
    region = outputs.get("region") or "us-east-1"
    if outputs.get("api_authorization") == IAM and credentials is None:
        import boto3

        credentials = boto3.Session(region_name=region).get_credentials()
        if credentials is None:
            raise ToolError(
                "this API requires IAM-signed requests and no AWS credentials were found: set AWS_PROFILE "
                "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the identity must be allowed by api_invoke_principals)"
            )
    return Api(
        url=url or outputs["api_url"],
        api_key=outputs.get("api_key_value"),
        credentials=credentials if outputs.get("api_authorization") == IAM else None,
        region=region,
    )


def read_transactions(source: str) -> Iterator[Any]:
    """A JSON object, a JSON list of them, or JSON lines; ``-`` reads stdin."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    stripped = text.strip()
    try:
        document = json.loads(stripped)
    except ValueError:
        document = None
    if isinstance(document, list):
        yield from document
        return
    if isinstance(document, dict):
        yield document
        return
    for number, line in enumerate(stripped.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise ToolError(f"{source}, line {number}: not JSON ({error.msg})") from None


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.api_client", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="transactions: a JSON object, a JSON list or JSON lines; - for stdin")
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="the deployed environment, e.g. prod")
    parser.add_argument("--url", help="post here instead of the deployed api_url (the local emulator's front door)")
    args = parser.parse_args(argv)

    from tools.deploy.tf import Stack

    outputs = Stack(args.env).outputs()
    if "api_url" not in outputs:
        raise ToolError(f"environment {args.env} has no api_url output: deploy it first (make deploy ENV={args.env})")
    api = api_from_outputs(outputs, url=args.url)
    host = urlsplit(api.url).netloc
    print(
        f"posting to {api.url} ({'signed, SigV4 execute-api' if api.signs else 'API key only'}, {host})",
        file=sys.stderr,
    )
    refused = 0
    for transaction in read_transactions(args.file):
        answer = api.post(transaction)
        refused += not answer.accepted
        print(f"{answer.status} {answer.body}")
    return 1 if refused else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
