"""The fraud team's loop, deployed in the local cloud and reached through the front door as on AWS: an alert opens
its case and its e-mail links to it; the authorizer API Gateway runs refuses missing, expired, tampered and other
pools' tokens; decisions, lists and labels change what the product does."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fraud.cases import CaseStore
from tests.console.conftest import emails
from tests.console.flows import alerted_case, new_id, signed_in
from tests.console.web_client import Browser
from tests.e2e.test_pipeline import history, post_all, transaction

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow]


def test_an_alert_opens_one_case_and_its_email_links_to_it(deployment):
    case_id = alerted_case(deployment, "link")
    store = CaseStore(deployment.cloud.client("dynamodb"), deployment.outputs["cases_table_name"])
    case = store.get(case_id)
    assert case.status == "open" and [e.action for e in case.events] == ["opened"]
    [email] = [text for _, text in emails(deployment) if f"Alert id     {case_id}" in text]
    link = re.search(r"^Case: (\S+)$", email, re.M).group(1)
    assert link == f"{deployment.outputs['console_url']}/cases/{case_id}"
    local = deployment.cloud.local_url(link)
    anonymous = Browser(deployment.console).get(local)
    assert anonymous.status == 401 and 'id="signin"' in anonymous.body  # API Gateway's page: sign in first
    assert anonymous.headers["Content-Type"].startswith("text/html")
    page = signed_in(deployment).get(local)
    assert page.status == 200 and case_id in page.body and "Decide" in page.body

    # A redelivered alert (the queue gives it again) opens no second case.
    sqs = deployment.cloud.client("sqs")
    sqs.send_message(QueueUrl=deployment.outputs["alerts_queue_url"], MessageBody=json.dumps(case.alert))
    deployment.pipeline.settle()
    items = deployment.cloud.client("dynamodb").query(
        TableName=deployment.outputs["cases_table_name"],
        KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case_id}},
    )["Items"]
    assert [item["sk"]["S"].split("#")[0] for item in items] == ["case", "event"]


def _moto_signed(claims: dict[str, Any]) -> str:
    """A token signed with the key moto's Cognito signs with (its JWKS is what the authorizer trusts locally)."""
    from moto.utilities.utils import load_resource

    key = load_resource("cognitoidp/resources/jwks-private.json")

    def number(name: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(key[name] + "=="), "big")

    n, e, d = (number(k) for k in ("n", "e", "d"))
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    private = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n)
    ).private_key()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{b64(json.dumps({'alg': 'RS256', 'kid': key['kid']}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing}.{b64(private.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def _with_session(deployment: SimpleNamespace, token: str) -> Browser:
    browser = Browser(deployment.console)
    browser.cookies["__Host-fraud-session"] = (token, "/")
    return browser


def test_the_front_door_runs_the_authorizer_missing_expired_tampered_and_other_pools_tokens_get_401(deployment):
    good = signed_in(deployment).cookies["__Host-fraud-session"][0]
    claims = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    expired = _moto_signed({**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 60})
    head, payload, signature = good.split(".")
    forged = dict(claims, username="root")
    tampered = f"{head}.{base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip('=')}.{signature}"

    # Another environment's user pool in the same account: its analyst, its valid token.
    cognito = deployment.cloud.client("cognito-idp")
    other = cognito.create_user_pool(PoolName=f"fraud-analysts-other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=other,
        ClientName="console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=other, GroupName="analysts")
    cognito.admin_create_user(UserPoolId=other, Username="other-analyst", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=other, Username="other-analyst", Password="Other-Passw0rd!x", Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=other, Username="other-analyst", GroupName="analysts")
    foreign = cognito.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "other-analyst", "PASSWORD": "Other-Passw0rd!x"},
    )["AuthenticationResult"]["AccessToken"]

    assert (
        Browser(deployment.console).get("/api/cases").status == 401
    )  # no cookie: API Gateway answers, no function runs
    for token in (expired, tampered, foreign, "not.a.token"):
        reply = _with_session(deployment, token).get("/api/cases")
        assert reply.status == 401, token[:20]
    assert _with_session(deployment, good).get("/api/cases").status == 200
    # The other environment's analyst cannot sign in to this console either (another pool, another app client).
    assert Browser(deployment.console).sign_in("other-analyst", "Other-Passw0rd!x").status == 401


def test_analysts_are_denied_the_admin_routes_by_the_authorizers_policy(deployment):
    analyst, admin = signed_in(deployment, "analyst"), signed_in(deployment, "admin")
    denied = analyst.get("/admin/settings")
    assert denied.status == 403 and "Not allowed" in denied.body  # ACCESS_DENIED: the function never ran
    assert analyst.get("/cases").status == 200  # the same cached answer allows the other routes
    assert admin.get("/admin/settings").status == 200


def test_a_decision_takes_the_case_out_of_the_queue_and_is_its_transactions_label(deployment):
    case_id = alerted_case(deployment, "decide")
    browser = signed_in(deployment)
    page = browser.get(f"/cases/{case_id}")
    decided = browser.post(
        f"/cases/{case_id}/decide", {"csrf": page.field("csrf"), "version": page.field("version"), "outcome": "fraud"}
    )
    assert decided.status == 303
    queue = browser.get("/api/cases?limit=500").json["cases"]
    assert case_id not in [c["case_id"] for c in queue]
    labels = deployment.cloud.client("dynamodb").query(
        TableName=deployment.outputs["labels_table_name"],
        KeyConditionExpression="transaction_id = :t",
        ExpressionAttributeValues={":t": {"S": case_id.removeprefix("txn-")}},
    )["Items"]
    assert [(i["source"]["S"], i["label"]["S"]) for i in labels] == [("analyst", "fraud")]


def test_a_block_entry_made_in_the_console_alerts_the_next_transaction_it_names(deployment):
    browser = signed_in(deployment)
    device = new_id("device")
    page = browser.get("/lists")
    added = browser.post(
        "/lists",
        {"csrf": page.field("csrf"), "list": "block", "field": "device_id", "value": device, "reason": "ATO ring"},
    )
    assert added.status == 303
    version = browser.get("/api/lists").json["version"]
    time.sleep(6)  # detect-fraud checks the lists' version every LISTS_CACHE_SECONDS (5 in the local profile)
    user = new_id("blocked")
    pipeline = deployment.pipeline
    post_all(pipeline, history(new_id, user, count=5))
    pipeline.settle()
    body = transaction(new_id("blocked-txn"), user, device_id=device)  # an ordinary purchase, but that device
    post_all(pipeline, [body])
    alert = pipeline.wait_for_alert(lambda a: a.get("transaction", {}).get("transaction_id") == body["transaction_id"])
    assert alert is not None and alert["decision"] == "alert"
    assert alert["reasons"][0]["code"] == "BLOCK_LIST" and alert["transaction"]["device_id"].startswith("****")
    log = Path(deployment.cloud.log_dir, f"{deployment.outputs['function_names']['detect-fraud']}.log").read_text()
    scored = [json.loads(text[text.index("{") :]) for text in log.splitlines() if '"Transaction scored"' in text]
    [line] = [found for found in scored if found.get("transaction_id") == body["transaction_id"]]
    assert line["list_version"] == str(version) and line["list_hits"] == [{"list": "block", "field": "device_id"}]


def test_chargebacks_imported_from_a_file_show_in_the_quality_figures(deployment, tmp_path):
    from tools._cli import ToolError
    from tools.cases.labels import import_labels, read_file

    case_id = alerted_case(deployment, "chargeback")
    missed = new_id("missed")
    user = new_id("missed-user")
    post_all(deployment.pipeline, [transaction(missed, user)])
    deployment.pipeline.settle()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"transaction_id,label,source,at\n{missed},fraud,chargeback,2025-01-15\n{case_id},fraudulent,chargeback,x\n"
    )
    with pytest.raises(ToolError, match="line 3"):
        read_file(bad)
    good = tmp_path / "chargebacks.csv"
    now = int(time.time() * 1000)
    rows = [f"{missed},fraud,chargeback,{now}", f"{case_id.removeprefix('txn-')},fraud,chargeback,{now}"]
    good.write_text("transaction_id,label,source,at\n" + "\n".join(rows) + "\n")
    client = deployment.cloud.client("dynamodb")
    import_labels(
        client, deployment.outputs["labels_table_name"], deployment.outputs["table_name"], read_file(good), check=False
    )
    week = signed_in(deployment).get("/api/quality").json["weeks"][0]
    assert week["all"]["processor_fraud"] >= 2 and 0 < week["all"]["recall"] < 1  # one flagged, one missed
