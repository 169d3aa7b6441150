"""The front door's SigV4 check (tools/emulator/sigv4.py) against requests botocore signs (tools/api_client.py).

Every request is signed at a pinned time and verified at a pinned "now": no test reads the clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import Credentials

from tools.api_client import signed_headers
from tools.emulator.sigv4 import INVALID_TOKEN, MISMATCH, Secret, SignatureError, verify

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOST = "127.0.0.1:40123"
PATH = "/prod/transactions"
URL = f"http://{HOST}{PATH}"
REGION = "us-east-1"
BODY = json.dumps({"transaction_id": "t-1", "amount": 12.5}).encode()
USER = Credentials("AKIAPRODUCER0000001", "producer-secret")
SESSION = Credentials("ASIAPRODUCER0000002", "session-secret", "session-token")
KEYS = {
    USER.access_key: Secret(USER.secret_key, identity="user"),
    SESSION.access_key: Secret(SESSION.secret_key, SESSION.token, expires=NOW + timedelta(hours=1), identity="role"),
}


def sign(credentials: Credentials = USER, body: bytes = BODY, at: datetime = NOW, **headers: str) -> dict[str, str]:
    return signed_headers(
        URL, body, credentials, REGION, headers={"Content-Type": "application/json", **headers}, at=at
    )


def check(headers: dict[str, str], body: bytes = BODY, *, keys=KEYS, now: datetime = NOW, path: str = PATH) -> Secret:
    return verify("POST", HOST, path, headers, body, lookup=keys.get, region=REGION, now=now)


def refused(headers: dict[str, str], body: bytes = BODY, **kwargs) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        check(headers, body, **kwargs)
    return caught.value


def test_a_request_signed_by_botocore_passes_and_names_who_signed_it():
    assert check(sign()).identity == "user"
    assert check(sign(SESSION)).identity == "role", "temporary credentials with their session token"


def test_a_request_without_a_signature_is_missing_its_authentication_token():
    error = refused({"Content-Type": "application/json"})
    assert (error.kind, error.message) == ("missing", "Missing Authentication Token")


def test_a_changed_body_no_longer_matches_its_signature():
    error = refused(sign(), BODY.replace(b"12.5", b"1250"))
    assert (error.kind, error.message) == ("signature", MISMATCH)


def test_a_changed_signed_header_no_longer_matches_its_signature():
    headers = sign(**{"x-api-key": "key-a"})
    headers["x-api-key"] = "key-b"
    assert refused(headers).message == MISMATCH


def test_a_signed_header_that_was_dropped_no_longer_matches():
    headers = sign(**{"x-api-key": "key-a"})
    del headers["x-api-key"]
    assert refused(headers).message == MISMATCH


def test_a_request_sent_to_another_path_no_longer_matches():
    assert refused(sign(), path="/prod/other").message == MISMATCH


def test_the_wrong_secret_does_not_match():
    forged = sign(Credentials(USER.access_key, "not-the-secret"))
    assert refused(forged).message == MISMATCH


def test_a_content_hash_that_is_not_the_body_s_does_not_pass_with_a_changed_body():
    from hashlib import sha256

    headers = sign(**{"X-Amz-Content-SHA256": sha256(BODY).hexdigest()})
    assert check(headers).identity == "user"
    assert refused(headers, b'{"transaction_id": "t-2"}').message == MISMATCH


def test_a_signature_older_than_five_minutes_has_expired():
    error = refused(sign(at=NOW - timedelta(minutes=5, seconds=1)))
    assert error.kind == "signature"
    assert error.message == (
        "Signature expired: 20260301T115459Z is now earlier than 20260301T115500Z (20260301T120000Z - 5 min.)"
    )
    assert check(sign(at=NOW - timedelta(minutes=4, seconds=59))).identity == "user", "inside the window"


def test_a_signature_more_than_five_minutes_ahead_is_not_yet_current():
    error = refused(sign(at=NOW + timedelta(minutes=6)))
    assert error.message.startswith("Signature not yet current: 20260301T120600Z is still later than")


def test_an_unknown_access_key_is_an_invalid_security_token():
    error = refused(sign(Credentials("AKIAUNKNOWN000000000", "whatever")))
    assert (error.kind, error.message) == ("unrecognized", INVALID_TOKEN)


def test_temporary_credentials_need_their_own_session_token():
    without = sign(SESSION)
    del without["X-Amz-Security-Token"]
    assert refused(without).kind == "unrecognized"
    wrong = sign(Credentials(SESSION.access_key, SESSION.secret_key, "another-token"))
    assert refused(wrong).message == INVALID_TOKEN
    assert refused(sign(USER, **{"X-Amz-Security-Token": "a-token"})).kind == "unrecognized", "a long-term key has none"


def test_expired_temporary_credentials_get_the_expired_token_answer():
    error = refused(sign(SESSION, at=NOW + timedelta(hours=1)), now=NOW + timedelta(hours=1))
    assert (error.kind, error.message) == ("expired_token", "The security token included in the request is expired")


def test_the_credential_scope_must_name_this_region_and_execute_api():
    other_region = signed_headers(URL, BODY, USER, "eu-west-1", at=NOW)
    assert refused(other_region).message == "Credential should be scoped to a valid region, not 'eu-west-1'."
    headers = sign()
    headers["Authorization"] = headers["Authorization"].replace("/execute-api/", "/lambda/")
    assert refused(headers).message == "Credential should be scoped to correct service: 'execute-api'."


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "AWS4-HMAC-SHA256 Credential=AKIA/20260301/us-east-1/execute-api/aws4_request", ""],
    ids=["another-scheme", "no-signature", "empty"],
)
def test_a_malformed_authorization_header_is_refused(authorization):
    headers = {**sign(), "Authorization": authorization}
    assert refused(headers).kind in ("incomplete", "missing")


def test_the_host_must_be_signed():
    headers = sign()
    headers["Authorization"] = (
        headers["Authorization"].replace("SignedHeaders=", "SignedHeaders=x;").replace(";host", "")
    )
    assert refused(headers).kind == "incomplete"
