"""The front door's Lambda authorizers (tools/emulator/integrations/authorizers.py): identity sources, API Gateway's
cache, the policy evaluated against each method ARN, and the status of each failure."""

from __future__ import annotations

from typing import Any

import pytest

from tools.emulator.integrations.authorizers import Authorizer, AuthorizerError, Authorizers, Request, allows
from tools.emulator.runtime import Invocation

STAGE = "arn:aws:execute-api:us-east-1:123456789012:api1/prod"


class Runtime:
    """Answers each invocation with the next outcome given, and records the events."""

    def __init__(self, *outcomes: Invocation) -> None:
        self.outcomes = list(outcomes)
        self.events: list[dict[str, Any]] = []

    def invoke(self, arn: str, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        return self.outcomes.pop(0)


def allowed(principal: str = "ana", *deny: str, context: dict[str, Any] | None = None) -> Invocation:
    statements = [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{STAGE}/*"}]
    if deny:
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": list(deny)})
    result = {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": statements}}
    return Invocation("auth", "r", True, {**result, "context": context or {"username": principal}})


def request(path: str = "GET/cases", cookie: str | None = "s=1") -> Request:
    headers = {"cookie": cookie} if cookie else {}
    return Request(
        f"{STAGE}/{path}", headers, {}, {}, {"path": "/" + path.split("/", 1)[1], "headers": headers, "body": "x"}
    )


def authorizers(runtime: Runtime, ttl: int = 60) -> Authorizers:
    spec = Authorizer(
        "a1",
        "session",
        "REQUEST",
        "arn:aws:lambda:us-east-1:123456789012:function:auth",
        ("method.request.header.Cookie",),
        ttl,
    )
    return Authorizers({"a1": spec}, runtime)


def test_the_integration_gets_the_context_and_principal_and_the_event_is_a_request_event():
    runtime = Runtime(allowed(context={"username": "ana", "groups": "analysts"}))
    context = authorizers(runtime).authorize("a1", request())
    assert context == {"username": "ana", "groups": "analysts", "principalId": "ana"}
    [event] = runtime.events
    assert event["type"] == "REQUEST" and event["methodArn"] == f"{STAGE}/GET/cases" and "body" not in event


def test_a_missing_identity_source_is_401_without_invoking_the_function():
    runtime = Runtime()
    with pytest.raises(AuthorizerError) as refused:
        authorizers(runtime).authorize("a1", request(cookie=None))
    assert refused.value.response_type == "UNAUTHORIZED" and runtime.events == []


def test_the_answer_is_cached_by_identity_source_and_evaluated_again_for_each_route():
    runtime = Runtime(allowed("ana", f"{STAGE}/*/admin/*"))
    doors = authorizers(runtime)
    doors.authorize("a1", request("GET/cases"))
    doors.authorize("a1", request("POST/cases/txn-1/decide"))
    with pytest.raises(AuthorizerError) as denied:
        doors.authorize("a1", request("POST/admin/lists"))
    assert denied.value.response_type == "ACCESS_DENIED"
    assert len(runtime.events) == 1 and doors.cache_hits == 2


def test_without_a_cache_every_request_invokes_the_function():
    runtime = Runtime(allowed(), allowed())
    doors = authorizers(runtime, ttl=0)
    doors.authorize("a1", request())
    doors.authorize("a1", request())
    assert len(runtime.events) == 2


@pytest.mark.parametrize(
    ("outcome", "answer"),
    [
        (
            Invocation("auth", "r", False, None, {"errorType": "Unauthorized", "errorMessage": "Unauthorized"}),
            "UNAUTHORIZED",
        ),
        (
            Invocation("auth", "r", False, None, {"errorType": "URLError", "errorMessage": "timed out"}),
            "AUTHORIZER_FAILURE",
        ),
        (Invocation("auth", "r", True, {"policyDocument": {}}), "AUTHORIZER_CONFIGURATION_ERROR"),
        (
            Invocation("auth", "r", True, {"principalId": "p", "policyDocument": {}, "context": {"a": [1]}}),
            "AUTHORIZER_CONFIGURATION_ERROR",
        ),
        (Invocation("auth", "r", True, {"principalId": "p", "policyDocument": {"Statement": []}}), "ACCESS_DENIED"),
    ],
)
def test_each_failure_is_answered_as_api_gateway_answers_it(outcome, answer):
    with pytest.raises(AuthorizerError) as refused:
        authorizers(Runtime(outcome)).authorize("a1", request())
    assert refused.value.response_type == answer


def test_an_explicit_deny_wins_and_wildcards_match_like_iam():
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "execute-api:*", "Resource": [f"{STAGE}/GET/*"]},
            {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": f"{STAGE}/GET/admin*"},
        ]
    }
    assert allows(policy, f"{STAGE}/GET/cases/txn-1")
    assert not allows(policy, f"{STAGE}/GET/admin/settings")
    assert not allows(policy, f"{STAGE}/POST/cases/txn-1/decide")  # no allow matches
    assert not allows({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, f"{STAGE}/GET/x")
