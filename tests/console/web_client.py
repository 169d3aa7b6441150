"""A small HTTP client for the console's end-to-end tests: keeps the cookies a browser would (by name, with the
refresh token's path), follows nothing by itself, sends forms. Python's cookie jar refuses ``Secure`` cookies
over plain http, which the local cloud serves on 127.0.0.1 (Chromium treats loopback as a secure context)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class Reply:
    status: int
    headers: Any
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def field(self, name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', self.body)
        assert match, f"no field {name} in the page"
        return match.group(1)


@dataclass
class Browser:
    base: str  # the console's base URL: http://127.0.0.1:<port>/<stage>
    cookies: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, path)

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        target = path if path.startswith("http") else self.base + path
        target_path = urlsplit(target).path
        sent = {name: value for name, (value, scope) in self.cookies.items() if target_path.startswith(scope)}
        all_headers = {**(headers or {})}
        if sent:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent.items())
        body = data
        if form is not None:
            body = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(target, data=body, method=method, headers=all_headers)
        try:
            with _opener.open(request, timeout=60) as response:
                reply = Reply(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            reply = Reply(error.code, error.headers, error.read().decode())
        for line in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            scope = re.search(r"Path=([^;]+)", line)
            if "Max-Age=0" in line:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = (value, scope.group(1) if scope else "/")
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form=form)

    def sign_in(self, username: str, password: str, next_path: str = "") -> Reply:
        page = self.get("/login")
        assert page.status == 200, page.body
        nonce = page.field("login_csrf")
        return self.post(
            "/login",
            {"login_csrf": nonce, "step": "password", "username": username, "password": password, "next": next_path},
        )
