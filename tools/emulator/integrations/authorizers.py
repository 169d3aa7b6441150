"""Lambda authorizers of a REST API, run by the front door (``rest_api.py``) as API Gateway runs them.

For a method whose ``authorizationType`` is ``CUSTOM``, before the API key check and throttling:

1. identity sources (``method.request.header.X``, ``method.request.querystring.X``, ``stageVariables.X``): when
   the authorizer caches (a TTL above 0), a missing or empty one is 401 ``Unauthorized`` without invoking it;
2. the cache: the authorizer's last answer for the same identity source values, for ``authorizerResultTtlInSeconds``
   (300 when unset), keyed by the authorizer and those values; the cached policy is evaluated again against each
   request's method ARN;
3. otherwise the function is invoked synchronously with the ``REQUEST`` event (``type``, ``methodArn``, the
   request's resource, path, method, headers, query string, path parameters, request context) or the ``TOKEN``
   event (``type``, ``methodArn``, ``authorizationToken``). A function error whose message is exactly
   ``Unauthorized`` is 401; any other error is 500 (``AUTHORIZER_FAILURE``); an answer without a principal or a
   policy is 500 (``AUTHORIZER_CONFIGURATION_ERROR``);
4. the policy: an explicit ``Deny`` whose resource matches the method ARN (``*`` and ``?`` wildcards) wins,
   else an ``Allow`` must match, else 403 (``ACCESS_DENIED``);
5. the integration gets ``requestContext.authorizer``: the answer's ``context`` and its ``principalId``.

Everything is read back from the deployment (``GetAuthorizers``, each method's ``authorizationType`` and
``authorizerId``); nothing here names a resource of this project.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_TTL_S = 300
EXECUTE = {"execute-api:invoke", "execute-api:*", "*"}


class AuthorizerError(Exception):
    """The gateway answers ``response_type`` instead of calling the integration."""

    def __init__(self, response_type: str) -> None:
        super().__init__(response_type)
        self.response_type = response_type


@dataclass(frozen=True)
class Authorizer:
    id: str
    name: str
    type: str  # TOKEN | REQUEST (COGNITO_USER_POOLS is not emulated)
    function_arn: str | None
    identity_sources: tuple[str, ...]
    ttl_s: int

    @classmethod
    def read(cls, data: dict[str, Any], function_arn: str | None) -> Authorizer:
        sources = tuple(s.strip() for s in (data.get("identitySource") or "").split(",") if s.strip())
        ttl = data.get("authorizerResultTtlInSeconds")
        return cls(
            id=data["id"],
            name=data.get("name", ""),
            type=data.get("type", "TOKEN"),
            function_arn=function_arn,
            identity_sources=sources,
            ttl_s=DEFAULT_TTL_S if ttl is None else int(ttl),
        )


@dataclass(frozen=True)
class Request:
    """What an authorizer may read of a request (headers with lower-case names)."""

    method_arn: str
    headers: dict[str, str]
    query: dict[str, str]
    stage_variables: dict[str, str]
    event: dict[str, Any]  # the proxy event of the request (the REQUEST authorizer's event is built from it)


def identity(authorizer: Authorizer, request: Request) -> tuple[str, ...] | None:
    """The identity source values of ``request``, or None when one is missing or empty."""
    values = []
    for source in authorizer.identity_sources:
        if source.startswith("method.request.header."):
            value = request.headers.get(source.removeprefix("method.request.header.").lower())
        elif source.startswith("method.request.querystring."):
            value = request.query.get(source.removeprefix("method.request.querystring."))
        elif source.startswith("stageVariables."):
            value = request.stage_variables.get(source.removeprefix("stageVariables."))
        else:
            value = None
        if not value:
            return None
        values.append(value)
    return tuple(values)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM's evaluation of an authorizer's policy for ``execute-api:Invoke`` on ``method_arn``: an explicit deny
    wins, an allow is needed."""
    allowed = False
    for statement in _listed(policy.get("Statement") or []):
        if not isinstance(statement, dict):
            continue
        actions = {str(a).lower() for a in _listed(statement.get("Action") or [])}
        if not actions & EXECUTE:
            continue
        if not any(fnmatch.fnmatchcase(method_arn, str(r)) for r in _listed(statement.get("Resource") or [])):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


@dataclass(frozen=True)
class Answer:
    principal: str
    policy: dict[str, Any]
    context: dict[str, Any]


class Authorizers:
    """The authorizers of one API, invoked through the Lambda runtime, with API Gateway's cache."""

    def __init__(self, authorizers: dict[str, Authorizer], runtime: Any) -> None:
        self.authorizers = authorizers
        self.runtime = runtime
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, Answer]] = {}
        self._lock = threading.Lock()
        self.invocations = 0
        self.cache_hits = 0

    def authorize(self, authorizer_id: str | None, request: Request) -> dict[str, Any]:
        """``requestContext.authorizer`` for the integration, or ``AuthorizerError`` with the gateway's answer."""
        authorizer = self.authorizers.get(authorizer_id or "")
        if authorizer is None or authorizer.function_arn is None or authorizer.type not in ("TOKEN", "REQUEST"):
            raise AuthorizerError("AUTHORIZER_CONFIGURATION_ERROR")
        values = identity(authorizer, request)
        if values is None and authorizer.ttl_s > 0:
            raise AuthorizerError("UNAUTHORIZED")
        key = (authorizer.id, values or ())
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key) if authorizer.ttl_s > 0 else None
        if cached is not None and cached[0] > now:
            self.cache_hits += 1
            answer = cached[1]
        else:
            answer = self._invoke(authorizer, request)
            if authorizer.ttl_s > 0:
                with self._lock:
                    self._cache[key] = (now + authorizer.ttl_s, answer)
        if not allows(answer.policy, request.method_arn):
            raise AuthorizerError("ACCESS_DENIED")
        return {**answer.context, "principalId": answer.principal}

    def _invoke(self, authorizer: Authorizer, request: Request) -> Answer:
        if authorizer.type == "TOKEN":
            token = request.headers.get(authorizer.identity_sources[0].rsplit(".", 1)[-1].lower(), "")
            event: dict[str, Any] = {"type": "TOKEN", "methodArn": request.method_arn, "authorizationToken": token}
        else:
            event = {
                "type": "REQUEST",
                "methodArn": request.method_arn,
                **{k: v for k, v in request.event.items() if k not in ("body", "isBase64Encoded")},
            }
        self.invocations += 1
        outcome = self.runtime.invoke(authorizer.function_arn, event)
        if not outcome.ok:
            message = (outcome.error or {}).get("errorMessage") if isinstance(outcome.error, dict) else None
            raise AuthorizerError("UNAUTHORIZED" if message == "Unauthorized" else "AUTHORIZER_FAILURE")
        result = outcome.result
        if isinstance(result, str):
            try:
                result = json.loads(result)
            except ValueError:
                result = None
        if not isinstance(result, dict) or not result.get("principalId") or "policyDocument" not in result:
            raise AuthorizerError("AUTHORIZER_CONFIGURATION_ERROR")
        context = result.get("context") or {}
        if not isinstance(context, dict) or any(isinstance(v, (dict, list)) for v in context.values()):
            raise AuthorizerError("AUTHORIZER_CONFIGURATION_ERROR")  # only strings, numbers and booleans
        policy = result["policyDocument"]
        return Answer(str(result["principalId"]), policy if isinstance(policy, dict) else {}, dict(context))

    def counters(self) -> dict[str, int]:
        return {"invocations": self.invocations, "cache_hits": self.cache_hits}
