"""Verifying an Amazon Cognito user pool token: a JWT signed with RS256 by one of the pool's keys.

``verify(token, keys=..., issuer=..., client_id=..., now_s=...)`` checks, in this order, and raises
``TokenError`` naming the first check that fails (never the token):

- the shape: three base64url parts, a JSON header and payload, at most ``MAX_TOKEN_BYTES``;
- the header: ``alg`` exactly ``RS256`` (``none``, ``HS256`` and the rest are refused), a ``kid`` the pool's
  key set (JWKS) holds;
- the signature: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, 8.2.2), checked by re-encoding the expected
  message representative and comparing bytes, never by parsing what the signature decrypts to;
- the claims: ``iss`` exactly the pool's issuer (``https://cognito-idp.<region>.amazonaws.com/<pool id>``),
  ``token_use`` exactly ``access``, ``client_id`` the console's app client, ``exp`` in the future and
  ``iat`` not in it (``LEEWAY_S`` for clocks).

Why not a library: PyJWT, joserfc and authlib verify RS256 through ``cryptography``, a compiled package whose
arm64 wheel would not import in the local cloud (which runs the same zip on this machine's architecture), and
the pure-Python ``rsa`` package is archived. Verification needs only modular exponentiation and SHA-256,
both in the standard library; the tests check this code against ``cryptography``'s own signatures.

No clients here: the caller fetches the key set (the authorizer reads the pool's ``jwks.json``) and passes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_TOKEN_BYTES = 8192
LEEWAY_S = 60  # a token issued up to a minute "in the future" by a skewed clock is still accepted
TOKEN_USE = "access"  # the console presents the access token: it carries client_id and cognito:groups
# DER of the DigestInfo prefix for SHA-256 (RFC 8017, 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class TokenError(ValueError):
    """The token is not a valid token of this pool and client; the message says which check failed."""


@dataclass(frozen=True)
class RsaKey:
    n: int
    e: int

    @property
    def size(self) -> int:
        """The modulus length in bytes (the signature's length)."""
        return (self.n.bit_length() + 7) // 8


@dataclass(frozen=True)
class Claims:
    """What the console needs of a verified token."""

    subject: str
    username: str
    groups: tuple[str, ...]
    expires_at: int  # epoch seconds


def issuer(region: str, pool_id: str) -> str:
    """The ``iss`` of every token of the pool: AWS's regional Cognito host, whatever endpoint served the keys."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def _b64decode(part: str, what: str) -> bytes:
    if not part or any(c in part for c in "+/="):
        raise TokenError(f"the token's {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenError(f"the token's {what} is not base64url") from None


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part, what))
    except ValueError:
        raise TokenError(f"the token's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the token's {what} is not a JSON object")
    return value


def _integer(data: str, what: str) -> int:
    return int.from_bytes(_b64decode(data, what), "big")


def parse_jwks(document: str | bytes | Mapping[str, Any]) -> dict[str, RsaKey]:
    """The RSA signing keys of a JWKS document (``{"keys": [{"kid", "kty", "n", "e", ...}]}``), by ``kid``.
    Keys that are not RSA or not for signatures are left out."""
    data = json.loads(document) if isinstance(document, (str, bytes)) else document
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise TokenError("the key set is not a JWKS document")
    keys = {}
    for key in data["keys"]:
        if not isinstance(key, Mapping) or key.get("kty") != "RSA" or key.get("use", "sig") != "sig":
            continue
        if not all(isinstance(key.get(name), str) for name in ("kid", "n", "e")):
            continue
        keys[key["kid"]] = RsaKey(_integer(key["n"], "key modulus"), _integer(key["e"], "key exponent"))
    return keys


def key_id(token: str) -> str:
    """The ``kid`` of a token's header (which key signed it), checked for shape only."""
    header = _json(_parts(token)[0], "header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("the token names no key (kid)")
    return kid


def _parts(token: str) -> list[str]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise TokenError("the token is missing or too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a signed JWT (three parts)")
    return parts


def rs256_valid(key: RsaKey, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017, 8.2.2): the signature, raised to the public
    exponent, must be exactly ``0x00 0x01 FF..FF 0x00 DigestInfo(SHA-256(message))``."""
    k = key.size
    if k < 256 or len(signature) != k:  # keys under 2048 bits are refused
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    encoded = pow(s, key.e, key.n).to_bytes(k, "big")
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(encoded, expected)


def verify(token: str, *, keys: Mapping[str, RsaKey], issuer: str, client_id: str, now_s: int) -> Claims:
    """The claims of ``token`` when it is an access token of ``issuer``'s pool for ``client_id``, signed by
    one of ``keys`` and valid at ``now_s``; ``TokenError`` otherwise."""
    header_part, payload_part, signature_part = _parts(token)
    header = _json(header_part, "header")
    if header.get("alg") != "RS256":
        raise TokenError("the token is not signed with RS256")
    key = keys.get(header.get("kid"))  # type: ignore[arg-type]
    if key is None:
        raise TokenError("the token is signed by a key the pool does not have")
    signature = _b64decode(signature_part, "signature")
    if not rs256_valid(key, f"{header_part}.{payload_part}".encode("ascii"), signature):
        raise TokenError("the token's signature is not valid")
    claims = _json(payload_part, "payload")
    if claims.get("iss") != issuer:
        raise TokenError("the token was issued by another user pool")
    if claims.get("token_use") != TOKEN_USE:
        raise TokenError(f"the token is not an {TOKEN_USE} token")
    if claims.get("client_id") != client_id:
        raise TokenError("the token was issued to another app client")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int) or isinstance(expires, bool) or expires <= now_s:
        raise TokenError("the token has expired")
    if not isinstance(issued, int) or isinstance(issued, bool) or issued > now_s + LEEWAY_S:
        raise TokenError("the token was issued in the future")
    groups = claims.get("cognito:groups") or []
    subject, username = claims.get("sub"), claims.get("username")
    if not isinstance(subject, str) or not isinstance(username, str) or not isinstance(groups, list):
        raise TokenError("the token lacks its subject, username or groups")
    return Claims(subject, username, tuple(str(g) for g in groups), expires)


# --- the console's session ---------------------------------------------------------------------------

SESSION_COOKIE = "__Host-fraud-session"  # the access token, HttpOnly, Secure, SameSite=Strict
ANALYSTS, ADMINS = "analysts", "admins"  # the user pool's groups: who may use the console, who may change it
ROLES = (ANALYSTS, ADMINS)


def session_token(cookie_header: str | None) -> str | None:
    """The session cookie's value in a ``Cookie`` header, or None (the authorizer's identity source)."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None
