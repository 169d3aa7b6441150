"""notify-team against moto: SQS batches in, SNS out (observed through the topic's SQS subscription)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from tests.unit.handler_support import drain_queue, emf_metrics, sqs_event

# A handler that raises flushes no metrics; Powertools warns about that, the tests expect it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def alert(alert_id: str = "txn-txn-1", **overrides: Any) -> dict[str, Any]:
    """A transaction alert as detect-fraud queues it (docs/contracts.md "Messages")."""
    body = {
        "alert_id": alert_id,
        "kind": "transaction",
        "created_at": 1_736_942_400_000,
        "environment": "test",
        "score": 87,
        "decision": "alert",
        "reasons": [{"code": "HIGH_AMOUNT", "score": 30, "explanation": "9000.00 USD is above 1000"}],
        "transaction": {
            "transaction_id": alert_id.removeprefix("txn-"),
            "user_id": "user-1",
            "amount": "9000.00",
            "currency": "USD",
            "merchant_id": "merchant-far",
            "merchant_category": "shopping_net",
            "timestamp": 1_736_942_400_000,
            "card_id": "****rd_1",
        },
    }
    body.update(overrides)
    return body


def published(aws) -> list[dict[str, Any]]:
    """What the topic delivered to its SQS subscriber: the SNS envelopes."""
    return [json.loads(message["Body"]) for message in drain_queue(aws, aws.subscriber_url)]


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_each_alert_is_published_with_subject_attributes_and_structured_body(notify_team, aws, lambda_context, capsys):
    alerts = [alert("txn-a"), alert("txn-b", decision="review", score=55)]

    response = notify_team.handler(sqs_event([json.dumps(a) for a in alerts]), lambda_context)

    assert response == {"batchItemFailures": []}
    envelopes = sorted(published(aws), key=lambda envelope: envelope["Subject"])
    assert len(envelopes) == 2
    for envelope in envelopes:
        assert 0 < len(envelope["Subject"]) < 100
        delivered = json.loads(envelope["Message"])  # the "sqs" member of the JSON message structure
        assert delivered["alert_id"] in {"txn-a", "txn-b"}
        source = next(a for a in alerts if a["alert_id"] == delivered["alert_id"])
        assert envelope["MessageAttributes"]["decision"] == {"Type": "String", "Value": source["decision"]}
        assert envelope["MessageAttributes"]["kind"] == {"Type": "String", "Value": "transaction"}
    assert emf_metrics(capsys.readouterr().out) == {"Published": 2, "CasesOpened": 2}


def test_redelivered_alert_is_not_published_twice(notify_team, aws, lambda_context):
    body = json.dumps(alert("txn-a"))

    notify_team.handler(sqs_event([body]), lambda_context)
    response = notify_team.handler(sqs_event([body]), lambda_context)  # visibility timeout ran out

    assert response == {"batchItemFailures": []}
    assert len(published(aws)) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("not json", "not JSON", id="not-json"),
        pytest.param("[1, 2]", "JSON object", id="not-an-object"),
        pytest.param(json.dumps({"kind": "transaction", "decision": "alert"}), "alert_id", id="no-alert-id"),
        pytest.param(json.dumps(alert(kind="weather")), "kind", id="unknown-kind"),
    ],
)
def test_invalid_alert_fails_only_its_record_with_the_reason_logged(
    notify_team, aws, lambda_context, caplog, body, reason
):
    event = sqs_event([json.dumps(alert("txn-a")), body, json.dumps(alert("txn-b"))])

    response = notify_team.handler(event, lambda_context)

    assert failed_ids(response) == [event["Records"][1]["messageId"]]
    assert len(published(aws)) == 2
    [logged] = [record for record in caplog.records if record.getMessage() == "Invalid alert message"]
    assert reason in logged.reason


def test_sns_failure_fails_that_record_and_the_retry_publishes_it_once(notify_team, aws, lambda_context, monkeypatch):
    event = sqs_event([json.dumps(alert("txn-a")), json.dumps(alert("txn-b"))])
    sns = notify_team.resources().sns
    real_publish = sns.publish

    def publish(**kwargs: Any) -> dict[str, Any]:
        if "txn-b" in kwargs["Message"]:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", publish)

    response = notify_team.handler(event, lambda_context)

    assert failed_ids(response) == [event["Records"][1]["messageId"]]
    assert [json.loads(envelope["Message"])["alert_id"] for envelope in published(aws)] == ["txn-a"]

    monkeypatch.undo()  # SQS redelivers both after the visibility timeout (txn-a was deleted, but say it was not)
    response = notify_team.handler(event, lambda_context)
    assert response == {"batchItemFailures": []}
    assert [json.loads(envelope["Message"])["alert_id"] for envelope in published(aws)] == ["txn-b"]


def test_sns_failure_is_logged_with_its_traceback(notify_team, aws, lambda_context, monkeypatch, caplog):
    # The batch processor keeps a record's exception to itself (the layer's has no logger argument).
    event = sqs_event([json.dumps(alert("txn-a"))])
    sns = notify_team.resources().sns

    def publish(**kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")

    monkeypatch.setattr(sns, "publish", publish)

    with pytest.raises(BatchProcessingError):
        notify_team.handler(event, lambda_context)

    [failed] = [record for record in caplog.records if record.getMessage() == "Alert not published"]
    assert failed.exc_info and failed.exc_info[0] is ClientError
    assert failed.message_id == event["Records"][0]["messageId"]


def test_batch_where_every_record_fails_raises(notify_team, aws, lambda_context):
    with pytest.raises(BatchProcessingError):
        notify_team.handler(sqs_event(["not json", "{}"]), lambda_context)
    assert published(aws) == []


def test_the_alert_id_is_a_message_attribute_and_in_the_email(notify_team, aws, lambda_context):
    notify_team.handler(sqs_event([json.dumps(alert("txn-a"))]), lambda_context)

    [envelope] = published(aws)
    assert envelope["MessageAttributes"]["alert_id"] == {"Type": "String", "Value": "txn-a"}


def test_a_subject_with_any_unicode_is_published_as_ascii(notify_team, aws, lambda_context, monkeypatch):
    sns = notify_team.resources().sns
    real_publish, subjects = sns.publish, []

    def ascii_only(**kwargs: Any) -> dict[str, Any]:
        subjects.append(kwargs["Subject"])
        kwargs["Subject"].encode("ascii")  # SNS refuses anything else: the publish would fail on every retry
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", ascii_only)
    unicode_alert = alert("txn-a")
    unicode_alert["transaction"] = {**unicode_alert["transaction"], "merchant_id": "Bäckerei 北京 ☕"}

    response = notify_team.handler(sqs_event([json.dumps(unicode_alert)]), lambda_context)

    assert response == {"batchItemFailures": []}
    assert subjects == ["[test] ALERT 87/100: 9000.00 USD at Backerei ?? ? (user user-1)"]


def test_a_sandbox_killed_after_publishing_publishes_once_more_and_no_more(
    notify_team, aws, lambda_context, monkeypatch
):
    """At least once: the duplicate is bounded (one per delivery that died mid-way) and recognisable."""
    body = json.dumps(alert("txn-a"))
    persistence = notify_team.resources().publish_once.persistence

    def killed(*_: Any, **__: Any) -> None:
        raise SystemExit("sandbox killed after Publish, before the idempotency record was completed")

    monkeypatch.setattr(persistence, "save_success", killed)
    with pytest.raises(SystemExit):
        notify_team.handler(sqs_event([body]), lambda_context)
    monkeypatch.undo()
    # The message comes back after the visibility timeout (360 s), when the in-progress record of the
    # dead invocation (at most its 30 s timeout) has expired.
    for item in aws.dynamodb.scan(TableName=aws.state_table_name)["Items"]:
        aws.dynamodb.update_item(
            TableName=aws.state_table_name,
            Key={"id": item["id"]},
            UpdateExpression="SET in_progress_expiration = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )

    notify_team.handler(sqs_event([body]), lambda_context)
    notify_team.handler(sqs_event([body]), lambda_context)  # later deliveries: nothing more

    envelopes = published(aws)
    assert [json.loads(e["Message"])["alert_id"] for e in envelopes] == ["txn-a", "txn-a"]
    assert {e["MessageAttributes"]["alert_id"]["Value"] for e in envelopes} == {"txn-a"}


# --- cases (the fraud team's loop) --------------------------------------------------------------------


def test_every_alert_opens_its_case_before_the_email_links_to_it(notify_team, aws, lambda_context, capsys):
    from fraud.cases import CaseStore

    response = notify_team.handler(sqs_event([json.dumps(alert("txn-a"))]), lambda_context)

    assert response == {"batchItemFailures": []}
    case = CaseStore(aws.dynamodb, "fraud-cases-test").get("txn-a")
    assert (case.status, case.score, case.rule_codes) == ("open", 87, ("HIGH_AMOUNT",))
    [envelope] = published(aws)
    from moto.sns.models import sns_backends

    email = json.loads(sns_backends["123456789012"]["us-east-1"].topics[aws.topic_arn].sent_notifications[0][1])[
        "email"
    ]
    assert email.startswith("Case: https://console.example.com/test/cases/txn-a\n")
    assert emf_metrics(capsys.readouterr().out) == {"Published": 1, "CasesOpened": 1}


def test_a_redelivered_alert_never_opens_a_second_case(notify_team, aws, lambda_context):
    body = json.dumps(alert("txn-a"))
    notify_team.handler(sqs_event([body]), lambda_context)
    notify_team.handler(sqs_event([body]), lambda_context)
    items = aws.dynamodb.query(
        TableName="fraud-cases-test",
        KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": "txn-a"}},
    )["Items"]
    assert sorted(item["sk"]["S"].split("#")[0] for item in items) == ["case", "event"]  # one case, one "opened"


def test_a_case_that_cannot_be_opened_fails_the_record_and_nothing_is_published(
    notify_team, aws, kit, lambda_context, monkeypatch
):
    dynamodb = kit.client("dynamodb")
    real = dynamodb.transact_write_items

    def unavailable(**kwargs: Any) -> Any:
        if kwargs["TransactItems"][0]["Put"]["TableName"] == "fraud-cases-test":
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "TransactWriteItems")
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "transact_write_items", unavailable)
    with pytest.raises(BatchProcessingError):  # every record of the batch failed: SQS delivers it again
        notify_team.handler(sqs_event([json.dumps(alert("txn-a"))]), lambda_context)
    assert published(aws) == []
