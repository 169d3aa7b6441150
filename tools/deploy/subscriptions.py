"""Who the alerts reach: each topic's subscriptions and their state, and confirming an e-mail one properly.

    python -m tools.deploy.subscriptions report --env prod          # make subscriptions ENV=prod
    python -m tools.deploy.subscriptions confirm --env prod LINK    # make confirm-subscription ENV=prod LINK='...'

SNS creates an e-mail subscription pending and mails the address a "Confirm subscription" link;
nothing reaches the address until it is confirmed. Whoever follows the link confirms it without
authentication, and then the unsubscribe link in every later e-mail removes it without
authentication too (a mail scanner that follows links is enough). ``confirm`` takes that link (or
only its token) and confirms with ``AuthenticateOnUnsubscribe=true``: only the account can then
remove the subscription. Do not click the link; copy it.

``report`` lists, for the fraud alerts topic and the ops (alarms) topic, every subscription: its
protocol, endpoint and state (``pending confirmation``, ``confirmed`` with authenticated
unsubscribe, or ``confirmed, unsubscribe unauthenticated``). An environment is ready when every
topic it subscribes an address to (``alert_email``, ``ops_email``) has an e-mail subscriber confirmed
with authentication; for staging and prod (profiles that require the addresses) ``report`` exits 1
until then, and ``make deploy`` says "not ready" rather than success. Reads with
``ListSubscriptionsByTopic`` and ``GetSubscriptionAttributes`` (``PendingConfirmation``,
``ConfirmationWasAuthenticated``); the topic ARNs come from the Terraform outputs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools._cli import BUILD, ToolError, run, validate_suffix

EMAIL_PROTOCOLS = ("email", "email-json")
PENDING = "PendingConfirmation"
# The Terraform outputs of the topics, what each carries, and the variable that subscribes an address.
TOPICS = (
    ("topic_arn", "fraud alerts", "alert_email"),
    ("ops_topic_arn", "alarms (ops)", "ops_email"),
)


@dataclass(frozen=True)
class Subscription:
    topic: str  # what the topic carries
    topic_arn: str
    protocol: str
    endpoint: str
    arn: str | None  # None while pending (SNS lists it as "PendingConfirmation")
    authenticated: bool = False  # confirmed with AuthenticateOnUnsubscribe=true

    @property
    def pending(self) -> bool:
        return self.arn is None

    @property
    def email(self) -> bool:
        return self.protocol in EMAIL_PROTOCOLS

    @property
    def state(self) -> str:
        if self.pending:
            return "pending confirmation: nothing is delivered to it yet"
        if not self.email:
            return "confirmed"
        if self.authenticated:
            return "confirmed, unsubscribe needs AWS authentication"
        return "confirmed by a link, unsubscribe unauthenticated: any click on the unsubscribe link removes it"


def read_subscriptions(sns: Any, topics: Mapping[str, str]) -> list[Subscription]:
    """Every subscription of each topic (``{what it carries: topic ARN}``), with its state."""
    found = []
    for label, topic_arn in topics.items():
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for item in page["Subscriptions"]:
                arn = None if item["SubscriptionArn"] == PENDING else item["SubscriptionArn"]
                authenticated = False
                if arn is not None and item["Protocol"] in EMAIL_PROTOCOLS:
                    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                    authenticated = attributes.get("ConfirmationWasAuthenticated") == "true"
                found.append(Subscription(label, topic_arn, item["Protocol"], item["Endpoint"], arn, authenticated))
    return found


def problems(subscriptions: Sequence[Subscription], must_reach: Sequence[str]) -> list[str]:
    """Why the topics in ``must_reach`` (what they carry) do not provably reach someone, or []."""
    found = []
    for label in must_reach:
        emails = [s for s in subscriptions if s.topic == label and s.email]
        if any(not s.pending and s.authenticated for s in emails):
            continue
        if any(not s.pending for s in emails):
            found.append(
                f"{label}: the e-mail subscriber confirmed by clicking the link; any click on an unsubscribe link "
                "removes it. Unsubscribe it and deploy again for a new confirmation e-mail, then confirm with "
                "make confirm-subscription"
            )
        elif emails:
            found.append(
                f"{label}: {', '.join(s.endpoint for s in emails)} has not confirmed; copy the link of the "
                "confirmation e-mail (do not click it) into make confirm-subscription ENV=<suffix> LINK='<link>'"
            )
        else:
            found.append(f"{label}: no e-mail subscription; deploy with the address (ALERT_EMAIL=, OPS_EMAIL=)")
    return found


def format_report(suffix: str, subscriptions: Sequence[Subscription], topics: Mapping[str, str]) -> str:
    lines = [f"subscriptions of {suffix}:"]
    for label, topic_arn in topics.items():
        lines.append(f"  {label} ({topic_arn.rsplit(':', 1)[-1]})")
        listed = [s for s in subscriptions if s.topic == label]
        if not listed:
            lines.append("    (no subscription)")
        for s in listed:
            lines.append(f"    {s.protocol:<10} {s.endpoint}: {s.state}")
    return "\n".join(lines)


def parse_confirmation(text: str) -> tuple[str | None, str]:
    """``(topic ARN or None, token)`` from the confirmation link of the e-mail, or a bare token."""
    text = text.strip()
    if "://" not in text:
        if not text or any(c.isspace() for c in text):
            raise ToolError("give the link of the confirmation e-mail, or its token")
        return None, text
    query = parse_qs(urlsplit(text).query)
    tokens = query.get("Token") or []
    if not tokens:
        raise ToolError('the link has no Token: copy the whole "Confirm subscription" link of the e-mail')
    topics = query.get("TopicArn") or []
    return (topics[0] if topics else None), tokens[0]


def confirm(sns: Any, link_or_token: str, topic_arns: Sequence[str]) -> str:
    """Confirm with AuthenticateOnUnsubscribe=true; the subscription ARN. A bare token is tried on each
    topic of the environment (a token belongs to one topic)."""
    from botocore.exceptions import ClientError

    topic, token = parse_confirmation(link_or_token)
    if topic is not None and topic not in topic_arns:
        raise ToolError(f"the link is for {topic}, which is not a topic of this environment ({', '.join(topic_arns)})")
    refusals = []
    candidates: Sequence[str] = [topic] if topic is not None else topic_arns
    for candidate in candidates:
        try:
            return sns.confirm_subscription(TopicArn=candidate, Token=token, AuthenticateOnUnsubscribe="true")[
                "SubscriptionArn"
            ]
        except ClientError as error:
            refusals.append(f"{candidate}: {error.response['Error'].get('Message', error)}")
    raise ToolError(
        "SNS refused the token (a token lasts 3 days; deploy again for a new e-mail): " + "; ".join(refusals)
    )


def environment_topics(outputs: Mapping[str, Any]) -> dict[str, str]:
    """``{what it carries: ARN}`` of the environment's topics, from its Terraform outputs."""
    return {label: outputs[output] for output, label, _ in TOPICS if outputs.get(output)}


def must_reach(suffix: str, var_file: Path | None = None) -> list[str]:
    """The topics that must reach someone: those the environment's variables subscribe an address to,
    when its profile requires the addresses (staging, prod); none otherwise."""
    from tools.deploy import tfvars

    path = var_file or BUILD / suffix / "terraform.tfvars.json"
    try:
        variables = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        variables = {}
    profile = (variables.get("tags") or {}).get("Profile") or tfvars.profile_for(suffix)
    required = set(tfvars.load_profile(profile).get("required_variables", []))
    return [label for _, label, variable in TOPICS if variable in required]


@dataclass(frozen=True)
class Readiness:
    report: str
    problems: list[str]

    @property
    def ready(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ready:
            return f"{self.report}\nready: every topic that must reach people has a confirmed e-mail subscriber"
        return f"{self.report}\nNOT READY:\n  " + "\n  ".join(self.problems)


def readiness(sns: Any, suffix: str, outputs: Mapping[str, Any], required: Sequence[str]) -> Readiness:
    topics = environment_topics(outputs)
    subscriptions = read_subscriptions(sns, topics)
    return Readiness(format_report(suffix, subscriptions, topics), problems(subscriptions, required))


def sns_client(outputs: Mapping[str, Any]) -> Any:
    import boto3

    return boto3.Session(region_name=outputs.get("region") or None).client("sns")


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.subscriptions", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("report", "confirm"))
    parser.add_argument("link", nargs="?", help="confirm: the link of the confirmation e-mail, or its token")
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="environment suffix, e.g. prod")
    args = parser.parse_args(argv)
    from tools.deploy.tf import Stack

    suffix = validate_suffix(args.env)
    outputs = Stack(suffix).outputs()
    topics = environment_topics(outputs)
    if not topics:
        raise ToolError(f"environment {suffix} has no topic outputs: deploy it first (make deploy ENV={suffix})")
    sns = sns_client(outputs)
    if args.command == "confirm":
        if not args.link:
            raise ToolError("confirm needs the link of the confirmation e-mail (LINK='https://sns...') or its token")
        arn = confirm(sns, args.link, list(topics.values()))
        print(f"confirmed, unsubscribe needs AWS authentication: {arn}")
    state = readiness(sns, suffix, outputs, must_reach(suffix))
    print(state)
    return 0 if state.ready else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
