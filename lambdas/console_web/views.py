"""The console's routes: each one a function registered with ``@route``, rendering a page or (under ``/api/``)
JSON from the same data. Who may call what is decided twice: by the authorizer's policy at API Gateway (analysts
are denied ``/admin/...``) and here (``admin=True`` routes check the group again).

- ``GET``/``POST /login`` (no authorizer): sign in through Cognito (password, then MFA or a new password when
  asked; a refresh token renews the session); ``POST /logout``: Cognito ``GlobalSignOut``, cookies cleared.
- ``GET /cases`` (the queue: by score, then age; filters status, minimum score, rule, age), ``GET /cases/{id}``
  (transaction, score, reasons, drivers, versions, the user's recent transactions, trail), ``POST /cases/{id}/``
  ``decide``, ``assign``, ``comment``, ``block`` (the case's card, user, device, IP or merchant on the block
  list), ``reveal`` (admins; analysts for the fields admins allow; on the trail): analysts and admins.
- ``GET /lists``, ``POST /lists`` (a block entry): analysts; ``POST /admin/lists`` (allow entries),
  ``POST /admin/lists/{ref}/remove``, ``GET``/``POST /admin/settings`` (what analysts may reveal): admins.
- ``GET /quality`` (precision per rule and model per week, recall from chargebacks): analysts.
- ``GET``/``POST /account/mfa``: set up an authenticator app; ``GET /static/{name}`` (no authorizer).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from console_web.web import (
    CHALLENGE_COOKIE,
    LOGIN_COOKIE,
    REFRESH_COOKIE,
    HttpError,
    Request,
    Response,
    as_json,
    check_csrf,
    cookie,
    csrf_token,
    expired,
    nonce,
    redirect,
    safe_next,
)
from fraud.alerts import masked_transaction
from fraud.cases import (
    LISTS_TRAIL,
    OUTCOMES,
    QUEUE,
    REVEALABLE,
    STATUSES,
    CaseConflict,
    CaseError,
    CaseNotFound,
    Event,
    QueueFilter,
    event_put,
    revealable,
    set_revealable,
)
from fraud.lists import FIELD_NAMES, FIELDS, LISTS, ListError, entry
from fraud.quality import gather, percent, weekly
from fraud.tokens import SESSION_COOKIE

HERE = Path(__file__).resolve().parent
STATIC = {path.name: path for path in (HERE / "static").iterdir() if path.is_file()}
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
RECENT_DAYS, RECENT_ITEMS = 30, 20
QUALITY_WEEKS = 12
CHALLENGE_SECONDS = 180
LOGIN_SECONDS = 900

View = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    view: View
    public: bool = False  # served without a session (sign-in and static files)
    admin: bool = False


ROUTES: list[Route] = []


def route(method: str, template: str, *, public: bool = False, admin: bool = False) -> Callable[[View], View]:
    """Register ``view`` for ``method`` and the path ``template`` (``{name}`` is one path segment)."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_.-]+)", template) + "$")

    def register(view: View) -> View:
        ROUTES.append(Route(method, pattern, view, public, admin))
        return view

    return register


@dataclass
class App:
    """What the views use: the stores, the Cognito client, the settings and the templates."""

    cases: Any  # fraud.cases.CaseStore
    labels: Any  # fraud.labels.LabelStore
    lists: Any  # fraud.lists.ListStore
    transactions: Any  # fraud.storage.TransactionStore
    cognito: Any
    client_id: str
    environment: str
    templates: Any  # jinja2.Environment
    clock: Callable[[], float] = time.time
    static_versions: dict[str, str] = field(default_factory=dict)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


def static_versions() -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for name, path in STATIC.items()}


def dispatch(app: App, request: Request) -> Response:
    """The response to ``request``; every error a person can act on is a page (or JSON) that says what to do."""
    try:
        for candidate in ROUTES:
            match = candidate.pattern.match(request.path)
            if match is None or candidate.method != request.method:
                continue
            if not candidate.public:
                if request.user is None or not request.user.is_analyst:
                    raise HttpError(403, "Your account is not in the analysts or admins group.")
                if candidate.admin and not request.user.is_admin:
                    raise HttpError(403, "Only admins may do this.")
                if request.method != "GET":
                    check_csrf(request)
            return candidate.view(app, request, **match.groupdict())
        if any(r.pattern.match(request.path) for r in ROUTES):
            raise HttpError(405, "That action is not available here.")
        raise HttpError(404, "There is no such page.")
    except HttpError as error:
        return error_page(app, request, error.status, error.message)
    except CaseNotFound:
        return error_page(app, request, 404, "There is no such case.")
    except CaseConflict as error:
        return error_page(app, request, 409, str(error))
    except (CaseError, ListError) as error:
        return error_page(app, request, 400, str(error))


def render(app: App, request: Request, template: str, code: int = 200, **data: Any) -> Response:
    page = app.templates.get_template(template).render(
        request=request,
        user=request.user,
        environment=app.environment,
        csrf=csrf_token(request.session) if request.session else "",
        url=request.url,
        static=lambda name: request.url(f"/static/{name}?v={app.static_versions.get(name, '')}"),
        when=when,
        ago=lambda ms: ago(ms, app.now_ms()),
        **data,
    )
    return Response(code, page)


def error_page(app: App, request: Request, status: int, message: str) -> Response:
    if request.api:
        return as_json({"message": message}, status)
    return render(app, request, "error.html", status, status=status, message=message)


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(ms) / 1000))


def ago(ms: int, now_ms: int) -> str:
    minutes = max(0, (now_ms - int(ms)) // 60_000)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def _int(value: str | None, name: str, low: int, high: int, default: int | None = None) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise HttpError(400, f"{name} must be a whole number.") from None
    if not low <= number <= high:
        raise HttpError(400, f"{name} must be between {low} and {high}.")
    return number


# --- signing in ---------------------------------------------------------------------------------------


def _login_page(
    app: App, request: Request, *, step: str = "password", status: int = 200, next_path: str | None = None, **data: Any
) -> Response:
    token = nonce()
    target = request.query.get("next", "") if next_path is None else next_path
    response = render(app, request, "login.html", status, step=step, login_csrf=token, next=target, **data)
    response.cookies.append(cookie(LOGIN_COOKIE, token, max_age=LOGIN_SECONDS))
    return response


@route("GET", "/login", public=True)
def login_form(app: App, request: Request) -> Response:
    """The sign-in form; with a refresh token (sent to this path only) a new session without asking."""
    token = request.cookies.get(REFRESH_COOKIE)
    if token and "signed_out" not in request.query:
        try:
            reply = app.cognito.initiate_auth(
                ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": token}
            )
        except ClientError:
            pass  # revoked or expired: sign in again
        else:
            return _signed_in(request, reply["AuthenticationResult"], request.query.get("next", ""))
    return _login_page(app, request)


def _signed_in(request: Request, result: dict[str, Any], target: str) -> Response:
    cookies = [
        cookie(SESSION_COOKIE, result["AccessToken"], max_age=int(result.get("ExpiresIn", 3600))),
        expired(CHALLENGE_COOKIE),
        expired(LOGIN_COOKIE),
    ]
    if result.get("RefreshToken"):
        cookies.append(cookie(REFRESH_COOKIE, result["RefreshToken"], max_age=12 * 3600, path=request.url("/login")))
    return redirect(safe_next(request, target), cookies=cookies)


def _challenge(app: App, request: Request, reply: dict[str, Any], username: str, target: str) -> Response:
    """The next sign-in step Cognito asks for, with its session kept in a short-lived cookie."""
    name = reply["ChallengeName"]
    steps = {"SOFTWARE_TOKEN_MFA": "mfa", "NEW_PASSWORD_REQUIRED": "new_password", "MFA_SETUP": "mfa_setup"}
    if name not in steps:
        raise HttpError(403, "This account needs a sign-in step the console does not offer: ask an admin.")
    session, data = reply["Session"], {}
    if name == "MFA_SETUP":
        association = app.cognito.associate_software_token(Session=session)
        session = association.get("Session", session)
        data["secret"] = association["SecretCode"]
    state = f"{name}|{username}|{session}"
    response = _login_page(app, request, step=steps[name], next_path=target, username=username, **data)
    response.cookies.append(cookie(CHALLENGE_COOKIE, state.encode().hex(), max_age=CHALLENGE_SECONDS))
    return response


WRONG = (401, "Wrong username, password or code.")  # the same whatever was wrong: no account is revealed
SIGN_IN_ERRORS = {
    "NotAuthorizedException": WRONG,
    "UserNotFoundException": WRONG,
    "CodeMismatchException": WRONG,
    "InvalidPasswordException": (400, "The new password does not meet the password policy."),
    "PasswordResetRequiredException": (403, "Your password must be reset: ask an admin."),
    "TooManyRequestsException": (429, "Too many attempts: wait a minute and try again."),
    "LimitExceededException": (429, "Too many attempts: wait a minute and try again."),
    "ExpiredCodeException": (401, "The sign-in took too long: start again."),
}


@route("POST", "/login", public=True)
def login(app: App, request: Request) -> Response:
    form = request.form
    sent, kept = form.get("login_csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
    if not kept or sent != kept:
        raise HttpError(403, "The sign-in page expired: reload it and sign in again.")
    target = form.get("next", "")
    step = form.get("step", "password")
    try:
        if step == "password":
            username = form.get("username", "").strip()
            if not username or not form.get("password"):
                return _login_page(app, request, status=400, error="Enter your username and password.")
            reply = app.cognito.initiate_auth(
                ClientId=app.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": form["password"]},
            )
        else:
            name, username, session = _challenge_state(request)
            reply = _answer(app, name, username, session, form)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in SIGN_IN_ERRORS:
            raise
        status, message = SIGN_IN_ERRORS[code]
        return _login_page(app, request, status=status, next_path=target, error=message)
    if "AuthenticationResult" in reply:
        return _signed_in(request, reply["AuthenticationResult"], target)
    return _challenge(app, request, reply, username, target)


def _challenge_state(request: Request) -> tuple[str, str, str]:
    try:
        name, username, session = bytes.fromhex(request.cookies.get(CHALLENGE_COOKIE, "")).decode().split("|", 2)
    except ValueError:
        raise HttpError(403, "The sign-in took too long: start again.") from None
    return name, username, session


def _answer(app: App, name: str, username: str, session: str, form: dict[str, str]) -> dict[str, Any]:
    if name == "SOFTWARE_TOKEN_MFA":
        responses = {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": form.get("code", "").strip()}
    elif name == "NEW_PASSWORD_REQUIRED":
        responses = {"USERNAME": username, "NEW_PASSWORD": form.get("new_password", "")}
    else:  # MFA_SETUP: the code from the authenticator app the user just set up
        verified = app.cognito.verify_software_token(Session=session, UserCode=form.get("code", "").strip())
        session = verified.get("Session", session)
        responses = {"USERNAME": username}
    return dict(
        app.cognito.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName=name, Session=session, ChallengeResponses=responses
        )
    )


@route("POST", "/logout")
def logout(app: App, request: Request) -> Response:
    with contextlib.suppress(ClientError):  # an expired or revoked token: the cookies are cleared all the same
        app.cognito.global_sign_out(AccessToken=request.session)
    cookies = [expired(SESSION_COOKIE), expired(REFRESH_COOKIE, request.url("/login"))]
    return redirect(request.url("/login?signed_out=1"), cookies=cookies)


@route("GET", "/static/{name}", public=True)
def static(app: App, request: Request, name: str) -> Response:
    path = STATIC.get(name)
    if path is None:
        raise HttpError(404, "There is no such file.")
    return Response(200, path.read_text(), STATIC_TYPES.get(path.suffix, "text/plain"), cache="public, max-age=86400")


# --- the queue and the cases ------------------------------------------------------------------------


@route("GET", "/")
def home(app: App, request: Request) -> Response:
    return redirect(request.url("/cases"))


def queue_filter(request: Request, now_ms: int) -> QueueFilter:
    q = request.query
    status = q.get("status", "queue")
    statuses = QUEUE if status == "queue" else OUTCOMES if status == "decided" else (status,)
    if any(s not in STATUSES for s in statuses):
        raise HttpError(400, "Choose a status from the list.")
    older = _int(q.get("older_than_hours"), "Older than (hours)", 0, 24 * 365)
    newer = _int(q.get("newer_than_hours"), "Newer than (hours)", 0, 24 * 365)
    rule = q.get("rule", "").strip().upper() or None
    if rule is not None and not re.fullmatch(r"[A-Z_]{1,40}", rule):
        raise HttpError(400, "A rule is a reason code such as VELOCITY.")
    return QueueFilter(
        statuses=statuses,
        min_score=_int(q.get("min_score"), "Minimum score", 0, 100, 0) or 0,
        rule=rule,
        older_than_ms=None if older is None else now_ms - older * HOUR_MS,
        newer_than_ms=None if newer is None else now_ms - newer * HOUR_MS,
        limit=_int(q.get("limit"), "Limit", 1, 500, 100) or 100,
    )


@route("GET", "/cases")
def queue(app: App, request: Request) -> Response:
    wanted = queue_filter(request, app.now_ms())
    cases = app.cases.queue(wanted)
    if request.api:
        return as_json({"cases": [_brief(c) for c in cases]})
    return render(app, request, "queue.html", cases=cases, wanted=wanted, status=request.query.get("status", "queue"),
                  statuses=STATUSES, done=request.query.get("done"))  # fmt: skip


def _brief(case: Any) -> dict[str, Any]:
    data = case.to_dict()
    for key in ("alert", "events"):
        data.pop(key)
    return data


@route("GET", "/cases/{case_id}")
def case_page(app: App, request: Request, case_id: str, revealed: dict[str, str] | None = None) -> Response:
    case = app.cases.get(case_id)
    recent: list[dict[str, Any]] = []
    if case.user_id:
        items = app.transactions.user_history(
            case.user_id, through_ms=app.now_ms(), window_ms=RECENT_DAYS * DAY_MS, max_items=RECENT_ITEMS
        )
        recent = [masked_transaction({k: v for k, v in i.items() if k not in _STORAGE}) for i in items]
    if request.api:
        return as_json({"case": case.to_dict(), "recent_transactions": recent})
    allowed = REVEALABLE if request.user and request.user.is_admin else revealable(app.cases)
    return render(app, request, "case.html", case=case, recent=recent, outcomes=OUTCOMES, revealed=revealed or {},
                  revealable=[f for f in allowed if f in (case.alert.get("transaction") or {})],
                  block_fields=[f for f in FIELDS if f in (case.alert.get("transaction") or {})],
                  field_names=FIELD_NAMES, next_case=_next_case(app, case.case_id))  # fmt: skip


_STORAGE = {"kind", "body_hash", "received_at", "time_bucket", "expires_at"}


def _next_case(app: App, current: str) -> str | None:
    for case in app.cases.queue(QueueFilter(limit=2)):
        if case.case_id != current:
            return str(case.case_id)
    return None


def _who(request: Request) -> str:
    """The signed-in user's name (every route that changes something has one: ``dispatch`` checked)."""
    assert request.user is not None
    return request.user.username


def _version(request: Request) -> int:
    return _int(request.form.get("version"), "version", 1, 10**9) or 0


def _current(app: App, request: Request, case_id: str) -> Any:
    case = app.cases.get(case_id, events=False)
    if request.form.get("version") and _version(request) != case.version:
        raise CaseConflict("the case changed since this page was loaded: reload it")
    return case


def _done(app: App, request: Request, case_id: str, message: str, *, to_queue: bool = False) -> Response:
    if request.api:
        return as_json({"ok": True, "message": message, "case": app.cases.get(case_id).to_dict()})
    if to_queue:
        return redirect(request.url(f"/cases?done={case_id}"))
    return redirect(request.url(f"/cases/{case_id}"))


@route("POST", "/cases/{case_id}/decide")
def decide(app: App, request: Request, case_id: str) -> Response:
    case = _current(app, request, case_id)
    outcome = request.form.get("outcome", "")
    app.cases.decide(case, outcome, by=_who(request), now_ms=app.now_ms(), note=request.form.get("note") or None)
    return _done(app, request, case_id, f"decided: {outcome}", to_queue=True)


@route("POST", "/cases/{case_id}/assign")
def assign(app: App, request: Request, case_id: str) -> Response:
    case = _current(app, request, case_id)
    assignee = request.form.get("assignee", "").strip() or _who(request)
    app.cases.assign(case, assignee, by=_who(request), now_ms=app.now_ms())
    return _done(app, request, case_id, f"assigned to {assignee}")


@route("POST", "/cases/{case_id}/comment")
def comment(app: App, request: Request, case_id: str) -> Response:
    case = app.cases.get(case_id, events=False)
    app.cases.comment(case, request.form.get("note", ""), by=_who(request), now_ms=app.now_ms())
    return _done(app, request, case_id, "note added")


def _raw(app: App, case: Any, field_name: str) -> str:
    """The case's transaction's own value of a field (read from the table: the case holds it masked)."""
    if case.kind != "transaction" or not case.transaction_id:
        raise HttpError(400, "A pattern case has no transaction to take this from.")
    item = app.transactions.transaction(case.transaction_id)
    if item is None or item.get(field_name) in (None, ""):
        raise HttpError(404, "The transaction no longer holds this value (it may have expired).")
    return str(item[field_name])


@route("POST", "/cases/{case_id}/reveal")
def reveal(app: App, request: Request, case_id: str) -> Response:
    field_name = request.form.get("field", "")
    user = request.user
    assert user is not None
    if field_name not in REVEALABLE:
        raise HttpError(400, "Only a card token, a device or an IP address can be revealed.")
    if not user.is_admin and field_name not in revealable(app.cases):
        raise HttpError(403, "Admins have not allowed analysts to reveal this field.")
    case = app.cases.get(case_id, events=False)
    value = _raw(app, case, field_name)
    app.cases.record(case_id, Event(app.now_ms(), user.username, "revealed", {"field": field_name}))
    if request.api:
        return as_json({"field": field_name, "value": value})
    return case_page(app, request, case_id, revealed={field_name: value})


@route("POST", "/cases/{case_id}/block")
def block_from_case(app: App, request: Request, case_id: str) -> Response:
    field_name = request.form.get("field", "")
    if field_name not in FIELDS:
        raise HttpError(400, "Choose what to block: card, user, device, IP address or merchant.")
    case = app.cases.get(case_id, events=False)
    value = _raw(app, case, field_name)
    _put_entry(app, request, "block", field_name, value, case_id=case_id)
    return _done(app, request, case_id, f"{FIELD_NAMES[field_name]} blocked")


# --- lists ------------------------------------------------------------------------------------------------


def _expiry(request: Request, now_ms: int) -> int | None:
    days = _int(request.form.get("expires_days"), "Expires after (days)", 1, 3650)
    return None if days is None else now_ms + days * DAY_MS


def _put_entry(
    app: App, request: Request, list_name: str, field_name: str, value: str, case_id: str | None = None
) -> None:
    user = request.user
    assert user is not None
    now = app.now_ms()
    new = entry(list_name, field_name, value, reason=request.form.get("reason", ""), by=user.username, at=now,
                expires_at=_expiry(request, now))  # fmt: skip
    detail = {"list": new.list, "field": new.field, "value": new.shown, "reason": new.reason}
    audit = [event_put(app.cases.table_name, LISTS_TRAIL, Event(now, user.username, "listed", detail))]
    if case_id is not None:
        audit.append(event_put(app.cases.table_name, case_id, Event(now, user.username, "listed", detail)))
    app.lists.put(new, replace_allow=user.is_admin, audit=audit)


@route("GET", "/lists")
def lists_page(app: App, request: Request) -> Response:
    entries = sorted(app.lists.entries(), key=lambda e: (e.list, e.field, -e.at))
    now = app.now_ms()
    if request.api:
        return as_json(
            {
                "version": app.lists.version(),
                "entries": [{**e.to_dict(), "value": e.shown, "ref": e.ref, "active": e.active(now)} for e in entries],
            }
        )
    return render(app, request, "lists.html", entries=entries, version=app.lists.version(), now=now, fields=FIELDS,
                  field_names=FIELD_NAMES, lists=LISTS, trail=app.cases.trail(LISTS_TRAIL, 20))  # fmt: skip


def _listed(app: App, request: Request, message: str) -> Response:
    if request.api:
        return as_json({"ok": True, "message": message, "version": app.lists.version()})
    return redirect(request.url("/lists"))


@route("POST", "/lists")
def add_block(app: App, request: Request) -> Response:
    """Analysts add block entries; allow entries are an admin's (``/admin/lists``)."""
    if request.form.get("list", "block") != "block":
        raise HttpError(403, "Only admins may add allow entries.")
    _put_entry(app, request, "block", request.form.get("field", ""), request.form.get("value", ""))
    return _listed(app, request, "blocked")


@route("POST", "/admin/lists", admin=True)
def add_entry(app: App, request: Request) -> Response:
    list_name = request.form.get("list", "")
    _put_entry(app, request, list_name, request.form.get("field", ""), request.form.get("value", ""))
    return _listed(app, request, f"added to the {list_name} list")


@route("POST", "/admin/lists/{ref}/remove", admin=True)
def remove_entry(app: App, request: Request, ref: str) -> Response:
    found = app.lists.find(ref)
    if found is None:
        raise HttpError(404, "There is no such entry (it may have been removed already).")
    user = request.user
    assert user is not None
    detail = {"list": found.list, "field": found.field, "value": found.shown, "reason": found.reason}
    event = Event(app.now_ms(), user.username, "unlisted", detail)
    app.lists.remove(found, audit=[event_put(app.cases.table_name, LISTS_TRAIL, event)])
    return _listed(app, request, "removed")


# --- quality, settings, account ----------------------------------------------------------------------------


@route("GET", "/quality")
def quality(app: App, request: Request) -> Response:
    weeks_back = _int(request.query.get("weeks"), "Weeks", 1, 52, QUALITY_WEEKS) or QUALITY_WEEKS
    since = app.now_ms() - weeks_back * 7 * DAY_MS
    weeks = weekly(gather(app.cases, app.labels, app.transactions, since_ms=since))
    if request.api:
        return as_json({"weeks": [{"week": week, **figures.as_dict()} for week, figures in weeks.items()]})
    return render(app, request, "quality.html", weeks=weeks, weeks_back=weeks_back, percent=percent)


@route("GET", "/admin/settings", admin=True)
def settings_page(app: App, request: Request) -> Response:
    return render(app, request, "settings.html", chosen=revealable(app.cases), fields=REVEALABLE,
                  field_names=FIELD_NAMES, trail=app.cases.trail("settings", 20))  # fmt: skip


@route("POST", "/admin/settings", admin=True)
def save_settings(app: App, request: Request) -> Response:
    chosen = [f for f in REVEALABLE if request.form.get(f"reveal_{f}")]
    set_revealable(app.cases, chosen, by=_who(request), now_ms=app.now_ms())
    return redirect(request.url("/admin/settings"))


@route("GET", "/account/mfa")
def mfa_page(app: App, request: Request) -> Response:
    association = app.cognito.associate_software_token(AccessToken=request.session)
    return render(app, request, "mfa.html", secret=association["SecretCode"], done=False)


@route("POST", "/account/mfa")
def mfa_enable(app: App, request: Request) -> Response:
    try:
        app.cognito.verify_software_token(AccessToken=request.session, UserCode=request.form.get("code", "").strip())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in (
            "CodeMismatchException",
            "EnableSoftwareTokenMFAException",
        ):
            raise
        raise HttpError(400, "The code did not match: start again and enter the current code.") from None
    app.cognito.set_user_mfa_preference(
        AccessToken=request.session, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return render(app, request, "mfa.html", secret=None, done=True)


__all__ = ["App", "ROUTES", "dispatch", "static_versions"]
