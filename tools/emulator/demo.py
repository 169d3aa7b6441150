"""``make demo``: deploy the real Terraform into an embedded AWS emulator and run the pipeline on it.

    python -m tools.emulator.demo            # deploy, send traffic, print what happened, serve the API until Ctrl-C
    python -m tools.emulator.demo --once     # ... and exit after the summary (non-zero if anything was lost)
    python -m tools.emulator.demo --profile prod --once   # the production shape: VPC, reservations, ...
    python -m tools.bench emulator           # the local cloud's benchmark (throughput, latency, per-hop breakdown)

Steps: start moto on 127.0.0.1, package the functions, render the variables of environment
``local``, restore the previous run's emulator state or ``terraform apply`` into it, run the deployed
pipeline (``tools.emulator.LocalCloud``), send simulated traffic with fraud through the API, wait
for the pipeline to settle and reconcile: every accepted transaction stored once, every stored one
scored, every alert published (and its case opened), nothing in a dead-letter queue. Then it creates a demo
analyst and a demo admin in the deployment's Cognito user pool (random passwords, printed once, kept nowhere)
and prints the fraud console's URL: the cases the traffic opened are in its queue. See docs/local-emulator.md
and docs/fraud-team.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import secrets
import string
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tools._cli import BUILD, ROOT, ToolError, clock_offset_ms, progress, run
from tools.api_client import Api
from tools.deploy import package, tfvars
from tools.deploy.tf import Stack, stream_terraform_output
from tools.detection import simulate
from tools.emulator import EndpointSession, LocalCloud, snapshot
from tools.emulator.iam import create_invoker
from tools.emulator.localaws import LocalAWS
from tools.emulator.timings import TIMINGS

SUFFIX = "local"
PRODUCER_ROLE = "demo-producer"  # the role the demo signs with when the API requires IAM
RECORDING = "moto-requests.jsonl"
FINGERPRINT = "moto-requests.fingerprint"
SECOND_PLAN = "second-plan.json"  # what a plan right after the recorded apply would change (nothing, if stable)
# Profiles that refuse to deploy without alert addresses get these in the local cloud (no mail is sent).
EXAMPLE_ADDRESSES = {"alert_email": "fraud-team@example.com", "ops_email": "fraud-ops@example.com"}


def suffix_for(profile: str) -> str:
    """The demo's environment for a profile: ``local``, else ``local-<profile>`` (each keeps its own recording)."""
    return SUFFIX if profile == "local" else f"{SUFFIX}-{profile}"


def tfvars_arguments(suffix: str, profile: str, stream_consumer: str | None) -> list[str]:
    """How the local cloud renders a profile: as deployed, but without the Powertools layer (moto has none of
    AWS's public layers; the sandboxes run the same pinned release from the project's virtualenv) and with
    example alert addresses where the profile requires them."""
    arguments = ["--env", suffix, "--profile", profile]
    if stream_consumer is not None:
        arguments += ["--stream-consumer", stream_consumer]
    if profile != "local":
        arguments += ["--set", "powertools_release=null"]
    for name in tfvars.load_profile(profile).get("required_variables", []):
        if name in EXAMPLE_ADDRESSES:
            arguments += [f"--{name.replace('_', '-')}", EXAMPLE_ADDRESSES[name]]
    return arguments


# -- deploy ---------------------------------------------------------------------------------------------


def fingerprint(stack: Stack) -> str:
    """A hash of everything a ``terraform apply`` depends on: configuration, variables, packages."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "terraform").rglob("*.tf")) + sorted((ROOT / "modules").rglob("*.tf"))
    artifacts = Path(json.loads(stack.var_file.read_text())["artifacts_dir"])
    for path in [*sources, stack.var_file, *sorted(artifacts.glob("*.zip"))]:
        digest.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def deploy(
    aws: LocalAWS,
    stream_consumer: str | None,
    *,
    suffix: str = SUFFIX,
    profile: str = "local",
    fresh: bool = False,
    verbose: bool = False,
    packaged: bool = False,
    second_plan: bool = False,
    variables: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """Package (unless ``packaged``), render (the profile, ``variables`` over it), then restore the previous
    run's emulator state (when nothing changed since its apply) or apply into the emptied emulator ``aws``.
    Returns the Terraform outputs and how the stack got there (``restored`` or ``applied``). ``second_plan``:
    after an apply, plan the same configuration again and keep what it would change in
    ``build/<suffix>/second-plan.json``."""
    if not packaged and package.main([]) != 0:
        raise ToolError("packaging failed (see above)")
    overrides = [f"--set={name}={json.dumps(value)}" for name, value in sorted((variables or {}).items())]
    if tfvars.main([*tfvars_arguments(suffix, profile, stream_consumer), *overrides]) != 0:
        raise ToolError("rendering the variables failed (see above)")
    if verbose:
        stream_terraform_output()
    gateway = aws.gateway
    stack = Stack(suffix, env=aws.env())
    recording = stack.dir / RECORDING
    marker = stack.dir / FINGERPRINT
    current = fingerprint(stack)
    unchanged = marker.is_file() and marker.read_text() == current
    if not unchanged or not (stack.dir / ".terraform").is_dir():
        # A changed configuration may call a module the last init did not install.
        progress("terraform init")
        stack.init()
    if not fresh and unchanged and stack.state_file.is_file() and recording.is_file():
        if _restore(aws, stack, recording):
            return stack.outputs(), "restored"
    elif stack.state_file.is_file() and not fresh:
        # moto cannot update every resource in place (API Gateway models, for one): a changed
        # configuration is applied to an empty emulator rather than over the recorded one.
        progress("the Terraform configuration, variables or packages changed since the recorded apply")
    # Start over: an empty emulator, and no state that describes a server that is gone.
    snapshot.reset(gateway)
    snapshot.seed(gateway)
    for stale in (stack.state_file, recording, marker):
        stale.unlink(missing_ok=True)
    progress("terraform apply into the emulator")
    started = time.monotonic()
    snapshot.start_recording(gateway, recording)
    try:
        stack.apply(plan=False)
    finally:
        snapshot.stop_recording(gateway)
    marker.write_text(current)
    progress(f"applied in {time.monotonic() - started:.0f} s")
    if second_plan:
        record_second_plan(stack, current)
    return stack.outputs(), "applied"


def record_second_plan(stack: Stack, fingerprint_of_apply: str) -> list[str]:
    """Plan the configuration just applied, and keep what it would change (``address: actions``) beside the
    recording, for the apply whose inputs have ``fingerprint_of_apply``. A stable configuration changes nothing."""
    stack.plan()
    changes = planned_changes(json.loads(stack.plan_json.read_text()))
    (stack.dir / SECOND_PLAN).write_text(
        json.dumps({"fingerprint": fingerprint_of_apply, "changes": changes}, indent=2) + "\n"
    )
    return changes


def planned_changes(plan: dict[str, Any]) -> list[str]:
    """``address: action, ...`` for each managed resource a plan would change (``no-op`` and reads left out)."""
    return [
        f"{change['address']}: {', '.join(change['change']['actions'])}"
        for change in plan.get("resource_changes", [])
        if change["mode"] == "managed" and change["change"]["actions"] not in (["no-op"], ["read"])
    ]


def second_plan(suffix: str) -> list[str] | None:
    """What a plan right after the recorded apply of ``suffix`` would change; None when no plan was kept for the
    inputs of that apply (the configuration changed since, or it was never planned)."""
    directory = BUILD / suffix
    try:
        kept = json.loads((directory / SECOND_PLAN).read_text())
        recorded = (directory / FINGERPRINT).read_text()
    except (OSError, ValueError):
        return None
    return list(kept["changes"]) if kept.get("fingerprint") == recorded else None


def _restore(aws: LocalAWS, stack: Stack, recording: Path) -> bool:
    """Replay the recording into an empty emulator; True if it now holds what the state says."""
    snapshot.reset(aws.gateway)  # moto's backends are per process: start from nothing, whatever ran before
    snapshot.seed(aws.gateway)
    started = time.monotonic()
    try:
        count = snapshot.replay(aws.gateway, recording)
    except Exception as error:  # a recording from another moto version or configuration
        progress(f"could not restore the emulator from {recording} ({error!r}): applying from scratch")
        return False
    missing = missing_resources(EndpointSession(aws.endpoint, aws.region), stack.outputs())
    if missing:
        progress(f"the restored emulator does not match the Terraform state ({missing}): applying from scratch")
        return False
    progress(f"restored the emulator from the previous run: {count} requests in {time.monotonic() - started:.1f} s")
    return True


def missing_resources(session: EndpointSession, outputs: dict[str, Any]) -> str:
    """The first resource named by the outputs that the emulator does not have, or ''."""
    checks = [
        ("REST API", lambda: session.client("apigateway").get_rest_api(restApiId=outputs["api_id"])),
        ("API key", lambda: session.client("apigateway").get_api_key(apiKey=outputs["api_key_id"])),
        ("KMS key", lambda: session.client("kms").describe_key(KeyId=outputs["kms_key_arn"])),
        ("stream", lambda: session.client("dynamodbstreams").describe_stream(StreamArn=outputs["table_stream_arn"])),
        *(
            (f"queue {url}", lambda url=url: session.client("sqs").get_queue_attributes(QueueUrl=url))
            for url in (outputs["alerts_queue_url"], outputs["alerts_dlq_url"], outputs["alert_subscription_queue_url"])
        ),
        *(
            (
                f"function {name}",
                lambda name=name: session.client("lambda").get_function_configuration(FunctionName=name),
            )
            for name in outputs["function_names"].values()
        ),
    ]
    for what, check in checks:
        try:
            check()
        except (ClientError, KeyError):
            return what
    return ""


# -- what happened ---------------------------------------------------------------------------------------


@dataclass
class Alerts:
    """Alerts published to the topic, read from its SQS subscription queue."""

    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)  # alert id -> time.time() of first sight
    deliveries: int = 0

    def drain(self, sqs: Any, queue_url: str) -> int:
        """Read and delete everything in the queue now; returns how many messages."""
        seen = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["SentTimestamp"]
            ).get("Messages", [])
            if not messages:
                return seen
            now = time.time()
            for message in messages:
                sent = message.get("Attributes", {}).get("SentTimestamp")
                if sent:
                    TIMINGS.add("sns subscription (published to read)", now - int(sent) / 1000)
                envelope = json.loads(message["Body"])
                alert = json.loads(envelope["Message"]) if "Message" in envelope else envelope
                alert_id = alert["alert_id"]
                self.deliveries += 1
                self.by_id.setdefault(alert_id, alert)
                self.arrived.setdefault(alert_id, now)
                if envelope.get("Subject"):
                    self.subjects.setdefault(alert_id, envelope["Subject"])
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            seen += len(messages)

    def kinds(self) -> Counter[str]:
        return Counter(alert.get("kind", "?") for alert in self.by_id.values())


def email_texts(cloud: LocalCloud) -> list[tuple[str, str]]:
    """(subject, body) of each email the topic sent, from moto's record of published messages.

    notify-team publishes with ``MessageStructure=json``; the ``email`` variant is what an email
    subscriber receives, and the SQS subscription gets the structured one, so the text comes from
    moto's list of sent notifications (the only place it is kept without a mail server).
    """
    from moto.sns.models import sns_backends

    topic_arn = cloud.outputs["topic_arn"]
    account, region = topic_arn.split(":")[4], topic_arn.split(":")[3]
    emails = []
    for _, message, subject, _, _ in sns_backends[account][region].topics[topic_arn].sent_notifications:
        try:
            text = json.loads(message).get("email", message)
        except ValueError:
            text = message
        emails.append((subject or "", text))
    return emails


def count_stored(cloud: LocalCloud) -> int:
    """Transaction items in the table (claims excluded)."""
    dynamodb = cloud.client("dynamodb")
    total = 0
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=cloud.outputs["table_name"],
        FilterExpression="#k = :t",
        ExpressionAttributeNames={"#k": "kind"},
        ExpressionAttributeValues={":t": {"S": "transaction"}},
        Select="COUNT",
    ):
        total += page["Count"]
    return total


def count_cases(cloud: LocalCloud) -> int | None:
    """Cases in the cases table (their audit events left out), or None when the deployment has none."""
    table = cloud.outputs.get("cases_table_name")
    if not table:
        return None
    total = 0
    for page in (
        cloud.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="sk = :case",
            ExpressionAttributeValues={":case": {"S": "case"}},
            Select="COUNT",
        )
    ):
        total += page["Count"]
    return total


def queue_depth(cloud: LocalCloud, url: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@dataclass
class Reconciliation:
    posted: int
    accepted: int
    rejected: int
    failed: int
    stored: int
    scored: int
    score_failures: int
    alerts_published: int
    alert_kinds: Counter[str]
    dead_letters: int
    discarded: int
    fraud_sent: int
    fraud_alerted: int
    problems: list[str]
    counters: dict[str, Any]
    cases: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(
    cloud: LocalCloud, summary: simulate.Summary, alerts: Alerts, fraud_ids: set[str], accepted: int
) -> Reconciliation:
    """Compare what each stage says it did; ``fraud_ids``: the stored simulated frauds."""
    stored = count_stored(cloud)
    detect = cloud.topology.function("detect-fraud").name  # type: ignore[union-attr]
    scored = cloud.ledger[(detect, "ok")]
    score_failures = cloud.ledger[(detect, "failed")]
    dead = queue_depth(cloud, cloud.outputs["alerts_dlq_url"])
    discarded = len(cloud.discarded) + sum(cloud.failures_sent.values())
    transaction_alerts = {
        a["transaction"]["transaction_id"] for a in alerts.by_id.values() if a.get("kind") == "transaction"
    }
    problems = []
    if stored != accepted:
        problems.append(f"{accepted} transactions accepted but {stored} stored")
    if scored != stored:
        problems.append(f"{stored} transactions stored but {scored} scored")
    if score_failures and scored != stored:
        problems.append(f"{score_failures} scoring attempts failed")
    if dead:
        problems.append(f"{dead} alerts in the dead-letter queue")
    if discarded:
        problems.append(f"{discarded} events went to an on-failure destination or were discarded")
    if summary.failed:
        problems.append(f"{summary.failed} requests got no answer or a 5xx")
    errors = cloud.errors()
    if errors:
        problems.append("emulator errors: " + "; ".join(errors))
    problems += [f"network: {line}" for line in cloud.network_failures()]
    if not alerts.by_id:
        problems.append("no alert came out")
    cases = count_cases(cloud)
    if cases is not None and cases != len(alerts.by_id):
        problems.append(f"{len(alerts.by_id)} alerts published but {cases} cases opened")
    return Reconciliation(
        posted=summary.sent,
        accepted=accepted,
        rejected=summary.rejected,
        failed=summary.failed,
        stored=stored,
        scored=scored,
        score_failures=score_failures,
        alerts_published=len(alerts.by_id),
        alert_kinds=alerts.kinds(),
        dead_letters=dead,
        discarded=discarded,
        fraud_sent=len(fraud_ids),
        fraud_alerted=len(fraud_ids & transaction_alerts),
        problems=problems,
        counters=cloud.counters(),
        cases=cases,
    )


def print_report(result: Reconciliation, alerts: Alerts, emails: list[tuple[str, str]], show_emails: int) -> None:
    print()
    for subject, text in emails[:show_emails]:
        print("-" * 78)
        print(f"To: the fraud team\nSubject: {subject}\n\n{text.strip()}")
    if len(emails) > show_emails:
        print("-" * 78)
        print(f"... and {len(emails) - show_emails} more alert emails")
    print("=" * 78)
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.alert_kinds.items())) or "none"
    print(
        f"posted      {result.posted:>6}\n"
        f"accepted    {result.accepted:>6}   (distinct transactions answered 201; exact retries get the same answer)\n"
        f"rejected    {result.rejected:>6}   (HTTP 4xx: invalid, unauthenticated, duplicate conflicts)\n"
        f"stored      {result.stored:>6}   (transaction items in the table)\n"
        f"scored      {result.scored:>6}   (stream records detect-fraud processed)\n"
        f"alerted     {result.alerts_published:>6}   "
        f"({kinds}; {alerts.deliveries} deliveries on the SQS subscription)\n"
        + (
            f"cases       {result.cases:>6}   (one per alert, in the fraud console's queue)\n"
            if result.cases is not None
            else ""
        )
        + f"dead letter {result.dead_letters:>6}\n"
        f"fraud caught {result.fraud_alerted}/{result.fraud_sent} of the simulated fraudulent transactions"
    )
    if result.ok:
        print("reconciled: every accepted transaction was stored and scored, every alert published, nothing lost")
    else:
        print("NOT RECONCILED:\n  " + "\n  ".join(result.problems))
        print("what each part did:\n" + json.dumps(result.counters, indent=2))
    print("=" * 78)


# -- traffic -------------------------------------------------------------------------------------------


def traffic(count: int, users: int, seed: int, fraud_rate: float, clock: str | None = None) -> list[dict[str, Any]]:
    """Simulated labeled transactions of the last day, ending now (so the API accepts the timestamps), or at the
    most recent ``clock`` time of day (``HH:MM`` UTC): the same traffic whatever the hour the demo runs at."""
    now_ms = int(time.time() * 1000)
    if clock is not None:
        now_ms += clock_offset_ms(clock, now_ms)
    return list(
        simulate.generate(
            n_users=users, days=1, seed=seed, fraud_rate=fraud_rate, end_ms=now_ms - 1000, n_transactions=count
        )
    )


def producer(cloud: LocalCloud) -> Any:
    """When the API requires IAM: credentials of a producer role made in the emulator (its own IAM
    policy allows execute-api:Invoke on POST /transactions, as the payment backend's would); else None."""
    if cloud.outputs.get("api_authorization") != "AWS_IAM":
        return None
    return create_invoker(cloud.session, PRODUCER_ROLE, cloud.outputs["api_invoke_resource_arn"])


def post_one(cloud: LocalCloud, key: str | None, body: dict[str, Any], credentials: Any = None) -> tuple[int, str]:
    api = Api(url=cloud.api_url, api_key=key, credentials=credentials, region=cloud.region)
    answer = api.post(body, timeout=60)
    return answer.status, answer.body


def show_api_answers(
    cloud: LocalCloud, sample: dict[str, Any], credentials: Any = None
) -> tuple[set[str], Counter[int]]:
    """One request of each kind a client can send, with the answer: the ids accepted, the statuses."""
    key = cloud.api_key
    body = simulate.api_body(sample)
    accepted = set()
    statuses: Counter[int] = Counter()
    kinds = [
        ("valid", key, body, credentials),
        ("exact retry", key, body, credentials),
        ("same id, other amount", key, {**body, "amount": round(float(body["amount"]) + 1, 2)}, credentials),
        ("invalid", key, {**body, "amount": -5, "currency": "dollars"}, credentials),
        ("no API key", None, body, credentials),
    ]
    if credentials is not None:
        kinds.append(("not signed", key, body, None))
    for title, request_key, payload, signer in kinds:
        status, text = post_one(cloud, request_key, payload, signer)
        statuses[status] += 1
        if status == 201:
            accepted.add(body["transaction_id"])
        progress(f"  {title:<22} -> {status} {text[:110]}")
    return accepted, statuses


DEMO_USERS = (("demo-analyst", "analysts"), ("demo-admin", "admins"))


def new_password() -> str:
    """A random password the user pool's policy accepts (14+ characters, each kind of character)."""
    kinds = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-=?@^_")
    chars = [secrets.choice(kind) for kind in kinds] + [
        secrets.choice(string.ascii_letters + string.digits) for _ in range(16)
    ]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def create_console_users(
    session: Any, outputs: dict[str, Any], users: Sequence[tuple[str, str]] = DEMO_USERS
) -> list[tuple[str, str, str]]:
    """``(username, group, password)`` of each user created (or given a new password) in the deployment's user
    pool, as an admin does with the AWS CLI: ``admin-create-user``, ``admin-set-user-password --permanent``,
    ``admin-add-user-to-group``."""
    cognito = session.client("cognito-idp")
    pool = outputs["user_pool_id"]
    created = []
    for username, group in users:
        password = new_password()
        # A restored emulator keeps its users: a new password is set below.
        with contextlib.suppress(cognito.exceptions.UsernameExistsException):
            cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
        created.append((username, group, password))
    return created


def console_lines(cloud: LocalCloud, users: Sequence[tuple[str, str, str]]) -> str:
    """What the demo prints about the console: its local URL and the demo logins (passwords shown only here)."""
    url = cloud.local_url(cloud.outputs["console_url"])
    logins = "\n".join(f"  {group[:-1]:<8} {username} / {password}" for username, group, password in users)
    note = "(Cognito in the emulator; these passwords are printed once and kept nowhere.)"
    return f"The fraud console: {url}/cases\n{logins}\n{note}"


def hand_commands(cloud: LocalCloud, credentials: Any = None) -> str:
    """The commands a user can paste to post a transaction by hand: curl with the API key, or, when the
    API requires IAM, the project's signing client and curl's own SigV4 signing, with the producer's
    credentials (the emulator's; on AWS they come from the usual credential chain)."""
    body = {
        "transaction_id": "curl-demo-1",
        "user_id": "user-curl",
        "amount": 42.5,
        "currency": "EUR",
        "merchant_id": "merchant-1",
        "merchant_category": "grocery",
        "timestamp": int(time.time() * 1000),
    }
    headers = f"-H 'x-api-key: {cloud.api_key}' -H 'Content-Type: application/json'"
    if credentials is None:
        return f"curl -s -X POST '{cloud.api_url}' {headers} -d '{json.dumps(body)}'"
    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    signer = (
        f"AWS_ACCESS_KEY_ID={frozen.access_key} AWS_SECRET_ACCESS_KEY={frozen.secret_key} "
        f"AWS_SESSION_TOKEN={frozen.token}"
    )
    return (
        f"echo '{json.dumps(body)}' > transaction.json\n"
        f"  {signer} \\\n    python -m tools.api_client --env {cloud.outputs['suffix']} --url '{cloud.api_url}' "
        "transaction.json\n"
        f"or with curl (7.75+ signs SigV4 itself):\n"
        f"  curl -s -X POST '{cloud.api_url}' --aws-sigv4 'aws:amz:{cloud.region}:execute-api' "
        f"--user '{frozen.access_key}:{frozen.secret_key}' -H 'x-amz-security-token: {frozen.token}' "
        f"{headers} -d @transaction.json"
    )


# -- main ----------------------------------------------------------------------------------------------


def run_demo(cloud: LocalCloud, args: argparse.Namespace) -> Reconciliation:
    sqs = cloud.client("sqs")
    subscription = cloud.outputs["alert_subscription_queue_url"]
    transactions = traffic(args.transactions, args.users, args.seed, args.fraud_rate, args.clock)
    fraud_ids = {t["transaction_id"] for t in transactions if t["is_fraud"]}
    credentials = producer(cloud)
    progress(f"API: {cloud.api_url}" + (" (IAM: every request is signed by a producer role)" if credentials else ""))
    progress("what the API answers:")
    sample_ids, sample_statuses = show_api_answers(cloud, transactions[0], credentials)
    accepted = len(sample_ids)
    progress(
        f"sending {len(transactions) - 1} simulated transactions ({len(fraud_ids)} fraudulent) at {args.rate:.0f}/s"
    )
    summary = simulate.post(
        transactions[1:], cloud.api_url, cloud.api_key, rate=args.rate, credentials=credentials, region=cloud.region
    )
    accepted += summary.accepted
    summary.sent += sum(sample_statuses.values())
    summary.rejected += sum(n for status, n in sample_statuses.items() if 400 <= status < 500)
    progress(
        f"  {summary.accepted} accepted, {summary.rejected} rejected, {summary.failed} failed"
        f" in {summary.seconds:.1f} s"
    )
    progress("waiting for the pipeline to settle (scoring, alerts, retries)")
    alerts = Alerts()
    settle(cloud, alerts, sqs, subscription)
    progress("running analyze-patterns now (the 5-minute schedule)")
    cloud.trigger_schedule("analyze-patterns")
    settle(cloud, alerts, sqs, subscription)
    result = reconcile(cloud, summary, alerts, stored_ids(cloud, sorted(fraud_ids)), accepted)
    print_report(result, alerts, email_texts(cloud), args.show_emails)
    return result


def stored_ids(cloud: LocalCloud, ids: list[str]) -> set[str]:
    dynamodb = cloud.client("dynamodb")
    found = set()
    for transaction_id in ids:
        reply = dynamodb.query(
            TableName=cloud.outputs["table_name"],
            KeyConditionExpression="transaction_id = :id AND #ts > :zero",
            ExpressionAttributeNames={"#ts": "timestamp"},
            ExpressionAttributeValues={":id": {"S": transaction_id}, ":zero": {"N": "0"}},
            Select="COUNT",
        )
        if reply["Count"]:
            found.add(transaction_id)
    return found


def settle(cloud: LocalCloud, alerts: Alerts, sqs: Any, subscription: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not cloud.wait_idle(quiet_s=1.5, timeout_s=2):
        alerts.drain(sqs, subscription)
        if time.monotonic() > deadline:
            raise ToolError(f"the pipeline did not settle within {timeout_s:.0f} s")
    alerts.drain(sqs, subscription)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--once",
        action="store_true",
        help="exit after the summary (non-zero if anything was lost or no alert came out)",
    )
    parser.add_argument("--bench", action="store_true", help=argparse.SUPPRESS)  # moved to python -m tools.bench
    parser.add_argument(
        "--profile",
        default="local",
        choices=tfvars.available_profiles(),
        help="deploy this profile's shape (default local; prod: VPC, reservations, ... as deployed on AWS)",
    )
    parser.add_argument(
        "--stream-consumer", choices=("eventbridge", "direct"), help="the stream routing (default: the profile's)"
    )
    parser.add_argument(
        "--sign",
        action="store_true",
        help="deploy with api_authorization=AWS_IAM (as staging and prod): every request is SigV4-signed",
    )
    parser.add_argument("--transactions", type=int, default=400, help="simulated transactions to send (default 400)")
    parser.add_argument("--users", type=int, default=100, help="simulated cardholders (default 100)")
    parser.add_argument(
        "--fraud-rate", type=float, default=0.08, help="share of fraudulent transactions (default 0.08)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--clock",
        metavar="HH:MM",
        help="end the simulated traffic at the most recent HH:MM UTC rather than now (the tests pin it)",
    )
    parser.add_argument("--rate", type=float, default=40.0, help="transactions per second to send (default 40)")
    parser.add_argument("--sandboxes", type=int, default=4, help="maximum sandboxes per function (default 4)")
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="divide SQS visibility and retry waits by this (default 60)"
    )
    parser.add_argument(
        "--schedule-speedup", type=float, default=60.0, help="divide schedule rates by this (default 60: every 5 s)"
    )
    parser.add_argument("--api-port", type=int, default=0, help="port of the local API (default: a free one)")
    parser.add_argument("--show-emails", type=int, default=3, help="alert emails to print (default 3)")
    parser.add_argument("--fresh", action="store_true", help="ignore the previous run's state: apply from scratch")
    parser.add_argument("--verbose", action="store_true", help="stream terraform's output")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.bench:
        raise ToolError("the local cloud's benchmark is a section of the one benchmark: python -m tools.bench emulator")
    logging.basicConfig(level=logging.WARNING, format="emulator: %(message)s")
    started = time.monotonic()
    progress("starting the AWS emulator (moto) on 127.0.0.1")
    with LocalAWS() as aws:
        suffix = suffix_for(args.profile)
        variables = {"api_authorization": "AWS_IAM"} if args.sign else None
        outputs, how = deploy(
            aws,
            args.stream_consumer,
            suffix=suffix,
            profile=args.profile,
            fresh=args.fresh,
            verbose=args.verbose,
            variables=variables,
        )
        progress(f"deployment {how} in {time.monotonic() - started:.0f} s; starting the functions")
        with LocalCloud(
            aws,
            outputs,
            log_dir=BUILD / suffix / "logs",
            time_scale=args.time_scale,
            schedule_time_scale=None if args.once else args.schedule_speedup,
            api_port=args.api_port,
            max_sandboxes=args.sandboxes,
        ) as cloud:
            progress(
                f"pipeline running ({outputs['stream_consumer']} stream consumer); function logs in {cloud.log_dir}"
            )
            result = run_demo(cloud, args)
            progress(f"total {time.monotonic() - started:.0f} s")
            if args.once:
                return 0 if result.ok else 1
            users = create_console_users(cloud.session, outputs)
            print(f"\n{console_lines(cloud, users)}", flush=True)
            commands = hand_commands(cloud, producer(cloud))
            print(f"\nThe API and the console keep running until Ctrl-C. Try:\n  {commands}\n", flush=True)
            for mail in cloud.mail():
                print(
                    f"SNS mailed {mail.to} a subscription confirmation; confirm it (authenticated unsubscribe):\n"
                    f"  AWS_ENDPOINT_URL={aws.endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
                    f"python -m tools.deploy.subscriptions confirm --env {suffix} '{mail.url}'\n",
                    flush=True,
                )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                progress("stopping")
                return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
