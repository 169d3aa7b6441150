"""Requests, responses and the console's security headers, over API Gateway's REST proxy events (payload 1.0).

- Cookies: the session (the Cognito access token) in ``__Host-fraud-session`` and the refresh token in
  ``__Secure-fraud-refresh`` (sent to the sign-in path only), both ``HttpOnly; Secure; SameSite=Strict``; the
  session lives as long as the token (``Max-Age`` from Cognito's ``ExpiresIn``).
- Cross-site request forgery: every state-changing request carries a token that only a page of this console
  can know (``csrf_token``: a hash of the session, which scripts cannot read) in the form (``csrf``) or the
  ``X-CSRF-Token`` header, checked before anything changes; the cookies' ``SameSite=Strict`` keeps a
  cross-site request from carrying the session at all, and a cross-origin ``Origin`` header is refused.
- Headers on every response: a strict Content-Security-Policy (scripts, styles and images from this console
  only, no inline script or style, no frames, forms post here only), ``nosniff``, no referrer, no caching of
  pages, HSTS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fraud.tokens import ADMINS, ANALYSTS, SESSION_COOKIE

REFRESH_COOKIE = "__Secure-fraud-refresh"
LOGIN_COOKIE = "__Host-fraud-login"  # a nonce the sign-in form echoes (sign-in forgery)
CHALLENGE_COOKIE = "__Host-fraud-challenge"  # Cognito's session between sign-in steps (MFA, new password)
MAX_BODY = 64 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}


class HttpError(Exception):
    """An answer other than the page: ``status`` and a message for the person (never a value they sent)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class User:
    username: str
    groups: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return ADMINS in self.groups

    @property
    def is_analyst(self) -> bool:
        return ANALYSTS in self.groups or self.is_admin


@dataclass
class Request:
    method: str
    path: str  # the resource path, without the stage: /cases/txn-1
    base: str  # what comes before it in the browser's URL: /prod
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    cookies: dict[str, str]
    body: str
    user: User | None
    api: bool = False  # under /api/: JSON in and out
    _form: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        if event.get("isBase64Encoded") and body:
            body = base64.b64decode(body).decode("utf-8", errors="replace")
        if len(body) > MAX_BODY:
            raise HttpError(413, "The request is too large.")
        path = str(event.get("path") or "/")
        context = event.get("requestContext") or {}
        full = str(context.get("path") or path)
        base = full[: len(full) - len(path)] if full.endswith(path) else ""
        claims = context.get("authorizer") or {}
        user = None
        if claims.get("username"):
            groups = tuple(g for g in str(claims.get("groups", "")).split(",") if g)
            user = User(str(claims["username"]), groups)
        api = path == "/api" or path.startswith("/api/")
        return cls(
            method=str(event.get("httpMethod") or "GET").upper(),
            path=path[4:] or "/" if api else path,
            base=base.rstrip("/"),
            query={k: v for k, v in (event.get("queryStringParameters") or {}).items() if isinstance(v, str)},
            headers=headers,
            cookies=parse_cookies(headers.get("cookie", "")),
            body=body,
            user=user,
            api=api,
        )

    @property
    def form(self) -> dict[str, str]:
        """The body's fields: URL-encoded (a form) or, under /api/, a JSON object."""
        if self._form is None:
            if self.api or self.headers.get("content-type", "").startswith("application/json"):
                try:
                    data = json.loads(self.body or "{}")
                except ValueError:
                    raise HttpError(400, "The body is not JSON.") from None
                if not isinstance(data, dict):
                    raise HttpError(400, "The body must be a JSON object.")
                self._form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
            else:
                self._form = dict(parse_qsl(self.body, keep_blank_values=True))
        return self._form

    @property
    def session(self) -> str:
        return self.cookies.get(SESSION_COOKIE, "")

    def url(self, path: str) -> str:
        """The browser's URL of a console path (``/cases`` -> ``/prod/cases``)."""
        return f"{self.base}{path}"


def parse_cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def csrf_token(session: str) -> str:
    """The forgery token of a session: only a page that was given it (and the session cookie, which no script
    can read) knows it."""
    digest = hashlib.sha256(b"fraud-console csrf\x00" + session.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not carry its session's token, or comes from another origin."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if origin and host and origin != "null" and urlsplit(origin).netloc != host:
        raise HttpError(403, "The request came from another site.")
    sent = request.headers.get("x-csrf-token") or request.form.get("csrf", "")
    if not request.session or not hmac.compare_digest(sent.encode(), csrf_token(request.session).encode()):
        raise HttpError(403, "The page is out of date: reload it and try again.")


def cookie(name: str, value: str, *, max_age: int, path: str = "/") -> str:
    return f"{name}={value}; Max-Age={max_age}; Path={path}; Secure; HttpOnly; SameSite=Strict"


def expired(name: str, path: str = "/") -> str:
    return cookie(name, "", max_age=0, path=path)


def nonce() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Response:
    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    cache: str = "no-store"

    def to_proxy(self) -> dict[str, Any]:
        headers = {**SECURITY_HEADERS, "Content-Type": self.content_type, "Cache-Control": self.cache, **self.headers}
        result: dict[str, Any] = {"statusCode": self.status, "headers": headers, "body": self.body}
        if self.cookies:
            result["multiValueHeaders"] = {"Set-Cookie": list(self.cookies)}
        return result


def redirect(location: str, *, cookies: list[str] | None = None) -> Response:
    """303 See Other: after a form post the browser asks for the page with GET."""
    return Response(303, "", headers={"Location": location}, cookies=cookies or [])


def as_json(data: Any, status: int = 200, cookies: list[str] | None = None) -> Response:
    return Response(status, json.dumps(data, sort_keys=True), "application/json", cookies=cookies or [])


def safe_next(request: Request, target: str | None) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    default = request.url("/cases")
    if not target or not target.startswith(request.base + "/") or target.startswith("//") or "\\" in target:
        return default
    if len(target) > 512 or any(ch in target for ch in "\r\n\t ") or ".." in target.split("/"):
        return default
    return target
