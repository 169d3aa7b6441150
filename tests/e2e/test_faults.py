"""What AWS will do to the deployed pipeline, in the local cloud: each fault during traffic, with the counts.

Every test runs in both ``stream_consumer`` modes (the ``local_pipeline`` fixture: fault injection needs the
emulator, so these skip against a real deployment) and checks what a user relies on, stage by stage:
``posted`` (201 answers), ``stored`` (transaction items), ``scored`` (records detect-fraud processed),
``alerted`` (SNS publishes), ``replayed`` (failure records re-driven by ``make replay``) and ``lost``
(posted, but neither scored nor held in a failure queue): always 0. Each test's counts are printed and
collected into ``build/e2e-faults.json``.

Faults last a few seconds and the traffic is small: the emulator runs time 120 times faster for the
platform's waits (SQS visibility, asynchronous retries, record ages).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.test_pipeline import (
    card_testing_burst,
    fraud_after_history,
    fraudulent,
    history,
    now_ms,
    post_all,
    transaction,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow]

REPORT = Path(__file__).resolve().parents[2] / "build" / "e2e-faults.json"
THROTTLED = {"error": "ThrottlingException", "status": 400, "message": "Rate exceeded"}
FAULT_WINDOW_S = 3.0  # how long SSM throttles detect-fraud: the traffic is posted inside it


# -- counting ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fault_counts() -> Iterator[dict[str, dict[str, int]]]:
    """Every test's counts, by test id; written to build/e2e-faults.json at the end of the session."""
    counts: dict[str, dict[str, int]] = {}
    yield counts
    if counts:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
        REPORT.write_text(json.dumps({**previous, **counts}, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def record(request: pytest.FixtureRequest, fault_counts: dict[str, dict[str, int]]) -> Callable[..., None]:
    def save(**counts: int) -> None:
        fault_counts[request.node.name] = counts
        print(f"\n{request.node.name}: {json.dumps(counts)}")

    return save


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {stage: after[stage] - before[stage] for stage in after}


class FunctionLog:
    """The lines a function wrote from now on (its log file in build/<suffix>/logs)."""

    def __init__(self, pipeline: Pipeline, function: str) -> None:
        self.path = pipeline.cloud.runtime.log_file(pipeline.outputs["function_names"][function])
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def entries(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as log:
            log.seek(self.start)
            text = log.read().decode(errors="replace")
        found = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def messages(self, message: str) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e.get("message") == message]

    def metric(self, name: str) -> float:
        """The sum of an EMF metric over the lines (Powertools flushes one line per invocation)."""
        total = 0.0
        for entry in self.entries():
            if "_aws" in entry and name in entry:
                values = entry[name]
                total += sum(values) if isinstance(values, list) else values
        return total

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The ``Transaction scored`` line of each transaction id."""
        return {e["transaction_id"]: e for e in self.messages("Transaction scored")}


def invocation_count(pipeline: Pipeline, function: str) -> int:
    return pipeline.cloud.runtime.stats()[pipeline.outputs["function_names"][function]]["invocations"]


def failure_records(pipeline: Pipeline) -> int:
    return sum(pipeline.cloud.failures_sent.values())


# -- the rules document -----------------------------------------------------------------------------------


@pytest.fixture
def rules(local_pipeline: Pipeline) -> Iterator[Any]:
    """detect-fraud re-reading its rules document every second (RULES_CACHE_SECONDS=1, as after a
    configuration update: new sandboxes), and a fresh valid version of the document; both put back after."""
    pipeline = local_pipeline
    runtime, name = pipeline.cloud.runtime, pipeline.outputs["function_names"]["detect-fraud"]
    ssm = pipeline.session.client("ssm")
    parameter = pipeline.outputs["rules_parameter_name"]
    valid = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    former = runtime.update_configuration(name, environment={"RULES_CACHE_SECONDS": "1"})

    def put(value: str) -> str:
        return str(ssm.put_parameter(Name=parameter, Value=value, Type="String", Overwrite=True)["Version"])

    try:
        yield SimpleNamespace(valid=valid, put=put)
    finally:
        put(valid)
        runtime.update_configuration(name, **former)


def scored_with(log: FunctionLog, bodies: list[dict[str, Any]]) -> dict[str, str]:
    """transaction id -> the rules parameter version it was scored with."""
    decisions = log.decisions()
    return {
        b["transaction_id"]: str(decisions.get(b["transaction_id"], {}).get("rules_parameter_version")) for b in bodies
    }


def scored_traffic(
    pipeline: Pipeline, new_id: Callable[[str], str], name: str, *, settle_between: bool = True
) -> tuple[list[dict[str, Any]], str]:
    """A cardholder's history, then a fraudulent transaction (the bodies, and the fraud's id)."""
    user = new_id(name)
    bodies = history(new_id, user, count=4)
    post_all(pipeline, bodies)
    if settle_between:
        pipeline.settle()
    fraud = fraudulent(new_id, name, user)
    post_all(pipeline, [fraud])
    return [*bodies, fraud], fraud["transaction_id"]


def test_ssm_throttling_during_traffic_loses_nothing_and_scores_with_the_last_valid_rules(
    local_pipeline: Pipeline, new_id: Callable[[str], str], rules: Any, record: Callable[..., None]
) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    version = rules.put(rules.valid)
    post_all(pipeline, [transaction(new_id("warm"), new_id("warm-user"))])  # a sandbox holding `version`
    pipeline.settle()
    log = FunctionLog(pipeline, "detect-fraud")
    before, failures_before = pipeline.tally(), failure_records(pipeline)

    time.sleep(1.1)  # the sandbox's rules are due for a refresh
    fault = cloud.fail("ssm", **THROTTLED, function="detect-fraud", duration_s=FAULT_WINDOW_S)  # every SSM call
    try:
        bodies, fraud_id = scored_traffic(pipeline, new_id, "throttled", settle_between=False)
        pipeline.settle()
    finally:
        cloud.clear_fault(fault)

    counts = delta(before, pipeline.tally())
    counts["throttled_calls"] = fault.hits
    counts["rules_fallback"] = int(log.metric("RulesFallback"))
    counts["lost"] = counts["posted"] - counts["scored"]
    counts["failure_records"] = failure_records(pipeline) - failures_before
    counts["scored_with_last_valid"] = sum(v == version for v in scored_with(log, bodies).values())
    record(**counts)
    assert fault.hits > 0, "detect-fraud read SSM while it was throttled"
    assert counts["posted"] == counts["stored"] == counts["scored"] == len(bodies)
    assert counts["alerted"] == 1 and len(pipeline.transaction_alerts(fraud_id)) == 1
    assert counts["lost"] == 0 and counts["failure_records"] == 0
    assert set(scored_with(log, bodies).values()) == {version}, "every transaction scored with the last valid rules"
    assert counts["rules_fallback"] >= 1, "RulesFallback emitted (EMF in the function log)"
    fallbacks = [e for e in log.entries() if e.get("message", "").startswith("Rules document unreadable: using")]
    assert fallbacks, "a clear log line: the rules could not be read, and what is used instead"
    assert all(e["used"] == version and e["reason"].startswith("ThrottlingException") for e in fallbacks)


def test_an_invalid_rules_document_during_traffic_scores_with_the_last_valid_version_until_it_is_fixed(
    local_pipeline: Pipeline, new_id: Callable[[str], str], rules: Any, record: Callable[..., None]
) -> None:
    pipeline = local_pipeline
    version = rules.put(rules.valid)
    post_all(pipeline, [transaction(new_id("warm"), new_id("warm-user"))])
    pipeline.settle()
    log = FunctionLog(pipeline, "detect-fraud")
    before, failures_before = pipeline.tally(), failure_records(pipeline)
    invocations = invocation_count(pipeline, "detect-fraud")

    invalid = rules.put(json.dumps({"bands": 70}))  # an object expected: {"review": ..., "alert": ...}
    time.sleep(1.1)
    bodies, fraud_id = scored_traffic(pipeline, new_id, "invalid")
    pipeline.settle()
    during = delta(before, pipeline.tally())
    fallback_during = log.metric("RulesFallback")
    invocations_during = invocation_count(pipeline, "detect-fraud") - invocations
    unusable = [e for e in log.entries() if e.get("level") == "ERROR" and e.get("version") == invalid]

    fixed = rules.put(rules.valid)  # make rules ENV=... FILE=<the corrected document>
    time.sleep(1.1)  # every sandbox's cache is due
    fallback_before_fix = log.metric("RulesFallback")
    after_fix = [transaction(new_id(f"fixed{i}"), new_id("fixed-user"), amount=20 + i) for i in range(3)]
    post_all(pipeline, after_fix)
    pipeline.settle()

    counts = delta(before, pipeline.tally())
    counts["rules_fallback"] = int(fallback_during)
    counts["rules_fallback_after_fix"] = int(log.metric("RulesFallback") - fallback_before_fix)
    counts["lost"] = counts["posted"] - counts["scored"]
    counts["failure_records"] = failure_records(pipeline) - failures_before
    counts["scored_with_last_valid"] = sum(v == version for v in scored_with(log, bodies).values())
    counts["scored_with_fixed"] = sum(v == fixed for v in scored_with(log, after_fix).values())
    record(**counts)
    assert during["posted"] == during["stored"] == during["scored"] == len(bodies) and during["alerted"] == 1
    assert len(pipeline.transaction_alerts(fraud_id)) == 1
    assert set(scored_with(log, bodies).values()) == {version}, "scored with the last valid version"
    assert fallback_during == invocations_during > 0, "every invocation scored that way counts RulesFallback"
    assert unusable, "a log line names the unusable version"
    assert "invalid rules configuration" in unusable[0]["reason"] and unusable[0]["used"] == version
    assert f"Rules document version {invalid} unusable: using version {version}" in unusable[0]["message"]
    assert set(scored_with(log, after_fix).values()) == {fixed}, "once fixed, the new version is used"
    assert counts["rules_fallback_after_fix"] == 0
    assert counts["lost"] == 0 and counts["failure_records"] == 0


# -- a poison record --------------------------------------------------------------------------------------


def failure_queue(pipeline: Pipeline) -> tuple[str, str]:
    """Where detect-fraud's failures end on this routing."""
    key = "function-failures" if pipeline.mode == "eventbridge" else "stream"
    name = {"function-failures": "function-failures-{}", "stream": "fraud-stream-dlq-{}"}[key]
    return key, pipeline.sqs.get_queue_url(QueueName=name.format(pipeline.outputs["suffix"]))["QueueUrl"]


def deployed_retries(pipeline: Pipeline) -> int:
    """The retries configured for detect-fraud on this routing (async invocations, or the stream mapping)."""
    lam = pipeline.session.client("lambda")
    name = pipeline.outputs["function_names"]["detect-fraud"]
    if pipeline.mode == "eventbridge":
        return int(lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"])
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    [mapping] = [m for m in mappings if m["FunctionArn"].split(":")[6] == name]
    return int(mapping["MaximumRetryAttempts"])


def invoker(pipeline: Pipeline) -> Callable[[str, Any], tuple[bool, Any]]:
    """The replay's synchronous invocation: the deployed function, run by the emulator's runtime."""

    def invoke(function: str, payload: Any) -> tuple[bool, Any]:
        outcome = pipeline.cloud.runtime.invoke(function.removesuffix(":$LATEST"), payload)
        return outcome.ok, outcome.result if outcome.ok else outcome.error

    return invoke


def test_a_poison_record_is_isolated_dead_lettered_after_its_retries_and_replayed_once_fixed(
    local_pipeline: Pipeline, new_id: Callable[[str], str], record: Callable[..., None]
) -> None:
    from tools.deploy.replay import Replayer

    pipeline, cloud = local_pipeline, local_pipeline.cloud
    key, queue = failure_queue(pipeline)
    table, suffix = pipeline.outputs["table_name"], pipeline.outputs["suffix"]
    first = fraud_after_history(pipeline, lambda name: new_id(f"a-{name}"), "before-poison")
    second = fraud_after_history(pipeline, lambda name: new_id(f"b-{name}"), "after-poison")
    log = FunctionLog(pipeline, "detect-fraud")
    before, failures_before = pipeline.tally(), failure_records(pipeline)
    poison_id = new_id("poison")
    # Not a transaction the API wrote: some other writer stored it without a user id.
    poison = {
        "transaction_id": {"S": poison_id},
        "timestamp": {"N": str(now_ms() - 1000)},
        "kind": {"S": "transaction"},
        "amount": {"N": "12.5"},
        "currency": {"S": "USD"},
        "merchant_id": {"S": "m-batch-import"},
        "merchant_category": {"S": "grocery_pos"},
    }

    post_all(pipeline, [first])
    pipeline.dynamodb.put_item(TableName=table, Item=poison)
    post_all(pipeline, [second])
    pipeline.settle()

    during = delta(before, pipeline.tally())
    # One invocation per attempt, whose lines name the cause: the batch item's failure (direct; and Lambda's
    # unhandled-error line too when the poison was alone in its shard's batch), or the unhandled error (eventbridge).
    attempts = len(
        {e.get("function_request_id") or e.get("requestId") for e in log.entries() if "lacks user_id" in json.dumps(e)}
    )
    held = pipeline.queue_depth(queue)
    alerted_ids = {f["transaction_id"] for f in (first, second) if pipeline.transaction_alerts(f["transaction_id"])}
    assert alerted_ids == {first["transaction_id"], second["transaction_id"]}, "the transactions around it"
    assert during["posted"] == 2 and during["stored"] == 3, "the two posted, and the poison written straight in"
    assert held == 1, f"the poison record is in {key} after its retries"
    assert failure_records(pipeline) - failures_before == 1

    dry = Replayer(cloud.session, suffix, invoke=invoker(pipeline), dry_run=True).replay([key])
    assert [o.ok for o in dry.outcomes] == [True] and pipeline.queue_depth(queue) == 1, "a dry run changes nothing"
    still_bad = Replayer(cloud.session, suffix, invoke=invoker(pipeline)).replay([key])
    assert [o.ok for o in still_bad.outcomes] == [False] and pipeline.queue_depth(queue) == 1, "kept while broken"

    [failure] = pipeline.sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)["Messages"]

    # The cause fixed: the item repaired in the table (the stream sees a MODIFY, which nothing scores).
    pipeline.dynamodb.put_item(TableName=table, Item={**poison, "user_id": {"S": new_id("imported-user")}})
    scored_before_replay = len(log.messages("Transaction scored"))
    alerted_before_replay = pipeline.tally()["alerted"]
    replayed = Replayer(cloud.session, suffix, invoke=invoker(pipeline)).replay([key])
    pipeline.sqs.send_message(QueueUrl=queue, MessageBody=failure["Body"])  # the same failure record, twice
    again = Replayer(cloud.session, suffix, invoke=invoker(pipeline)).replay([key])
    pipeline.settle()

    decisions = log.decisions()
    counts = {
        **delta(before, pipeline.tally()),
        "attempts": attempts,
        "configured_retries": deployed_retries(pipeline),
        "dead_lettered": held,
        "dry_run": len(dry.outcomes),
        "replayed": sum(o.ok for o in replayed.outcomes),
        "replayed_again": sum(o.ok for o in again.outcomes),
        "scored_by_replay": len(log.messages("Transaction scored")) - scored_before_replay,
        "already_scored": sum(e["transaction_id"] == poison_id for e in log.messages("Transaction already scored")),
        "alerted_by_replay": pipeline.tally()["alerted"] - alerted_before_replay,
        "left_in_queue": pipeline.queue_depth(queue),
    }
    counts["lost"] = len({first["transaction_id"], second["transaction_id"], poison_id} - decisions.keys())
    record(**counts)
    assert [o.ok for o in replayed.outcomes] == [True] == [o.ok for o in again.outcomes]
    assert poison_id in decisions and counts["scored_by_replay"] == 1, "the repaired item scored, once"
    assert counts["already_scored"] == 1, "the second replay found it scored"
    # The repaired item is a new user's first purchase: its own decision (which depends on its hour) alerts or
    # not; what got through before is never alerted again.
    expected = int(decisions[poison_id]["decision"] != "allow")
    assert counts["alerted_by_replay"] == expected, "the replay alerts on the repaired item's own decision only"
    assert counts["left_in_queue"] == 0 and counts["lost"] == 0
    assert attempts == 1 + counts["configured_retries"], "the first attempt and the configured retries"


# -- late arrivals ----------------------------------------------------------------------------------------


def test_a_card_testing_burst_that_arrives_late_is_still_analysed(
    local_pipeline: Pipeline, new_id: Callable[[str], str], record: Callable[..., None]
) -> None:
    pipeline = local_pipeline
    card = new_id("late-card") + "Lt8w"
    hours_ago = now_ms() - 3 * 3_600_000  # store-and-forward: taken three hours ago, uploaded now
    burst = card_testing_burst(new_id, "late", card, first_ms=hours_ago)
    before = pipeline.tally()

    post_all(pipeline, burst)
    pipeline.settle()
    pipeline.run_analysis(minutes_later=1)  # the run after the minute they were received in
    finding = pipeline.wait_for_alert(
        lambda a: (
            a.get("kind") == "pattern"
            and a["finding"]["type"] == "CARD_TESTING"
            and a["finding"]["entity"].endswith("Lt8w")
        ),
        timeout_s=60,
    )
    pipeline.settle()

    counts = {**delta(before, pipeline.tally()), "pattern_alerts": int(finding is not None)}
    counts["lost"] = counts["posted"] - counts["scored"]
    record(**counts)
    assert counts["posted"] == counts["stored"] == counts["scored"] == len(burst) and counts["lost"] == 0
    assert finding is not None, "the burst, three hours old when received, was analysed in the window it arrived in"
    assert card not in json.dumps(finding), "the card is masked"


# -- a crash between send and save ------------------------------------------------------------------------


@pytest.fixture
def notify_team_timeout(local_pipeline: Pipeline) -> Iterator[int]:
    """notify-team with a 2 s timeout while the test runs. The emulator compresses the queue's visibility
    timeout (360 s -> 3 s) but not the functions' own clock: the record a dead invocation leaves in
    progress expires with the invocation's deadline (the deployed 30 s). On AWS the visibility timeout is
    at least 6 x the function's timeout (Terraform checks it), so that record has expired when the message
    comes back; a 2 s timeout keeps that order under the compression."""
    runtime = local_pipeline.cloud.runtime
    former = runtime.update_configuration("notify-team", timeout_s=2)
    try:
        yield 2
    finally:
        runtime.update_configuration("notify-team", **former)


def deliveries_of(pipeline: Pipeline, transaction_id: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every copy of the transaction's alert that reached the topic's SQS subscription (raw delivery: the
    alert, with the publish's message attributes), waiting until the pipeline is idle (or ``timeout_s``)."""
    url = pipeline.outputs["alert_subscription_queue_url"]
    copies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        # A long poll: moto answers as soon as a message arrives. Without one, the loop asked again at once while
        # nothing had arrived: a busy loop in the process that runs the emulator, beside the calls it waits for.
        while messages := pipeline.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", []):
            for message in messages:
                alert = json.loads(message["Body"])
                if alert.get("transaction", {}).get("transaction_id") == transaction_id:
                    copies.append({"alert": alert, "attributes": message.get("MessageAttributes", {})})
                pipeline.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if copies and pipeline.cloud.wait_idle(quiet_s=1.0, timeout_s=5) or time.monotonic() > deadline:
            return copies


def test_notify_team_crashing_after_publish_delivers_the_alert_at_least_once_at_most_twice_recognisably(
    local_pipeline: Pipeline, new_id: Callable[[str], str], record: Callable[..., None], notify_team_timeout: int
) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    fraud = fraud_after_history(pipeline, new_id, "crash")
    before = pipeline.tally()
    dlq_before = pipeline.queue_depth(pipeline.outputs["alerts_dlq_url"])
    crash = cloud.crash_after("sns", "Publish", function="notify-team")

    try:
        post_all(pipeline, [fraud])
        copies = deliveries_of(pipeline, fraud["transaction_id"], timeout_s=60)
        pipeline.settle()
        copies += deliveries_of(pipeline, fraud["transaction_id"], timeout_s=0)
    finally:
        cloud.clear_fault(crash)

    alert_ids = {c["alert"]["alert_id"] for c in copies}
    attribute_ids = {c["attributes"].get("alert_id", {}).get("StringValue") for c in copies}
    counts = {
        **delta(before, pipeline.tally()),
        "crashes": crash.hits,
        "deliveries": len(copies),
        "alert_ids": len(alert_ids),
        "dead_lettered": pipeline.queue_depth(pipeline.outputs["alerts_dlq_url"]) - dlq_before,
    }
    counts["lost"] = counts["posted"] - counts["scored"]
    record(**counts)
    assert crash.hits == 1, "notify-team died once, right after SNS accepted the publish"
    assert counts["posted"] == counts["stored"] == counts["scored"] == 1 and counts["lost"] == 0
    assert 1 <= len(copies) <= 2, "at least once, at most one duplicate for the delivery that died"
    assert counts["alerted"] == len(copies) and counts["dead_lettered"] == 0
    assert len(alert_ids) == 1 and attribute_ids == alert_ids, "every copy carries the same alert id"
    assert fraud["card_id"] not in json.dumps(copies), "identifiers are masked in every copy"
