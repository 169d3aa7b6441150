"""Who may post transactions, on the deployed pipeline: producers sign with IAM (SigV4).

Runs on any deployment whose API requires IAM (``api_authorization = "AWS_IAM"``: staging and prod,
and the local end-to-end deployments, see conftest.py), in both stream routings, locally or with
``--target aws --env <suffix>``; on a deployment that takes the API key alone it skips with the
reason. A refused request gets API Gateway's 403 with the deployed JSON body (modules/api: a fixed
message, the response type, the request id) and stores nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tools.api_client import send

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.deployments("prod-eventbridge", "prod-direct"),  # the profiles that require IAM
]


@pytest.fixture
def signed(pipeline: Pipeline) -> Pipeline:
    if not pipeline.signs:
        pytest.skip(f"this deployment takes the API key alone (api_authorization={pipeline.authorization})")
    return pipeline


def transaction(new_id: Callable[[str], str], label: str) -> dict[str, Any]:
    return {
        "transaction_id": new_id(label),
        "user_id": new_id("user"),
        "amount": 42.5,
        "currency": "USD",
        "merchant_id": "m-grocery-17",
        "merchant_category": "grocery_pos",
        "timestamp": int(time.time() * 1000) - 60_000,
    }


def refused(pipeline: Pipeline, body: dict[str, Any], answer: tuple[int, Any], response_type: str) -> None:
    status, payload = answer
    assert status == 403, payload
    assert payload["type"] == response_type and payload["request_id"], payload
    assert pipeline.items(body["transaction_id"]) == [], "a refused request stores nothing"


def test_a_signed_transaction_from_an_allowed_producer_is_accepted_and_stored(
    signed: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id, "signed")

    status, answer = signed.post(body)

    assert status == 201, answer
    assert [i["kind"]["S"] for i in signed.items(body["transaction_id"]) if i["kind"]["S"] == "transaction"] == [
        "transaction"
    ]


def test_an_unsigned_transaction_is_refused_even_with_the_api_key(
    signed: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id, "unsigned")

    refused(signed, body, signed.post(body, credentials=None), "MISSING_AUTHENTICATION_TOKEN")


def test_a_transaction_changed_after_signing_is_refused(signed: Pipeline, new_id: Callable[[str], str]) -> None:
    body = transaction(new_id, "tampered")
    api = signed.api()
    headers = api.headers(json.dumps(body).encode())  # signed for the original body

    answer = send(api.url, json.dumps({**body, "amount": 4250.0}).encode(), headers)

    refused(signed, body, (answer.status, answer.json()), "INVALID_SIGNATURE")


def test_a_signed_header_changed_after_signing_is_refused(signed: Pipeline, new_id: Callable[[str], str]) -> None:
    body = transaction(new_id, "header")
    data = json.dumps(body).encode()
    api = signed.api()
    headers = {**api.headers(data), "Content-Type": "text/plain"}

    answer = send(api.url, data, headers)

    refused(signed, body, (answer.status, answer.json()), "INVALID_SIGNATURE")


def test_a_transaction_signed_more_than_five_minutes_before_it_arrives_is_refused(
    signed: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id, "expired")

    answer = signed.post(body, at=datetime.now(UTC) - timedelta(minutes=6))

    refused(signed, body, answer, "INVALID_SIGNATURE")


def test_a_principal_the_api_does_not_allow_is_refused(signed: Pipeline, new_id: Callable[[str], str]) -> None:
    if not signed.local:
        pytest.skip("needs a second identity of the account without execute-api:Invoke (made in the emulator)")
    iam = signed.session.client("iam")
    iam.create_user(UserName=new_id("nobody"))
    key = iam.create_access_key(UserName=new_id("nobody"))["AccessKey"]
    from botocore.credentials import Credentials

    outsider = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    body = transaction(new_id, "outsider")

    refused(signed, body, signed.post(body, credentials=outsider), "ACCESS_DENIED")


def test_a_signed_transaction_still_needs_the_api_key_for_the_usage_plan(
    signed: Pipeline, new_id: Callable[[str], str]
) -> None:
    body = transaction(new_id, "nokey")

    # Authentication first, then the key (API Gateway evaluates IAM before the usage plan).
    refused(signed, body, signed.post(body, api_key=None), "INVALID_API_KEY")
