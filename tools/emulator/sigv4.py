"""Verify an AWS Signature Version 4 on a received HTTP request, as API Gateway does for AWS_IAM methods.

The signature is recomputed with botocore's own signer (``botocore.auth.SigV4Auth``: the canonical
request, the string to sign and the signing key), from the request as received: its method, path and
query, the headers the ``Authorization`` header says were signed, the body's SHA-256 and the
``X-Amz-Date``. What is checked, in this order (each failure is a ``SignatureError`` with the kind of
API Gateway's answer and AWS's message):

1. an ``Authorization`` header at all (none: ``missing``, API Gateway's "Missing Authentication Token");
2. its form: ``AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
   SignedHeaders=...;host;..., Signature=<hex>`` and a request date (``incomplete``);
3. the credential scope: the date of ``X-Amz-Date``, the region and the service (``signature``);
4. the time: within 5 minutes of ``now`` either way (``signature``: "Signature expired: ... is now
   earlier than ... (... - 5 min.)", or "Signature not yet current");
5. the access key, through ``lookup`` (unknown or inactive: ``unrecognized``, "The security token
   included in the request is invalid."); temporary credentials need their session token in
   ``X-Amz-Security-Token`` (missing or wrong: ``unrecognized``; expired: ``expired_token``);
6. the signature itself (``signature``: "The request signature we calculated does not match ...").

Sources: AWS IAM User Guide, "Create a signed AWS API request" and "Troubleshoot signed requests"
(the 5-minute window, the messages); API Gateway's error bodies for IAM-authorized methods (AWS
Knowledge Center, "troubleshoot signature mismatch errors ... API Gateway").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
WINDOW = timedelta(minutes=5)  # "An API request must reach AWS within 5 minutes of the timestamp in the request"

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"

_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM}\s+Credential=(?P<credential>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


class SignatureError(Exception):
    """A request API Gateway refuses before it authorizes anything.

    ``kind``: ``missing`` (no signature), ``incomplete`` (a malformed one), ``signature`` (wrong scope,
    outside the time window or not matching), ``unrecognized`` (unknown access key or session token),
    ``expired_token`` (expired temporary credentials). ``message`` is AWS's text for it.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Secret:
    """What ``lookup`` knows of an access key: its secret, and for temporary credentials the session
    token and when they expire. ``identity`` is whatever the caller wants back (who signed)."""

    secret_key: str
    session_token: str | None = None
    expires: datetime | None = None
    identity: object = None


@dataclass(frozen=True)
class Signed:
    """The parts of a well-formed ``Authorization`` header."""

    access_key: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Signed:
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise SignatureError(
            "incomplete",
            f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters ({ALGORITHM}).",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise SignatureError(
            "incomplete", "Credential should be <access key>/<YYYYMMDD>/<region>/<service>/aws4_request."
        )
    signed = tuple(match["signed"].split(";"))
    if "host" not in signed:
        raise SignatureError("incomplete", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return Signed(parts[0], parts[1], parts[2], parts[3], signed, match["signature"])


def request_time(headers: Mapping[str, str]) -> datetime:
    """``X-Amz-Date`` (ISO 8601 basic, UTC), else ``Date`` (RFC 1123)."""
    if amz := headers.get("x-amz-date"):
        try:
            return datetime.strptime(amz, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise SignatureError(
                "incomplete", f"X-Amz-Date must be {SIGV4_TIMESTAMP}, e.g. 20260101T120000Z."
            ) from None
    if date := headers.get("date"):
        try:
            return parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            raise SignatureError("incomplete", "The Date header is not an RFC 1123 date.") from None
    raise SignatureError(
        "incomplete", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SIGV4_TIMESTAMP)


def verify(
    method: str,
    host: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    lookup: Callable[[str], Secret | None],
    region: str,
    now: datetime,
    service: str = "execute-api",
) -> Secret:
    """Check the request's signature (see the module's docstring); returns what ``lookup`` knows of the key.

    ``raw_path`` is the request target as received (path and query, still percent-encoded), ``host``
    the ``Host`` header the client sent, ``headers`` every header (any case).
    """
    lower = {name.lower(): value for name, value in headers.items()}
    authorization = lower.get("authorization")
    if not authorization:
        raise SignatureError("missing", "Missing Authentication Token")
    signed = parse_authorization(authorization)
    moment = request_time(lower)
    stamp = _stamp(moment)
    if signed.date != stamp[:8]:
        raise SignatureError(
            "signature",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{stamp[:8]}', from '{stamp}'.",
        )
    if signed.region != region:
        raise SignatureError("signature", f"Credential should be scoped to a valid region, not '{signed.region}'.")
    if signed.service != service:
        raise SignatureError("signature", f"Credential should be scoped to correct service: '{service}'.")
    if moment < now - WINDOW:
        raise SignatureError(
            "signature",
            f"Signature expired: {stamp} is now earlier than {_stamp(now - WINDOW)} ({_stamp(now)} - 5 min.)",
        )
    if moment > now + WINDOW:
        raise SignatureError(
            "signature",
            f"Signature not yet current: {stamp} is still later than {_stamp(now + WINDOW)} ({_stamp(now)} + 5 min.)",
        )
    secret = lookup(signed.access_key)
    if secret is None:
        raise SignatureError("unrecognized", INVALID_TOKEN)
    token = lower.get("x-amz-security-token")
    if secret.session_token is not None or token is not None:
        if token is None or secret.session_token is None or not hmac.compare_digest(token, secret.session_token):
            raise SignatureError("unrecognized", INVALID_TOKEN)
        if secret.expires is not None and secret.expires <= now:
            raise SignatureError("expired_token", EXPIRED_TOKEN)
    # A content hash the client signed must be the body's: otherwise a changed body would pass with
    # the original hash (botocore's canonical request takes X-Amz-Content-SHA256 as given).
    declared = lower.get("x-amz-content-sha256")
    if declared is not None and not hmac.compare_digest(declared, hashlib.sha256(body).hexdigest()):
        raise SignatureError("signature", MISMATCH)
    missing = [name for name in signed.signed_headers if name != "host" and name not in lower]
    if missing:
        raise SignatureError("signature", MISMATCH)
    request = AWSRequest(
        method=method,
        url=f"http://{host}{raw_path}",
        headers={name: lower[name] for name in signed.signed_headers if name != "host"} | {"host": host},
        data=body,
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(signed.access_key, secret.secret_key, secret.session_token), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("signature", MISMATCH)
    return secret
