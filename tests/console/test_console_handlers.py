"""The console and its authorizer as Lambda runs them, against a moto server (tables and a Cognito user pool):
sign-in, the token checks, the queue, decisions, forgery protection, escaping, lists, reveals, quality."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from fraud.cases import CaseStore, case_from_alert
from fraud.labels import Label, LabelStore
from fraud.storage import TransactionStore
from tests.console.support import (
    CASES_TABLE,
    LABELS_TABLE,
    LISTS_TABLE,
    PASSWORD,
    create_case_tables,
    transaction_alert,
)
from tests.unit.conftest import _fresh
from tests.unit.handler_support import FUNCTION_ENV, create_transactions_table, make_transaction

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
STAGE = "test"
SECURE_COOKIE = re.compile(r"; Secure; HttpOnly; SameSite=Strict$")


def _pool(cognito: Any, name: str, users: dict[str, str | None]) -> SimpleNamespace:
    pool = cognito.create_user_pool(PoolName=name, MfaConfiguration="OPTIONAL")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName=name, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for group in ("analysts", "admins"):
        cognito.create_group(UserPoolId=pool, GroupName=group)
    for username, group in users.items():
        cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
        if group:
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    return SimpleNamespace(id=pool, client=client)


@pytest.fixture(scope="module")
def world() -> Iterator[SimpleNamespace]:
    """A moto server with this environment's tables and user pool, and another environment's pool."""
    from tools.emulator.localaws import LocalAWS

    with LocalAWS() as aws:
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        dynamodb = session.client("dynamodb", endpoint_url=aws.endpoint)
        cognito = session.client("cognito-idp", endpoint_url=aws.endpoint)
        create_transactions_table(dynamodb, FUNCTION_ENV["TABLE_NAME"])
        create_case_tables(dynamodb)
        yield SimpleNamespace(
            endpoint=aws.endpoint,
            dynamodb=dynamodb,
            cognito=cognito,
            pool=_pool(cognito, "analysts-test", {"ana": "analysts", "root": "admins", "eve": None}),
            other=_pool(cognito, "analysts-other", {"mallory": "analysts"}),
        )


@pytest.fixture
def handlers(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, _fresh_clients: None
) -> Iterator[SimpleNamespace]:
    for name, value in {
        "AWS_ENDPOINT_URL": world.endpoint,
        "USER_POOL_ID": world.pool.id,
        "USER_POOL_CLIENT_ID": world.pool.client,
        "CASES_TABLE_NAME": CASES_TABLE,
        "LABELS_TABLE_NAME": LABELS_TABLE,
        "LISTS_TABLE_NAME": LISTS_TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    yield SimpleNamespace(console=_fresh("console"), authorizer=_fresh("console_authorizer"))
    _fresh("console")
    _fresh("console_authorizer")


def event(
    method: str,
    path: str,
    *,
    user: str | None = None,
    groups: str = "analysts",
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it after the authorizer accepted ``user``."""
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if form is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "queryStringParameters": query,
        "body": urlencode(form) if form is not None else None,
        "isBase64Encoded": False,
        "requestContext": {
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "authorizer": {"principalId": "sub", "username": user, "groups": groups} if user else None,
        },
    }


def cookies_of(response: dict[str, Any]) -> dict[str, str]:
    return {
        c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0]
        for c in response.get("multiValueHeaders", {}).get("Set-Cookie", [])
    }


def sign_in(h: SimpleNamespace, context: Any, username: str = "ana", password: str = PASSWORD) -> dict[str, Any]:
    form_page = h.console.handler(event("GET", "/login"), context)
    nonce = cookies_of(form_page)["__Host-fraud-login"]
    assert f'value="{nonce}"' in form_page["body"]
    return h.console.handler(
        event(
            "POST",
            "/login",
            cookies={"__Host-fraud-login": nonce},
            form={"login_csrf": nonce, "step": "password", "username": username, "password": password, "next": ""},
        ),
        context,
    )


def session(h: SimpleNamespace, context: Any, username: str = "ana") -> str:
    return cookies_of(sign_in(h, context, username))["__Host-fraud-session"]


def authorize(h: SimpleNamespace, context: Any, cookie: str | None, path: str = "/cases", method: str = "GET") -> Any:
    headers = {"Cookie": cookie} if cookie is not None else {}
    return h.authorizer.handler(
        {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:abc123/{STAGE}/{method}{path}",
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": headers,
        },
        context,
    )


# --- signing in -----------------------------------------------------------------------------------


def test_signing_in_sets_a_short_secure_session_and_lands_on_the_queue(handlers, lambda_context):
    response = sign_in(handlers, lambda_context)
    assert response["statusCode"] == 303 and response["headers"]["Location"] == f"/{STAGE}/cases"
    set_cookies = response["multiValueHeaders"]["Set-Cookie"]
    [session_cookie] = [c for c in set_cookies if c.startswith("__Host-fraud-session=")]
    assert SECURE_COOKIE.search(session_cookie) and "Path=/;" in session_cookie and "Max-Age=3600" in session_cookie
    [refresh] = [c for c in set_cookies if c.startswith("__Secure-fraud-refresh=")]
    assert f"Path=/{STAGE}/login;" in refresh  # the refresh token goes to the sign-in path only


@pytest.mark.parametrize(("username", "password"), [("ana", "wrong-Passw0rd!"), ("nobody", PASSWORD)])
def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(handlers, lambda_context, username, password):
    response = sign_in(handlers, lambda_context, username, password)
    assert response["statusCode"] == 401
    assert "Wrong username, password or code." in response["body"]
    assert "__Host-fraud-session" not in cookies_of(response)


def test_a_sign_in_form_not_served_by_the_console_is_refused(handlers, lambda_context):
    forged = event("POST", "/login", form={"login_csrf": "x", "username": "ana", "password": PASSWORD})
    assert handlers.console.handler(forged, lambda_context)["statusCode"] == 403


def test_mfa_is_asked_for_when_the_user_turned_it_on(handlers, world, lambda_context):
    username = f"mfa-{uuid.uuid4().hex[:6]}"
    world.cognito.admin_create_user(UserPoolId=world.pool.id, Username=username, MessageAction="SUPPRESS")
    world.cognito.admin_set_user_password(
        UserPoolId=world.pool.id, Username=username, Password=PASSWORD, Permanent=True
    )
    world.cognito.admin_add_user_to_group(UserPoolId=world.pool.id, Username=username, GroupName="analysts")
    token = session(handlers, lambda_context, username)
    page = handlers.console.handler(
        event("GET", "/account/mfa", user=username, cookies={"__Host-fraud-session": token}), lambda_context
    )
    assert page["statusCode"] == 200 and "authenticator app" in page["body"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page["body"]).group(1)
    done = handlers.console.handler(
        event(
            "POST",
            "/account/mfa",
            user=username,
            cookies={"__Host-fraud-session": token},
            form={"csrf": csrf, "code": "123456"},
        ),
        lambda_context,
    )
    assert "asks for a code" in done["body"]

    challenged = sign_in(handlers, lambda_context, username)
    assert challenged["statusCode"] == 200 and 'name="step" value="mfa"' in challenged["body"]
    jar = cookies_of(challenged)
    nonce = jar["__Host-fraud-login"]
    answered = handlers.console.handler(
        event(
            "POST",
            "/login",
            cookies={"__Host-fraud-login": nonce, "__Host-fraud-challenge": jar["__Host-fraud-challenge"]},
            form={"login_csrf": nonce, "step": "mfa", "code": "654321", "next": ""},
        ),
        lambda_context,
    )
    assert answered["statusCode"] == 303 and "__Host-fraud-session" in cookies_of(answered)


def test_a_first_sign_in_sets_a_new_password(handlers, world, lambda_context):
    username = f"new-{uuid.uuid4().hex[:6]}"
    world.cognito.admin_create_user(
        UserPoolId=world.pool.id, Username=username, TemporaryPassword="Temporary-Passw0rd!", MessageAction="SUPPRESS"
    )
    asked = sign_in(handlers, lambda_context, username, "Temporary-Passw0rd!")
    assert 'name="step" value="new_password"' in asked["body"]
    jar = cookies_of(asked)
    done = handlers.console.handler(
        event(
            "POST",
            "/login",
            cookies={
                "__Host-fraud-login": jar["__Host-fraud-login"],
                "__Host-fraud-challenge": jar["__Host-fraud-challenge"],
            },
            form={
                "login_csrf": jar["__Host-fraud-login"],
                "step": "new_password",
                "new_password": PASSWORD + "x",
                "next": "",
            },
        ),
        lambda_context,
    )
    assert done["statusCode"] == 303 and "__Host-fraud-session" in cookies_of(done)


def test_signing_out_signs_out_globally_and_clears_the_cookies(handlers, world, lambda_context):
    token = session(handlers, lambda_context)
    from console_web.web import csrf_token

    out = handlers.console.handler(
        event("POST", "/logout", user="ana", cookies={"__Host-fraud-session": token}, form={"csrf": csrf_token(token)}),
        lambda_context,
    )
    assert out["statusCode"] == 303 and "Max-Age=0" in " ".join(out["multiValueHeaders"]["Set-Cookie"])
    with pytest.raises(world.cognito.exceptions.NotAuthorizedException):
        world.cognito.get_user(AccessToken=token)


# --- the authorizer -------------------------------------------------------------------------------


def test_an_analyst_may_use_every_route_but_the_admin_ones(handlers, lambda_context):
    answer = authorize(handlers, lambda_context, f"__Host-fraud-session={session(handlers, lambda_context)}")
    statements = answer["policyDocument"]["Statement"]
    stage = f"arn:aws:execute-api:us-east-1:123456789012:abc123/{STAGE}"
    assert statements == [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{stage}/*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [f"{stage}/*/admin", f"{stage}/*/admin/*"]},
    ]
    assert answer["context"]["username"] == "ana" and answer["context"]["groups"] == "analysts"


def test_an_admin_may_use_every_route_and_a_user_in_no_group_none(handlers, lambda_context):
    admin = authorize(handlers, lambda_context, f"__Host-fraud-session={session(handlers, lambda_context, 'root')}")
    assert [s["Effect"] for s in admin["policyDocument"]["Statement"]] == ["Allow"]
    nobody = authorize(handlers, lambda_context, f"__Host-fraud-session={session(handlers, lambda_context, 'eve')}")
    assert [s["Effect"] for s in nobody["policyDocument"]["Statement"]] == ["Deny"]


def test_a_missing_expired_tampered_or_other_pools_token_is_unauthorized(handlers, world, lambda_context, monkeypatch):
    good = session(handlers, lambda_context)
    other = world.cognito.initiate_auth(
        ClientId=world.other.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mallory", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    head, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cognito:groups"] = ["admins"]
    tampered = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), signature])
    for cookie in (
        None,
        "theme=dark",
        f"__Host-fraud-session={other}",
        f"__Host-fraud-session={tampered}",
        "__Host-fraud-session=x.y.z",
    ):
        with pytest.raises(Exception, match="^Unauthorized$"):
            authorize(handlers, lambda_context, cookie)
    monkeypatch.setattr(handlers.authorizer.time, "time", lambda: claims["exp"] + 1)
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorize(handlers, lambda_context, f"__Host-fraud-session={good}")


# --- cases ---------------------------------------------------------------------------------------


@pytest.fixture
def case_id(world: SimpleNamespace) -> str:
    """A case of a stored transaction (device and card identifiers only masked in the case)."""
    tid = f"t-{uuid.uuid4().hex[:8]}"
    raw = make_transaction(
        transaction_id=tid, device_id="dev-secret-beef", card_id="tok_card_secret42", user_id=f"u-{tid}"
    )
    TransactionStore(world.dynamodb, FUNCTION_ENV["TABLE_NAME"]).put_transaction(
        raw, body_hash="h", received_at=int(time.time() * 1000)
    )
    alert = transaction_alert(tid, score=99)  # the top of the queue
    alert["transaction"].update(user_id=f"u-{tid}", merchant_id='<script>alert("x")</script>', device_id="********beef")
    CaseStore(world.dynamodb, CASES_TABLE).open(case_from_alert(alert, opened_at=int(time.time() * 1000)))
    return f"txn-{tid}"


def page(
    h: SimpleNamespace, context: Any, path: str, user: str = "ana", groups: str = "analysts", **kw: Any
) -> dict[str, Any]:
    token = kw.pop("token", "session-token")
    return h.console.handler(
        event("GET", path, user=user, groups=groups, cookies={"__Host-fraud-session": token}, **kw), context
    )


def post(
    h: SimpleNamespace,
    context: Any,
    path: str,
    form: dict[str, str],
    user: str = "ana",
    groups: str = "analysts",
    csrf: bool = True,
) -> dict[str, Any]:
    from console_web.web import csrf_token

    token = "session-token"
    body = {**form, **({"csrf": csrf_token(token)} if csrf else {})}
    return h.console.handler(
        event("POST", path, user=user, groups=groups, cookies={"__Host-fraud-session": token}, form=body), context
    )


def test_pages_carry_a_strict_csp_and_escape_every_value(handlers, case_id, lambda_context):
    response = page(handlers, lambda_context, f"/cases/{case_id}")
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert (headers["X-Content-Type-Options"], headers["Cache-Control"], headers["X-Frame-Options"]) == (
        "nosniff",
        "no-store",
        "DENY",
    )
    body = response["body"]
    assert '<script>alert("x")</script>' not in body and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body
    assert "<script>" not in body.replace(f'<script src="/{STAGE}/static/console.js', "")  # no inline script at all
    assert "dev-secret-beef" not in body and "tok_card_secret42" not in body and "********beef" in body


def test_the_queue_shows_the_top_case_first_and_deciding_takes_it_out(handlers, world, case_id, lambda_context):
    queue = page(handlers, lambda_context, "/cases")
    rows = re.findall(r'<span class="badge">(\d+)</span>.*?href="/test/cases/([^"]+)"', queue["body"], re.S)
    assert case_id in [row[1] for row in rows]
    assert [int(score) for score, _ in rows] == sorted((int(score) for score, _ in rows), reverse=True)
    version = re.search(
        r'name="version" value="(\d+)"', page(handlers, lambda_context, f"/cases/{case_id}")["body"]
    ).group(1)
    refused = post(
        handlers, lambda_context, f"/cases/{case_id}/decide", {"outcome": "fraud", "version": version}, csrf=False
    )
    assert refused["statusCode"] == 403  # no forgery token: nothing changes
    decided = post(handlers, lambda_context, f"/cases/{case_id}/decide", {"outcome": "fraud", "version": version})
    assert decided["statusCode"] == 303 and decided["headers"]["Location"] == f"/{STAGE}/cases?done={case_id}"
    after = page(handlers, lambda_context, "/cases", query={"done": case_id})
    assert case_id not in re.findall(r'class="case-link" href="/test/cases/([^"]+)"', after["body"])
    [label] = LabelStore(world.dynamodb, LABELS_TABLE).of(case_id.removeprefix("txn-"))
    assert (label.label, label.source, label.by, label.case_id) == ("fraud", "analyst", "ana", case_id)
    stale = post(handlers, lambda_context, f"/cases/{case_id}/decide", {"outcome": "legitimate", "version": version})
    assert stale["statusCode"] == 409


def test_the_json_api_lists_reads_and_decides_with_the_header_token(handlers, case_id, lambda_context):
    from console_web.web import csrf_token

    listed = json.loads(page(handlers, lambda_context, "/api/cases", query={"min_score": "99"})["body"])
    assert case_id in [c["case_id"] for c in listed["cases"]]
    one = json.loads(page(handlers, lambda_context, f"/api/cases/{case_id}")["body"])
    assert one["case"]["alert"]["transaction"]["device_id"] == "********beef"
    assert all(t["device_id"].startswith("****") for t in one["recent_transactions"])
    cookies = {"__Host-fraud-session": "session-token"}
    assign = event(
        "POST",
        f"/api/cases/{case_id}/assign",
        user="ana",
        cookies=cookies,
        headers={"X-CSRF-Token": csrf_token("session-token"), "Content-Type": "application/json"},
    )
    assign["body"] = json.dumps({"assignee": "bob"})
    answer = handlers.console.handler(assign, lambda_context)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["case"]["status"] == "in_review"
    comment = post(handlers, lambda_context, f"/cases/{case_id}/comment", {"note": "looks like ATO"})
    assert comment["statusCode"] == 303
    trail = json.loads(page(handlers, lambda_context, f"/api/cases/{case_id}")["body"])["case"]["events"]
    assert [e["action"] for e in trail] == ["opened", "assigned", "commented"]


def test_revealing_is_an_admins_decision_and_every_reveal_is_on_the_trail(handlers, case_id, lambda_context):
    refused = post(handlers, lambda_context, f"/cases/{case_id}/reveal", {"field": "device_id"})
    assert refused["statusCode"] == 403
    assert post(handlers, lambda_context, "/admin/settings", {"reveal_device_id": "1"})["statusCode"] == 403  # analysts
    assert (
        post(handlers, lambda_context, "/admin/settings", {"reveal_device_id": "1"}, user="root", groups="admins")[
            "statusCode"
        ]
        == 303
    )
    shown = post(handlers, lambda_context, f"/cases/{case_id}/reveal", {"field": "device_id"})
    assert shown["statusCode"] == 200 and "dev-secret-beef" in shown["body"]
    assert post(handlers, lambda_context, f"/cases/{case_id}/reveal", {"field": "card_id"})["statusCode"] == 403
    trail = json.loads(page(handlers, lambda_context, f"/api/cases/{case_id}")["body"])["case"]["events"]
    assert [(e["action"], e["by"], e["detail"]) for e in trail][-1] == ("revealed", "ana", {"field": "device_id"})
    post(handlers, lambda_context, "/admin/settings", {}, user="root", groups="admins")  # back to nothing


def test_analysts_block_admins_allow_and_remove_and_each_change_is_a_version(handlers, world, case_id, lambda_context):
    from fraud.lists import ListStore

    store = ListStore(world.dynamodb, LISTS_TABLE)
    before = store.version()
    blocked = post(handlers, lambda_context, f"/cases/{case_id}/block", {"field": "device_id", "reason": "ATO ring"})
    assert blocked["statusCode"] == 303 and store.version() == before + 1
    [listed] = [e for e in store.entries() if e.value == "dev-secret-beef"]  # the raw value, read from the table
    assert (listed.list, listed.by, listed.reason) == ("block", "ana", "ATO ring")
    lists_page = page(handlers, lambda_context, "/lists")["body"]
    assert "dev-secret-beef" not in lists_page and "********beef" in lists_page
    assert (
        post(
            handlers, lambda_context, "/lists", {"list": "allow", "field": "user_id", "value": "u-9", "reason": "vip"}
        )["statusCode"]
        == 403
    )
    assert (
        post(
            handlers,
            lambda_context,
            "/admin/lists",
            {"list": "allow", "field": "user_id", "value": "u-9", "reason": "vip"},
        )["statusCode"]
        == 403
    )
    added = post(
        handlers,
        lambda_context,
        "/admin/lists",
        {"list": "allow", "field": "user_id", "value": "u-9", "reason": "vip", "expires_days": "30"},
        user="root",
        groups="admins",
    )
    assert added["statusCode"] == 303
    removed = post(handlers, lambda_context, f"/admin/lists/{listed.ref}/remove", {}, user="root", groups="admins")
    assert removed["statusCode"] == 303 and store.version() == before + 3
    actions = [
        e["action"]
        for e in json.loads(page(handlers, lambda_context, f"/api/cases/{case_id}")["body"])["case"]["events"]
    ]
    assert "listed" in actions


def test_the_quality_page_shows_precision_from_decisions_and_recall_from_chargebacks(handlers, world, lambda_context):
    tid = f"q-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    store = CaseStore(world.dynamodb, CASES_TABLE, LABELS_TABLE)
    store.open(case_from_alert(transaction_alert(tid, created_at=now), opened_at=now))
    store.decide(store.get(f"txn-{tid}"), "fraud", by="ana", now_ms=now)
    missed = f"m-{uuid.uuid4().hex[:8]}"
    TransactionStore(world.dynamodb, FUNCTION_ENV["TABLE_NAME"]).put_transaction(
        make_transaction(transaction_id=missed), body_hash="h", received_at=now
    )
    LabelStore(world.dynamodb, LABELS_TABLE).put(Label(missed, "fraud", "chargeback", "cb.csv", now))
    weeks = json.loads(page(handlers, lambda_context, "/api/quality")["body"])["weeks"]
    this_week = weeks[0]  # newest first
    assert this_week["all"]["decided"] >= 1 and this_week["rules"]["VELOCITY"]["confirmed"] >= 1
    assert this_week["all"]["processor_fraud"] >= 1 and this_week["all"]["recall"] < 1
    html = page(handlers, lambda_context, "/quality")["body"]
    assert "Week of" in html and "VELOCITY" in html


def test_static_files_are_served_and_unknown_pages_say_so(handlers, lambda_context):
    script = handlers.console.handler(event("GET", "/static/console.js"), lambda_context)
    assert script["statusCode"] == 200 and script["headers"]["Content-Type"].startswith("text/javascript")
    assert handlers.console.handler(event("GET", "/static/..%2Fconsole.py"), lambda_context)["statusCode"] == 404
    assert page(handlers, lambda_context, "/nowhere")["statusCode"] == 404
    assert page(handlers, lambda_context, "/cases", user="eve", groups="")["statusCode"] == 403


@pytest.mark.parametrize(
    "target",
    ["//evil.example/cases", "https://evil.example/", "/other-stage/cases", "/test/../..//evil.example", "/test/a b"],
)
def test_signing_in_never_sends_the_browser_to_another_site(handlers, lambda_context, target):
    form_page = handlers.console.handler(event("GET", "/login"), lambda_context)
    nonce = cookies_of(form_page)["__Host-fraud-login"]
    response = handlers.console.handler(
        event(
            "POST",
            "/login",
            cookies={"__Host-fraud-login": nonce},
            form={"login_csrf": nonce, "step": "password", "username": "ana", "password": PASSWORD, "next": target},
        ),
        lambda_context,
    )
    assert response["headers"]["Location"] == f"/{STAGE}/cases"


def test_a_shared_link_survives_the_sign_in(handlers, lambda_context):
    form_page = handlers.console.handler(
        event("GET", "/login", query={"next": f"/{STAGE}/cases/txn-abc"}), lambda_context
    )
    assert f'name="next" value="/{STAGE}/cases/txn-abc"' in form_page["body"]
    nonce = cookies_of(form_page)["__Host-fraud-login"]
    response = handlers.console.handler(
        event(
            "POST",
            "/login",
            cookies={"__Host-fraud-login": nonce},
            form={
                "login_csrf": nonce,
                "step": "password",
                "username": "ana",
                "password": PASSWORD,
                "next": f"/{STAGE}/cases/txn-abc",
            },
        ),
        lambda_context,
    )
    assert response["headers"]["Location"] == f"/{STAGE}/cases/txn-abc"


def test_a_forged_cross_site_post_is_refused_even_with_the_session(handlers, case_id, lambda_context):
    from console_web.web import csrf_token

    forged = event(
        "POST",
        f"/cases/{case_id}/comment",
        user="ana",
        cookies={"__Host-fraud-session": "session-token"},
        form={"csrf": csrf_token("session-token"), "note": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert handlers.console.handler(forged, lambda_context)["statusCode"] == 403
    wrong = post(handlers, lambda_context, f"/cases/{case_id}/comment", {"note": "x", "csrf": "guess"}, csrf=False)
    assert wrong["statusCode"] == 403
