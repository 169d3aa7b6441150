"""The fraud console's Lambda REQUEST authorizer: API Gateway runs it before every console route but sign-in.

The identity source is the ``Cookie`` header (API Gateway answers 401 itself when it is missing, and caches
the answer by its value for the authorizer's TTL). The session cookie holds the Cognito access token; it is
verified here (``fraud.tokens.verify``): signature against the user pool's key set, issuer exactly this
environment's pool, ``token_use = access``, the console's app client, not expired.

- no session cookie, or a token that fails a check: ``Unauthorized`` (API Gateway answers 401, and the console's
  401 page sends the browser to sign in);
- a valid token of a user in neither group (``analysts``, ``admins``): a policy that denies everything (403);
- an analyst: a policy that allows every route of this stage but ``/admin/...`` (403 there); an admin: all.

The policy names the whole stage, not the method asked for: API Gateway caches it and applies it to the next
requests of the same cookie, whatever their route. The context handed to the console
(``requestContext.authorizer``) carries the username and the groups; the token itself goes nowhere else.

The key set is read from the pool's ``/.well-known/jwks.json`` on the Cognito endpoint the SDK uses (AWS's, or
the local cloud's), kept for ``JWKS_CACHE_SECONDS`` and read again, at most every ``JWKS_RETRY_SECONDS``, when a
token names a key it lacks (Cognito adds keys before it signs with them).
"""

from __future__ import annotations

import functools
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import handler_kit as kit

from fraud.tokens import ADMINS, ROLES, RsaKey, TokenError, issuer, key_id, parse_jwks, session_token, verify

JWKS_TIMEOUT_S = 2.0
JWKS_RETRY_SECONDS = 60


class Unauthorized(Exception):
    """API Gateway answers 401 when an authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@dataclass(frozen=True)
class Settings:
    aws_region: str
    user_pool_id: str
    user_pool_client_id: str
    environment: str = ""
    jwks_cache_seconds: int = field(default=3600, metadata={"min": 60})


class KeySet:
    """The pool's signing keys, read from its ``jwks.json`` and kept."""

    def __init__(self, url: str, max_age_s: float) -> None:
        self.url = url
        self.max_age_s = max_age_s
        self.keys: dict[str, RsaKey] = {}
        self.read_at = -1e9

    def _read(self) -> None:
        with urllib.request.urlopen(self.url, timeout=JWKS_TIMEOUT_S) as reply:  # noqa: S310 (https on AWS)
            self.keys = parse_jwks(reply.read())
        self.read_at = time.monotonic()

    def for_token(self, token: str) -> dict[str, RsaKey]:
        kid = key_id(token)
        age = time.monotonic() - self.read_at
        if age >= self.max_age_s or (kid not in self.keys and age >= JWKS_RETRY_SECONDS):
            self._read()
        return self.keys


@dataclass(frozen=True)
class Resources:
    settings: Settings
    issuer: str
    keys: KeySet


@functools.cache
def resources() -> Resources:
    settings = kit.load_settings(Settings)
    endpoint = kit.client("cognito-idp").meta.endpoint_url.rstrip("/")
    return Resources(
        settings=settings,
        issuer=issuer(settings.aws_region, settings.user_pool_id),
        keys=KeySet(f"{endpoint}/{settings.user_pool_id}/.well-known/jwks.json", settings.jwks_cache_seconds),
    )


def policy(method_arn: str, principal: str, roles: tuple[str, ...]) -> dict[str, Any]:
    """The IAM policy for every route of the stage ``method_arn`` is in (``arn:...:<api>/<stage>/<verb>/<path>``)."""
    stage = "/".join(method_arn.split("/")[:2])
    statements: list[dict[str, Any]] = []
    if roles:
        statements.append({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{stage}/*"})
        if ADMINS not in roles:
            statements.append(
                {
                    "Effect": "Deny",
                    "Action": "execute-api:Invoke",
                    "Resource": [f"{stage}/*/admin", f"{stage}/*/admin/*"],
                }
            )
    else:
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{stage}/*"})
    return {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": statements}}


@kit.entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    res = resources()
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    token = session_token(headers.get("cookie"))
    if token is None:
        kit.count("TokensRefused")
        kit.logger.info("No session cookie")
        raise Unauthorized()
    try:
        claims = verify(
            token,
            keys=res.keys.for_token(token),
            issuer=res.issuer,
            client_id=res.settings.user_pool_client_id,
            now_s=int(time.time()),
        )
    except TokenError as error:
        kit.count("TokensRefused")
        kit.logger.info("Token refused", extra={"reason": str(error)})
        raise Unauthorized() from None
    roles = tuple(group for group in ROLES if group in claims.groups)
    answer = policy(str(event.get("methodArn", "")), claims.subject, roles)
    answer["context"] = {
        "username": claims.username,
        "groups": ",".join(roles),
        "environment": res.settings.environment,
        "expires_at": claims.expires_at,
    }
    kit.count("SessionsAccepted")
    kit.logger.info("Session accepted", extra={"username": claims.username, "groups": json.dumps(roles)})
    return answer
