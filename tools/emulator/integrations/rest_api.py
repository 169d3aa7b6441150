"""API Gateway REST APIs: a local HTTP server (the front door) serves each deployed stage as API Gateway would.

Every REST API of the deployment is served (an API belongs to it when an integration or an authorizer of the API
invokes one of its functions), each stage on a port of its own. For each request, in API Gateway's order: route
(``/<stage>/<resource path>``, the most specific resource first, else 403 "Missing Authentication Token"),
authorization (for a ``CUSTOM`` method: its Lambda authorizer, ``authorizers.py``: 401, 403 or 500 as API Gateway
answers, the result cached by identity source; for an ``AWS_IAM`` method: the SigV4 signature, checked by
``tools.emulator.sigv4`` with the secret of the access key from moto's IAM and STS, then the API's
resource policy and the caller's IAM policies, ``tools.emulator.iam``; 403 "Missing Authentication
Token", "The request signature we calculated does not match...", "Signature expired...", "The
security token included in the request is invalid.", "... is expired", or "User: ... is not
authorized to perform: execute-api:Invoke ..."; for a method without authorization, a resource
policy still needs an explicit allow), API key (``x-api-key`` must be an enabled key of a usage plan
on this stage, else 403 "Forbidden"), throttling (the usage plan's token bucket per key and its quota, then the
stage's bucket: 429 "Too Many Requests" / "Limit Exceeded"), body validation against the deployed
request model when the method's validator asks for it (JSON Schema draft-04: 400 "Invalid request
body"), then the ``AWS_PROXY`` integration: a REST API proxy (payload v1) event to the function,
whose ``statusCode``/``headers``/``body`` become the response. A function error is 502 "Internal
server error", a function timeout or an integration over 29 s is 504 "Endpoint request timed out".
Error bodies follow the deployed gateway responses when the API defines any.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft4Validator

from tools.emulator import iam, sigv4
from tools.emulator.integrations.authorizers import Authorizer, AuthorizerError, Authorizers
from tools.emulator.integrations.authorizers import Request as AuthorizerRequest
from tools.emulator.integrations.base import Context, Integration
from tools.emulator.runtime import LambdaRuntime
from tools.emulator.timings import TIMINGS
from tools.emulator.topology import paginate

INTEGRATION_TIMEOUT_S = 29
# API Gateway's default gateway responses (status, message) by response type.
DEFAULT_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "INVALID_SIGNATURE": (403, sigv4.MISMATCH),
    "EXPIRED_TOKEN": (403, sigv4.EXPIRED_TOKEN),
    "ACCESS_DENIED": (403, "Forbidden"),
    # AWS documents no gateway response type for an unknown access key: API Gateway answers it with
    # a 403 UnrecognizedClientException; here it is the default 4XX response, with that status.
    "DEFAULT_4XX": (403, sigv4.INVALID_TOKEN),
    "INVALID_API_KEY": (403, "Forbidden"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "AUTHORIZER_FAILURE": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error"),
}
_QUOTA_PERIOD_S = {"DAY": 86400, "WEEK": 7 * 86400, "MONTH": 30 * 86400}


@dataclass(frozen=True)
class Route:
    resource_id: str
    path: str  # resource path template, e.g. /transactions
    method: str
    authorization: str  # NONE, AWS_IAM or CUSTOM (a Lambda authorizer; Cognito user pool authorizers are not emulated)
    api_key_required: bool
    validate_body: bool
    request_schema: dict[str, Any] | None
    integration_type: str
    function_arn: str | None
    authorizer_id: str | None = None  # a CUSTOM method's authorizer


@dataclass(frozen=True)
class UsagePlan:
    id: str
    name: str
    rate: float | None
    burst: int | None
    quota_limit: int | None
    quota_period: str | None
    key_ids: tuple[str, ...]


@dataclass(frozen=True)
class RestApi:
    id: str
    name: str
    stage: str
    routes: tuple[Route, ...]
    stage_rate: float | None
    stage_burst: int | None
    api_keys: dict[str, str]  # key value -> key id (enabled keys of this stage's usage plans)
    usage_plans: tuple[UsagePlan, ...]
    gateway_responses: dict[str, dict[str, Any]]  # responseType -> {statusCode, responseTemplates}
    policy: str | None = None  # the resource policy document, as stored
    authorizers: dict[str, Authorizer] = field(default_factory=dict)  # by id

    def function_arns(self) -> set[str]:
        """The functions the API invokes: its integrations' and its authorizers'."""
        arns = {r.function_arn for r in self.routes} | {a.function_arn for a in self.authorizers.values()}
        return {arn for arn in arns if arn}


def _lambda_arn_from_uri(uri: str) -> str | None:
    # arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations
    marker = "/functions/"
    if marker not in uri:
        return None
    return uri.split(marker, 1)[1].rsplit("/invocations", 1)[0]


def _throttle(settings: dict[str, Any] | None) -> tuple[float | None, int | None]:
    if not settings:
        return None, None
    rate = settings.get("throttlingRateLimit", settings.get("rateLimit"))
    burst = settings.get("throttlingBurstLimit", settings.get("burstLimit"))
    return (
        float(rate) if rate is not None and float(rate) >= 0 else None,
        int(burst) if burst is not None and int(burst) >= 0 else None,
    )


def read_api(session: Any, api_id: str, stage_name: str) -> RestApi:
    gw = session.client("apigateway")
    api = gw.get_rest_api(restApiId=api_id)
    validators = {v["id"]: v for v in paginate(gw, "get_request_validators", "items", restApiId=api_id)}
    models = {m["name"]: m for m in paginate(gw, "get_models", "items", restApiId=api_id)}
    routes = []
    for resource in paginate(gw, "get_resources", "items", restApiId=api_id):
        for method_name in resource.get("resourceMethods") or {}:
            method = gw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method_name)
            integration = method.get("methodIntegration") or gw.get_integration(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method_name
            )
            validator = validators.get(method.get("requestValidatorId") or "", {})
            model_name = (method.get("requestModels") or {}).get("application/json")
            schema = models[model_name].get("schema") if model_name in models else None
            routes.append(
                Route(
                    resource_id=resource["id"],
                    path=resource["path"],
                    method=method_name,
                    authorization=method.get("authorizationType") or "NONE",
                    api_key_required=bool(method.get("apiKeyRequired")),
                    validate_body=bool(validator.get("validateRequestBody")),
                    request_schema=json.loads(schema) if isinstance(schema, str) else schema,
                    integration_type=integration.get("type", ""),
                    function_arn=_lambda_arn_from_uri(integration.get("uri", "")),
                    authorizer_id=method.get("authorizerId"),
                )
            )
    stage = gw.get_stage(restApiId=api_id, stageName=stage_name)
    settings = stage.get("methodSettings") or {}
    stage_rate, stage_burst = _throttle(settings.get("*/*"))
    plans, keys = [], {}
    for plan in paginate(gw, "get_usage_plans", "items"):
        if not any(s["apiId"] == api_id and s["stage"] == stage_name for s in plan.get("apiStages", [])):
            continue
        key_ids = tuple(k["id"] for k in paginate(gw, "get_usage_plan_keys", "items", usagePlanId=plan["id"]))
        for key_id in key_ids:
            key = gw.get_api_key(apiKey=key_id, includeValue=True)
            if key.get("enabled", True):
                keys[key["value"]] = key_id
        rate, burst = _throttle(plan.get("throttle"))
        quota = plan.get("quota") or {}
        plans.append(
            UsagePlan(
                id=plan["id"],
                name=plan.get("name", ""),
                rate=rate,
                burst=burst,
                quota_limit=quota.get("limit"),
                quota_period=quota.get("period"),
                key_ids=key_ids,
            )
        )
    responses = {
        r["responseType"]: r
        for r in paginate(gw, "get_gateway_responses", "items", restApiId=api_id)
        if not r.get("defaultResponse", False)
    }
    authorizers = {
        a["id"]: Authorizer.read(a, _lambda_arn_from_uri(a.get("authorizerUri", "")))
        for a in paginate(gw, "get_authorizers", "items", restApiId=api_id)
    }
    return RestApi(
        id=api_id,
        name=api.get("name", ""),
        stage=stage_name,
        routes=tuple(routes),
        stage_rate=stage_rate,
        stage_burst=stage_burst,
        api_keys=keys,
        usage_plans=tuple(plans),
        gateway_responses=responses,
        policy=api.get("policy") or None,
        authorizers=authorizers,
    )


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = max(burst, 1) if rate > 0 else 0
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class Quota:
    limit: int
    period_s: int
    used: int = 0
    window_start: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            now = time.time()
            if now - self.window_start >= self.period_s:
                self.window_start, self.used = now, 0
            if self.used >= self.limit:
                return False
            self.used += 1
            return True


class GatewayError(Exception):
    """An answer API Gateway gives itself. ``message`` replaces the response type's default message
    (the signature checks' own texts); ``error_type`` the ``x-amzn-ErrorType`` header."""

    def __init__(
        self, response_type: str, detail: str = "", *, message: str | None = None, error_type: str | None = None
    ) -> None:
        super().__init__(response_type)
        self.response_type = response_type
        self.detail = detail
        self.message = message
        self.error_type = error_type


# How each failed signature check is answered: the gateway response type and x-amzn-ErrorType.
SIGNATURE_ANSWERS = {
    "missing": ("MISSING_AUTHENTICATION_TOKEN", "MissingAuthenticationTokenException"),
    "incomplete": ("INVALID_SIGNATURE", "IncompleteSignatureException"),
    "signature": ("INVALID_SIGNATURE", "InvalidSignatureException"),
    "unrecognized": ("DEFAULT_4XX", "UnrecognizedClientException"),
    "expired_token": ("EXPIRED_TOKEN", "ExpiredTokenException"),
}


class FrontDoor:
    """Serves one deployed REST API stage on ``http://127.0.0.1:<port>/<stage>/...``."""

    def __init__(self, api: RestApi, runtime: LambdaRuntime, account: str, region: str, port: int = 0) -> None:
        self.api = api
        self.runtime = runtime
        self.account = account
        self.region = region
        # API Gateway matches the most specific resource: literal paths before {param} ones, a greedy {param+} last.
        ordered = sorted(api.routes, key=lambda r: (r.path.count("+}"), r.path.count("{"), -r.path.count("/")))
        self._routes = [(self._path_regex(r.path), r) for r in ordered]
        self.authorizers = Authorizers(api.authorizers, runtime)
        self._api_arn = f"arn:aws:execute-api:{region}:{account}:{api.id}"
        self._policy = iam.ResourcePolicy.parse(api.policy, self._api_arn)
        self._stage_bucket = TokenBucket(api.stage_rate, api.stage_burst or 0) if api.stage_rate is not None else None
        self._key_plans = {key_id: plan for plan in api.usage_plans for key_id in plan.key_ids}
        self._key_buckets: dict[str, TokenBucket] = {}
        self._quotas: dict[str, Quota] = {}
        self._lock = threading.Lock()
        self._validators: dict[str, Draft4Validator] = {}
        self.counts: dict[int, int] = {}
        self._invoke_s = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="front-door", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]  # the address bound (an IPv4 host and port)
        return f"http://{host}:{port}/{self.api.stage}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> FrontDoor:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _path_regex(template: str) -> re.Pattern[str]:
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(template))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        return re.compile(f"^{pattern}$")

    # -- the request pipeline ------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, Any], bytes]:
        """The response: its status, its headers (a list for a header sent several times) and its body."""
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        self._invoke_s.seconds = 0.0
        try:
            status, response_headers, response_body = self._handle(
                method, raw_path, headers, body, source_ip, request_id
            )
        except GatewayError as error:
            status, response_headers, response_body = self._gateway_response(error, request_id)
        response_headers.setdefault("Content-Type", "application/json")
        response_headers["x-amzn-RequestId"] = request_id
        with self._lock:
            self.counts[status] = self.counts.get(status, 0) + 1
        TIMINGS.add("api front door (without the function)", time.perf_counter() - started - self._invoke_s.seconds)
        return status, response_headers, response_body

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str, request_id: str
    ) -> tuple[int, dict[str, Any], bytes]:
        parts = urlsplit(raw_path)
        stage_prefix = f"/{self.api.stage}"
        if not (parts.path == stage_prefix or parts.path.startswith(stage_prefix + "/")):
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        path = parts.path[len(stage_prefix) :] or "/"
        route, path_params = self._route(method, path)
        lower = {k.lower(): v for k, v in headers.items()}
        caller = self._authorize(route, method, path, raw_path, headers, body, source_ip)
        authorized = None
        if route.authorization == "CUSTOM":  # the Lambda authorizer, before the API key check and throttling
            seen = self._proxy_event(
                route, method, path, parts.query, headers, body, source_ip, request_id, None, path_params
            )
            authorized = self._run_authorizer(route, method, path, lower, seen)
        key_id = None
        if route.api_key_required:
            key_id = self.api.api_keys.get(lower.get("x-api-key", ""))
            if key_id is None:
                raise GatewayError("INVALID_API_KEY")
        self._throttle(key_id)
        if route.validate_body and route.request_schema is not None:
            self._validate(route, body)
        if route.integration_type != "AWS_PROXY" or not route.function_arn:
            raise GatewayError("INTEGRATION_FAILURE", f"integration {route.integration_type} is not emulated")
        event = self._proxy_event(
            route, method, path, parts.query, headers, body, source_ip, request_id, key_id, path_params, caller
        )
        if authorized is not None:
            event["requestContext"]["authorizer"] = authorized
        invoked = time.perf_counter()
        outcome = self.runtime.invoke(route.function_arn, event)
        self._invoke_s.seconds += time.perf_counter() - invoked
        if not outcome.ok:
            if outcome.error_type == "Sandbox.Timedout":
                raise GatewayError("INTEGRATION_TIMEOUT")
            raise GatewayError("INTEGRATION_FAILURE", json.dumps(outcome.error))
        if outcome.duration_ms > INTEGRATION_TIMEOUT_S * 1000:
            raise GatewayError("INTEGRATION_TIMEOUT")
        return self._proxy_response(outcome.result)

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for regex, route in self._routes:
            match = regex.match(path)
            if match and route.method in (method, "ANY"):
                return route, match.groupdict()
        raise GatewayError("MISSING_AUTHENTICATION_TOKEN")

    def _authorize(
        self, route: Route, method: str, path: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> iam.Caller | None:
        """The signing caller of an AWS_IAM method once it is authenticated and allowed; None for a
        method without authorization (whose resource policy, if any, must still allow the request)."""
        resource = f"{self._api_arn}/{self.api.stage}/{method}{path}"
        if route.authorization != "AWS_IAM":
            if self._policy is not None and self._policy.decision(None, resource, source_ip) != "allow":
                raise GatewayError(
                    "ACCESS_DENIED",
                    message=f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {resource}",
                    error_type="AccessDeniedException",
                )
            return None
        host = next((v for k, v in headers.items() if k.lower() == "host"), "")
        try:
            secret = sigv4.verify(
                method, host, raw_path, headers, body, lookup=iam.lookup, region=self.region, now=datetime.now(UTC)
            )
        except sigv4.SignatureError as error:
            response_type, error_type = SIGNATURE_ANSWERS[error.kind]
            raise GatewayError(response_type, message=error.message, error_type=error_type) from None
        caller = secret.identity
        assert isinstance(caller, iam.Caller)
        refusal = iam.authorize(caller, resource, self._policy, self.account, source_ip)
        if refusal is not None:
            raise GatewayError(
                "ACCESS_DENIED",
                message=f"User: {caller.arn} is not authorized to perform: execute-api:Invoke on resource: "
                f"{resource} {refusal}",
                error_type="AccessDeniedException",
            )
        return caller

    def _run_authorizer(
        self, route: Route, method: str, path: str, headers: dict[str, str], event: dict[str, Any]
    ) -> dict[str, Any]:
        """A CUSTOM method's Lambda authorizer (``authorizers.py``): the context it hands the integration."""
        method_arn = f"{self._api_arn}/{self.api.stage}/{method}{path}"
        request = AuthorizerRequest(method_arn, headers, event.get("queryStringParameters") or {}, {}, event)
        invoked = time.perf_counter()
        try:
            return self.authorizers.authorize(route.authorizer_id, request)
        except AuthorizerError as error:
            denied = "User is not authorized to access this resource with an explicit deny"
            raise GatewayError(
                error.response_type, message=denied if error.response_type == "ACCESS_DENIED" else None
            ) from None
        finally:
            self._invoke_s.seconds += time.perf_counter() - invoked

    def _throttle(self, key_id: str | None) -> None:
        if key_id and (plan := self._key_plans.get(key_id)) is not None:
            with self._lock:
                if key_id not in self._key_buckets and plan.rate is not None:
                    self._key_buckets[key_id] = TokenBucket(plan.rate, plan.burst or 0)
                if key_id not in self._quotas and plan.quota_limit is not None:
                    self._quotas[key_id] = Quota(
                        plan.quota_limit, _QUOTA_PERIOD_S.get(plan.quota_period or "DAY", 86400)
                    )
            bucket = self._key_buckets.get(key_id)
            if bucket is not None and not bucket.take():
                raise GatewayError("THROTTLED")
            quota = self._quotas.get(key_id)
            if quota is not None and not quota.take():
                raise GatewayError("QUOTA_EXCEEDED")
        if self._stage_bucket is not None and not self._stage_bucket.take():
            raise GatewayError("THROTTLED")

    def _validate(self, route: Route, body: bytes) -> None:
        # Decimals, not floats, on both sides: API Gateway checks `multipleOf: 0.01` exactly, and in
        # binary floating point 906.31 is not a multiple of 0.01.
        try:
            document = json.loads(body or b"null", parse_float=Decimal)
        except ValueError:
            raise GatewayError("BAD_REQUEST_BODY", "[Invalid JSON]") from None
        validator = self._validators.get(route.resource_id + route.method)
        if validator is None:
            schema = json.loads(json.dumps(route.request_schema), parse_float=Decimal)
            validator = self._validators[route.resource_id + route.method] = Draft4Validator(schema)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if errors:
            raise GatewayError("BAD_REQUEST_BODY", "[" + ", ".join(e.message for e in errors) + "]")

    def _proxy_event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
        key_id: str | None,
        path_params: dict[str, str],
        caller: iam.Caller | None = None,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True) if query else None
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers.items():
            multi_headers.setdefault(name, []).append(value)
        now = datetime.now(UTC)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        lower = {k.lower(): v for k, v in headers.items()}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers) or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": route.resource_id,
                "resourcePath": route.path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.api.stage}{path}",
                "accountId": self.account,
                "protocol": "HTTP/1.1",
                "stage": self.api.stage,
                "domainPrefix": self.api.id,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent"),
                    "apiKey": lower.get("x-api-key") if key_id else None,
                    "apiKeyId": key_id,
                    "accessKey": _access_key(lower.get("authorization")) if caller else None,
                    "accountId": caller.account if caller else None,
                    "caller": caller.user_id if caller else None,
                    "user": caller.user_id if caller else None,
                    "userArn": caller.arn if caller else None,
                },
                "domainName": f"{self.api.id}.execute-api.{self.region}.amazonaws.com",
                "apiId": self.api.id,
            },
            "body": text if body else None,
            "isBase64Encoded": encoded,
        }

    @staticmethod
    def _proxy_response(result: Any) -> tuple[int, dict[str, Any], bytes]:
        """A proxy integration result; anything malformed is a 502, as API Gateway answers. A multi-value
        header stays a list: each value is sent as its own header line (several ``Set-Cookie``)."""
        if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
            raise GatewayError("INTEGRATION_FAILURE", "Malformed Lambda proxy response")
        headers: dict[str, Any] = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(name)] = [str(v) for v in values]
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise GatewayError("INTEGRATION_FAILURE", "Malformed Lambda proxy response")
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return int(result.get("statusCode", 200)), headers, raw

    def _gateway_response(self, error: GatewayError, request_id: str) -> tuple[int, dict[str, Any], bytes]:
        status, message = DEFAULT_RESPONSES[error.response_type]
        message = error.message or message
        headers: dict[str, Any] = {"x-amzn-ErrorType": error.error_type or _error_type(error.response_type)}
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"  # the API's default response of the family
        deployed = self.api.gateway_responses.get(error.response_type) or self.api.gateway_responses.get(family) or {}
        template = (deployed.get("responseTemplates") or {}).get("application/json")
        if deployed.get("statusCode"):
            status = int(deployed["statusCode"])
        for name, value in (deployed.get("responseParameters") or {}).items():
            if name.startswith("gatewayresponse.header."):
                headers[name.removeprefix("gatewayresponse.header.")] = value.strip("'")
        if template:
            body = (
                template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.validationErrorString", json.dumps(error.detail)[1:-1])
                .replace("$context.requestId", request_id)
                .replace("$context.error.responseType", error.response_type)
            )
        else:
            body = json.dumps({"message": message})
        return status, headers, body.encode("utf-8")

    # -- HTTP ----------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = door.handle(
                    self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                )
                try:
                    reason = HTTPStatus(status).phrase
                except ValueError:
                    reason = ""
                self.send_response(status, reason)
                for name, value in headers.items():
                    for line in value if isinstance(value, list) else [value]:
                        self.send_header(name, line)
                self.send_header("Content-Length", str(len(payload)))
                # Headers and body in one write (no 40 ms Nagle/delayed-ACK stall on a kept-alive connection).
                self._headers_buffer.append(b"\r\n" + payload)  # type: ignore[attr-defined]  # typeshed omits it
                self.flush_headers()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:  # access logs stay quiet
                pass

        return Handler


def _access_key(authorization: str | None) -> str | None:
    """The access key id of a SigV4 Authorization header (what API Gateway reports as identity.accessKey)."""
    match = re.search(r"Credential=([^/,\s]+)/", authorization or "")
    return match.group(1) if match else None


def _error_type(response_type: str) -> str:
    return {
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "INVALID_SIGNATURE": "InvalidSignatureException",
        "EXPIRED_TOKEN": "ExpiredTokenException",
        "ACCESS_DENIED": "AccessDeniedException",
        "INVALID_API_KEY": "ForbiddenException",
        "THROTTLED": "TooManyRequestsException",
        "QUOTA_EXCEEDED": "LimitExceededException",
        "BAD_REQUEST_BODY": "BadRequestException",
        "INTEGRATION_FAILURE": "InternalServerErrorException",
        "INTEGRATION_TIMEOUT": "InternalServerErrorException",
        "UNAUTHORIZED": "UnauthorizedException",
        "AUTHORIZER_FAILURE": "AuthorizerFailureException",
        "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    }[response_type]


def deployed_apis(session: Any, function_arns: set[str]) -> list[RestApi]:
    """Every stage of every REST API that invokes one of ``function_arns`` (the deployment's functions)."""
    gw = session.client("apigateway")
    found = []
    for api in paginate(gw, "get_rest_apis", "items"):
        for stage in gw.get_stages(restApiId=api["id"]).get("item", []):
            served = read_api(session, api["id"], stage["stageName"])
            if served.function_arns() & function_arns:
                found.append(served)
    return found


class RestApis(Integration):
    """The deployment's REST APIs, each stage served by a front door of its own. The API named by the Terraform
    output ``api_id`` (if any) gets the port asked for (``--api-port``); the others a free port each."""

    name = "rest-api"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        arns = {spec.arn for spec in ctx.topology.functions.values()}
        self.apis = deployed_apis(ctx.session, arns)
        self.front_doors: dict[str, FrontDoor] = {}  # by API id

    @property
    def deployed(self) -> bool:
        return bool(self.apis)

    def start(self) -> None:
        topology = self.ctx.topology
        named = topology.outputs.get("api_id")
        for api in self.apis:
            port = self.ctx.api_port if api.id == named else 0
            self.front_doors[api.id] = FrontDoor(api, self.ctx.runtime, topology.account, topology.region, port).start()

    def stop(self) -> None:
        for door in self.front_doors.values():
            door.close()

    def url(self, deployed_url: str) -> str:
        """The local URL of a deployed invoke URL (``https://<api id>.execute-api.<region>.amazonaws.com/<stage>/...``):
        the front door of that API, same stage and path."""
        host = deployed_url.split("://", 1)[-1].split("/", 1)[0]
        door = self.front_doors.get(host.split(".", 1)[0])
        if door is None:
            raise KeyError(f"no REST API of this deployment serves {deployed_url}")
        stage = f"/{door.api.stage}"
        path = deployed_url.split(stage, 1)[1] if f"{stage}/" in deployed_url else ""
        return door.url(path)

    def counters(self) -> dict[str, Any]:
        if not self.front_doors:
            return {}
        responses: dict[int, int] = {}
        for door in self.front_doors.values():
            for status, count in door.counts.items():
                responses[status] = responses.get(status, 0) + count
        return {
            "responses": responses,
            "apis": {
                door.api.name: {"responses": dict(door.counts), "authorizers": door.authorizers.counters()}
                for door in self.front_doors.values()
            },
        }
