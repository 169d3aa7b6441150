"""SNS e-mail subscriptions as AWS runs them: pending until confirmed with the token the e-mail carries.

moto confirms an e-mail subscription the moment it is made (``PendingConfirmation`` false,
``ConfirmationWasAuthenticated`` true) and ``ConfirmSubscription`` checks nothing. On AWS an
``email`` or ``email-json`` subscription starts pending: SNS mails the endpoint a link with a token,
nothing is delivered to it until someone confirms, and only a confirmation made with
``AuthenticateOnUnsubscribe=true`` stops anyone holding the unsubscribe link (a mail scanner that
follows links, say) from removing it. ``patch_moto_sns`` makes moto do the same:

- ``Subscribe`` (email, email-json): the subscription is pending (``PendingConfirmation`` "true",
  ``ConfirmationWasAuthenticated`` "false", listed with ``SubscriptionArn`` "PendingConfirmation"),
  the answer is "pending confirmation" unless ``ReturnSubscriptionArn`` is true, and the confirmation
  e-mail (subject, text, the link with its token) goes to the backend's outbox (``confirmation_mails``),
  which the local cloud can show (``LocalCloud.mail()``). Subscribing the same endpoint again while
  it is pending sends the mail again.
- ``ConfirmSubscription``: the token must be the one mailed for a subscription of that topic
  ("Invalid parameter: Token" otherwise); the subscription is confirmed, authenticated when
  ``AuthenticateOnUnsubscribe`` is "true", and its ARN is the answer. Confirming again returns the ARN.

Idempotent; other protocols are unchanged (moto's SQS and Lambda subscriptions are confirmed, as
AWS confirms them in the same account).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

PENDING_PROTOCOLS = ("email", "email-json")
PENDING_ARN = "PendingConfirmation"
SUBJECT = "AWS Notification - Subscription Confirmation"


@dataclass(frozen=True)
class ConfirmationMail:
    """The e-mail SNS sends a new e-mail subscriber."""

    to: str
    topic_arn: str
    subject: str
    text: str
    url: str  # the "Confirm subscription" link: TopicArn and Token in its query
    token: str


def is_pending(subscription: Any) -> bool:
    return subscription.attributes.get("PendingConfirmation") is True


def _mail(backend: Any, subscription: Any) -> ConfirmationMail:
    region = subscription.topic_arn.split(":")[3]
    query = urlencode(
        {"TopicArn": subscription.topic_arn, "Token": subscription.token, "Endpoint": subscription.endpoint}
    )
    url = f"https://sns.{region}.amazonaws.com/confirmation.html?{query}"
    text = (
        f"You have chosen to subscribe to the topic:\n{subscription.topic_arn}\n\n"
        "To confirm this subscription, click or visit the link below "
        "(If this was in error no action is necessary):\n"
        f"Confirm subscription\n{url}\n"
    )
    mail = ConfirmationMail(subscription.endpoint, subscription.topic_arn, SUBJECT, text, url, subscription.token)
    backend.__dict__.setdefault("confirmation_mails", []).append(mail)
    return mail


def confirmation_mails(backend: Any) -> list[ConfirmationMail]:
    """The confirmation e-mails an SNS backend has sent, oldest first."""
    return list(backend.__dict__.get("confirmation_mails", []))


def patch_moto_sns() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import ensure_boolean
    from moto.sns.exceptions import SNSInvalidParameter, SNSNotFoundError
    from moto.sns.models import SNSBackend
    from moto.sns.responses import SNSResponse

    if getattr(SNSBackend.subscribe, "pending_confirmation", False):
        return
    original_subscribe = SNSBackend.subscribe
    original_subscribe_response = SNSResponse.subscribe

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription: Any = original_subscribe(self, topic_arn, endpoint, protocol)
        if protocol not in PENDING_PROTOCOLS:
            return subscription
        if existing is None:
            subscription.attributes["PendingConfirmation"] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
            subscription.token = secrets.token_hex(64)
            subscription.SubscriptionArn = PENDING_ARN  # what ListSubscriptions(ByTopic) shows for it
        if is_pending(subscription):
            _mail(self, subscription)
        return subscription

    def subscribe_response(self: Any) -> Any:
        result = original_subscribe_response(self)
        answer: dict[str, str] = result.result  # type: ignore[assignment]  # ActionResult holds the dict it was given
        subscription = self.backend.subscriptions.get(answer["SubscriptionArn"])
        wants_arn = ensure_boolean(str(self._get_param("ReturnSubscriptionArn", "false")).lower())
        if subscription is not None and is_pending(subscription) and not wants_arn:
            return ActionResult({"SubscriptionArn": "pending confirmation"})
        return result

    def confirm_subscription(self: Any) -> Any:
        topic_arn = self._get_param("TopicArn")
        token = self._get_param("Token")
        authenticate = str(self._get_param("AuthenticateOnUnsubscribe", "false")).lower() == "true"
        if topic_arn not in self.backend.topics:
            raise SNSNotFoundError("Topic does not exist")
        for subscription in list(self.backend.subscriptions.values()):
            if subscription.topic_arn != topic_arn or getattr(subscription, "token", None) != token:
                continue
            if is_pending(subscription):
                subscription.attributes["PendingConfirmation"] = False
                subscription.attributes["ConfirmationWasAuthenticated"] = authenticate
                del subscription.SubscriptionArn
            return ActionResult({"SubscriptionArn": subscription.arn})
        raise SNSInvalidParameter("Invalid parameter: Token")

    subscribe.pending_confirmation = True  # type: ignore[attr-defined]
    SNSBackend.subscribe = subscribe  # type: ignore[method-assign]
    SNSResponse.subscribe = subscribe_response  # type: ignore[method-assign]
    SNSResponse.confirm_subscription = confirm_subscription  # type: ignore[method-assign]
