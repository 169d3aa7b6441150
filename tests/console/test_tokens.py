"""The console's token check: every check of fraud.tokens, with keys and signatures made by ``cryptography``
(the library the verifier stands in for), and moto's own Cognito tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fraud.tokens import RsaKey, TokenError, issuer, key_id, parse_jwks, rs256_valid, session_token, verify

NOW = 1_736_942_400  # 2025-01-15T12:00:00Z
POOL = "us-east-1_AbCdEf123"
ISSUER = issuer("us-east-1", POOL)
CLIENT = "5vq2examplec1ient"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def integer(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys(private_key: rsa.RSAPrivateKey) -> dict[str, RsaKey]:
    numbers = private_key.public_key().public_numbers()
    jwks = {
        "keys": [
            {"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig", "n": integer(numbers.n), "e": integer(numbers.e)}
        ]
    }
    return parse_jwks(json.dumps(jwks))


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "sub": "3f1c-uuid",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "username": "ana",
        "cognito:groups": ["analysts"],
        "iat": NOW - 60,
        "exp": NOW + 900,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(private_key: rsa.RSAPrivateKey, payload: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    head = b64(json.dumps(header or {"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = private_key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(signature)}"


def check(token: str, keys: dict[str, RsaKey], now: int = NOW) -> Any:
    return verify(token, keys=keys, issuer=ISSUER, client_id=CLIENT, now_s=now)


def test_a_valid_access_token_gives_its_user_and_groups(private_key, keys):
    found = check(sign(private_key, claims(**{"cognito:groups": ["analysts", "admins"]})), keys)
    assert (found.username, found.groups, found.subject) == ("ana", ("analysts", "admins"), "3f1c-uuid")


def test_the_verifier_agrees_with_cryptography_on_signatures_it_did_not_make(private_key, keys):
    message = b"header.payload"
    good = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert rs256_valid(keys["k1"], message, good)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not rs256_valid(keys["k1"], message, other.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    pss = private_key.sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert not rs256_valid(keys["k1"], message, pss)  # another scheme with the same key
    sha1 = private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (the test of a refusal)
    assert not rs256_valid(keys["k1"], message, sha1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": issuer("us-east-1", "us-east-1_OtherPool1")}, "another user pool"),
        ({"iss": issuer("eu-west-1", POOL)}, "another user pool"),
        ({"client_id": "another-client"}, "another app client"),
        ({"token_use": "id"}, "not an access token"),
        ({"exp": NOW}, "expired"),
        ({"exp": NOW - 1}, "expired"),
        ({"iat": NOW + 3600}, "in the future"),
        ({"exp": None}, "expired"),
        ({"username": None}, "lacks"),
    ],
)
def test_a_token_that_fails_a_claim_check_is_refused_naming_the_check(private_key, keys, change, reason):
    with pytest.raises(TokenError, match=reason):
        check(sign(private_key, claims(**change)), keys)


def test_a_tampered_payload_is_refused(private_key, keys):
    head, _, signature = sign(private_key, claims()).split(".")
    forged = b64(json.dumps(claims(**{"cognito:groups": ["admins"]})).encode())
    with pytest.raises(TokenError, match="signature"):
        check(f"{head}.{forged}.{signature}", keys)


def test_a_token_signed_by_another_key_or_with_another_algorithm_is_refused(private_key, keys):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenError, match="signature"):
        check(sign(other, claims()), keys)
    with pytest.raises(TokenError, match="key the pool does not have"):
        check(sign(private_key, claims(), {"alg": "RS256", "kid": "unknown"}), keys)
    unsigned = f"{b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(TokenError, match="RS256"):
        check(unsigned, keys)
    with pytest.raises(TokenError, match="RS256"):
        check(sign(private_key, claims(), {"alg": "HS256", "kid": "k1"}), keys)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 9000, "@@.@@.@@", "e30.e30.e30"])
def test_garbage_is_refused_without_a_traceback(keys, token):
    with pytest.raises(TokenError):
        check(token, keys)


def test_the_key_id_is_read_from_the_header_only(private_key):
    assert key_id(sign(private_key, claims())) == "k1"


def test_the_session_cookie_is_found_among_others():
    header = "theme=dark; __Host-fraud-session=abc.def.ghi; other=1"
    assert session_token(header) == "abc.def.ghi"
    assert session_token("theme=dark") is None
    assert session_token(None) is None
    assert session_token("__Host-fraud-session=") is None


def test_moto_cognito_tokens_verify_against_its_jwks_with_the_real_issuer():
    import boto3
    from moto import mock_aws

    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool = cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="ana", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username="ana", Password="Passw0rd!Passw0rd", Permanent=True)
        token = cognito.initiate_auth(
            ClientId=client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ana", "PASSWORD": "Passw0rd!Passw0rd"},
        )["AuthenticationResult"]["AccessToken"]
        from moto.utilities.utils import load_resource  # what moto serves at /<pool>/.well-known/jwks.json

        found = verify(
            token,
            keys=parse_jwks(load_resource("cognitoidp/resources/jwks-public.json")),
            issuer=issuer("us-east-1", pool),
            client_id=client,
            now_s=json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["iat"],
        )
        assert found.username == "ana"
