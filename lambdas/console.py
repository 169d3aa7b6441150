"""The fraud console (API Gateway REST proxy): server-rendered pages and a JSON API over the cases, lists,
labels and quality of one environment.

API Gateway runs the console's authorizer (``console_authorizer``) before every route but sign-in and the
static files, and hands this function the user it accepted (``requestContext.authorizer``: username, groups).
The routes, and who may call each, are in ``console_web.views``; cookies, the forgery token and the security
headers in ``console_web.web``. Nothing a page shows holds a card number or a secret: identifiers are masked
as alerts mask them, and revealing one is an admin's decision, audited on the case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import handler_kit as kit
from aws_lambda_powertools.logging import correlation_paths
from console_web.views import App, dispatch, static_versions
from console_web.web import HttpError, Request, Response

from fraud.cases import CaseStore
from fraud.labels import LabelStore
from fraud.lists import ListStore
from fraud.storage import TransactionStore


@dataclass(frozen=True)
class Settings:
    user_pool_client_id: str
    cases_table_name: str
    labels_table_name: str
    lists_table_name: str
    table_name: str
    user_index_name: str = "user_id-timestamp-index"
    environment: str = ""


@functools.cache
def app() -> App:
    """The stores, the Cognito client and the templates, created on first use."""
    import jinja2  # zipped with this function only (lambdas/functions.json "vendor")

    settings = kit.load_settings(Settings)
    dynamodb = kit.client("dynamodb")
    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("console_web", "templates"),
        autoescape=True,  # every value escaped, in every template
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return App(
        cases=CaseStore(dynamodb, settings.cases_table_name, settings.labels_table_name),
        labels=LabelStore(dynamodb, settings.labels_table_name),
        lists=ListStore(dynamodb, settings.lists_table_name),
        transactions=TransactionStore(dynamodb, settings.table_name, user_index_name=settings.user_index_name),
        cognito=kit.client("cognito-idp"),
        client_id=settings.user_pool_client_id,
        environment=settings.environment,
        templates=templates,
        static_versions=static_versions(),
    )


@kit.entry_point(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    console = app()
    try:
        request = Request.from_event(event)
    except HttpError as error:
        return Response(error.status, error.message, "text/plain; charset=utf-8").to_proxy()
    response = dispatch(console, request)
    user = request.user.username if request.user else None
    kit.logger.info(
        "Console request",
        extra={"method": request.method, "route": request.path[:120], "status": response.status, "user": user},
    )
    kit.count("ConsoleRequests")
    if request.method != "GET" and response.status < 400:
        kit.count("ConsoleChanges")
    return response.to_proxy()
