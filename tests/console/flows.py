"""What the console's end-to-end and browser tests do to the deployed stack: new ids, an alerted case, a sign-in."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from tests.console.web_client import Browser
from tests.e2e.test_pipeline import fraudulent, history, post_all


def new_id(prefix: str) -> str:
    return f"c-{uuid.uuid4().hex[:8]}-{prefix}"


def signed_in(deployment: SimpleNamespace, who: str = "analyst") -> Browser:
    browser = Browser(deployment.console)
    username, password = getattr(deployment, who)
    reply = browser.sign_in(username, password)
    assert reply.status == 303, reply.body
    return browser


def alerted_case(deployment: SimpleNamespace, name: str) -> str:
    """Post a user's history and then a fraudulent purchase; the case id of its alert, once opened."""
    pipeline = deployment.pipeline
    user = new_id(name)
    post_all(pipeline, history(new_id, user, count=5))
    pipeline.settle()
    body = fraudulent(new_id, name, user)
    post_all(pipeline, [body])
    alert = pipeline.wait_for_alert(lambda a: a.get("transaction", {}).get("transaction_id") == body["transaction_id"])
    assert alert is not None, "no alert for the fraudulent purchase"
    return str(alert["alert_id"])
