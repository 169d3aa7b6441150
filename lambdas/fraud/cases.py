"""Cases: every alert opens one, the fraud team works it, and its decision becomes a label.

A case is opened from an alert (``open_case``, by notify-team, which handles every transaction and pattern
alert): its id is the alert id, and the open is conditional on the id being new, so a redelivered alert never
opens a second case. It holds the alert as published (identifiers masked, ``fraud.alerts``), its score, band,
reason codes and versions, and moves through ``STATUSES``:

    open -> in_review (assigned) -> fraud | legitimate | duplicate (decided; a decision can be changed)

Every change is an audit event beside the case (who, when, what), written in the same transaction as the
change; a decision on a transaction's case writes the analyst label too (``fraud.labels``), so a case, its
trail and its label never disagree. Changes are optimistic: each carries the case version it was made on,
and a case changed meanwhile refuses it (``CaseConflict``), so two analysts never overwrite each other.

Table layout (``CaseStore``): hash ``case_id``, range ``sk`` (``case`` for the case, ``event#<at>#<id>`` for
its trail, so one query reads both in order); the index ``status-rank-index`` (hash ``status``, range
``rank`` = ``<100 - score, 3 digits>#<created at, 13 digits>#<case id>``) serves the queue ordered by score,
then age, for each status. The lists' own trail is kept here too, under the case id ``lists``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from fraud.card_numbers import scrub
from fraud.labels import Label, put_request
from fraud.storage import cancellation_reasons, deserialize_item, serialize_item

STATUSES = ("open", "in_review", "fraud", "legitimate", "duplicate")
QUEUE = ("open", "in_review")  # what the team still has to decide
OUTCOMES = ("fraud", "legitimate", "duplicate")
LABELLED = {"fraud": "fraud", "legitimate": "legitimate"}  # a duplicate says nothing about the transaction
STATUS_INDEX = "status-rank-index"
CASE_SK = "case"
LISTS_TRAIL = "lists"  # the case id under which list changes are audited
MAX_NOTE = 2000
MAX_NAME = 128
PAGE = 100  # cases one queue page shows at most


class CaseError(ValueError):
    """A request a caller can fix (an unknown status, an empty note); the message says what to change."""


class CaseNotFound(LookupError):
    """No case with that id."""


class CaseConflict(RuntimeError):
    """The case changed since the caller read it: reload and try again."""


def rank(score: int, created_at: int, case_id: str) -> str:
    """The queue's sort key: the highest score first, then the oldest, then by id."""
    return f"{100 - max(0, min(100, int(score))):03d}#{int(created_at):013d}#{case_id}"


@dataclass(frozen=True)
class Event:
    at: int
    by: str
    action: str  # opened, assigned, commented, decided, revealed, listed, unlisted, settings
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    case_id: str
    kind: str  # transaction | pattern
    status: str
    score: int
    band: str  # the alert's decision: review | alert
    created_at: int  # when the alert was raised (epoch ms)
    opened_at: int
    rule_codes: tuple[str, ...]
    summary: str
    alert: dict[str, Any]  # as published: identifiers masked
    version: int = 1
    assignee: str | None = None
    decided_by: str | None = None
    decided_at: int | None = None
    model_version: str | None = None
    rules_version: str | None = None
    transaction_id: str | None = None
    user_id: str | None = None
    events: tuple[Event, ...] = ()

    @property
    def decided(self) -> bool:
        return self.status in OUTCOMES

    @property
    def rank(self) -> str:
        return rank(self.score, self.created_at, self.case_id)

    def to_dict(self) -> dict[str, Any]:
        """The case for the API and the page (the alert's identifiers are already masked)."""
        return {
            "case_id": self.case_id,
            "kind": self.kind,
            "status": self.status,
            "score": self.score,
            "band": self.band,
            "created_at": self.created_at,
            "opened_at": self.opened_at,
            "rule_codes": list(self.rule_codes),
            "summary": self.summary,
            "version": self.version,
            "assignee": self.assignee,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "model_version": self.model_version,
            "rules_version": self.rules_version,
            "transaction_id": self.transaction_id,
            "alert": self.alert,
            "events": [{"at": e.at, "by": e.by, "action": e.action, "detail": e.detail} for e in self.events],
        }


def summary(alert: Mapping[str, Any]) -> str:
    """One line for the queue: ``912.40 USD at m_123 (user u_42)`` or ``CARD_TESTING ********1234``."""
    if alert.get("kind") == "transaction":
        txn = alert.get("transaction") or {}
        return f"{txn.get('amount')} {txn.get('currency', '')} at {txn.get('merchant_id')} (user {txn.get('user_id')})"
    finding = alert.get("finding") or {}
    return f"{finding.get('type')} {finding.get('entity')}"


def case_from_alert(alert: Mapping[str, Any], *, opened_at: int) -> Case:
    """The case an alert opens (``docs/contracts.md`` "Messages"): its id is the alert id."""
    txn = alert.get("transaction") or {}
    reasons = alert.get("reasons") or []
    return Case(
        case_id=str(alert["alert_id"]),
        kind=str(alert["kind"]),
        status="open",
        score=int(alert.get("score", 0)),
        band=str(alert.get("decision", "alert")),
        created_at=int(alert.get("created_at", opened_at)),
        opened_at=opened_at,
        rule_codes=tuple(str(r.get("code")) for r in reasons if isinstance(r, Mapping)),
        summary=summary(alert),
        alert=dict(alert),
        model_version=alert.get("model_version"),
        rules_version=alert.get("rules_version"),
        transaction_id=txn.get("transaction_id"),
        user_id=txn.get("user_id"),
    )


def _case_item(case: Case) -> dict[str, Any]:
    item: dict[str, Any] = {
        "case_id": case.case_id,
        "sk": CASE_SK,
        "kind": case.kind,
        "status": case.status,
        "rank": case.rank,
        "score": case.score,
        "band": case.band,
        "created_at": case.created_at,
        "opened_at": case.opened_at,
        "rule_codes": list(case.rule_codes),
        "summary": case.summary,
        "alert": json.dumps(case.alert, sort_keys=True, separators=(",", ":")),
        "version": case.version,
    }
    optional = {
        "assignee": case.assignee,
        "decided_by": case.decided_by,
        "decided_at": case.decided_at,
        "model_version": case.model_version,
        "rules_version": case.rules_version,
        "transaction_id": case.transaction_id,
        "user_id": case.user_id,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def case_of(item: Mapping[str, Any], events: Sequence[Event] = ()) -> Case:
    data = deserialize_item(item)

    def optional_int(name: str) -> int | None:
        return None if data.get(name) is None else int(data[name])

    return Case(
        case_id=str(data["case_id"]),
        kind=str(data["kind"]),
        status=str(data["status"]),
        score=int(data["score"]),
        band=str(data.get("band", "alert")),
        created_at=int(data["created_at"]),
        opened_at=int(data.get("opened_at", data["created_at"])),
        rule_codes=tuple(str(code) for code in data.get("rule_codes", [])),
        summary=str(data.get("summary", "")),
        alert=json.loads(data.get("alert") or "{}"),
        version=int(data.get("version", 1)),
        assignee=data.get("assignee"),
        decided_by=data.get("decided_by"),
        decided_at=optional_int("decided_at"),
        model_version=data.get("model_version"),
        rules_version=data.get("rules_version"),
        transaction_id=data.get("transaction_id"),
        user_id=data.get("user_id"),
        events=tuple(events),
    )


def event_of(item: Mapping[str, Any]) -> Event:
    data = deserialize_item(item)
    detail = data.get("detail") or {}
    return Event(int(data["at"]), str(data["by"]), str(data["action"]), {k: _plain(v) for k, v in detail.items()})


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def clean_note(note: Any) -> str:
    """A note as stored: text of at most ``MAX_NOTE`` characters, card numbers replaced."""
    if not isinstance(note, str) or not note.strip():
        raise CaseError("write a note")
    if len(note) > MAX_NOTE:
        raise CaseError(f"a note is at most {MAX_NOTE} characters")
    return scrub(note.strip())


def clean_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise CaseError(f"{what} must be 1-{MAX_NAME} characters")
    return name.strip()


def event_put(table_name: str, case_id: str, event: Event) -> dict[str, Any]:
    """The ``Put`` of one audit event (for a ``TransactWriteItems``)."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": serialize_item(
                {
                    "case_id": case_id,
                    "sk": f"event#{event.at:013d}#{uuid.uuid4().hex[:12]}",
                    "at": event.at,
                    "by": event.by,
                    "action": event.action,
                    "detail": event.detail,
                }
            ),
        }
    }


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = QUEUE
    min_score: int = 0
    rule: str | None = None
    older_than_ms: int | None = None  # created at or before
    newer_than_ms: int | None = None  # created at or after
    limit: int = PAGE

    def check(self) -> QueueFilter:
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown or not self.statuses:
            raise CaseError(f"status must be among {', '.join(STATUSES)}")
        if not 0 <= self.min_score <= 100:
            raise CaseError("the minimum score is 0 to 100")
        if not 1 <= self.limit <= 500:
            raise CaseError("the limit is 1 to 500")
        return self


class CaseStore:
    """The cases table; ``client`` is a low-level boto3 DynamoDB client, ``labels_table`` where decisions go."""

    def __init__(self, client: Any, table_name: str, labels_table: str | None = None) -> None:
        self.client = client
        self.table_name = table_name
        self.labels_table = labels_table

    # -- opening (notify-team) -------------------------------------------------------------------

    def open(self, case: Case, *, by: str = "alert flow") -> bool:
        """Open ``case`` with its "opened" event; False when a case with its id exists (a redelivery)."""
        put = {
            "Put": {
                "TableName": self.table_name,
                "Item": serialize_item(_case_item(case)),
                "ConditionExpression": "attribute_not_exists(case_id)",
            }
        }
        opened = Event(case.opened_at, by, "opened", {"score": case.score, "band": case.band})
        try:
            self.client.transact_write_items(TransactItems=[put, event_put(self.table_name, case.case_id, opened)])
        except ClientError as error:
            if "ConditionalCheckFailed" in cancellation_reasons(error):
                return False
            raise
        return True

    # -- reading ---------------------------------------------------------------------------------

    def get(self, case_id: str, *, events: bool = True) -> Case:
        """The case and (with ``events``) its audit trail, oldest first; ``CaseNotFound`` when there is none."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "case_id = :c" + ("" if events else " AND sk = :case"),
            "ExpressionAttributeValues": serialize_item({":c": case_id, **({} if events else {":case": CASE_SK})}),
            "ConsistentRead": True,
        }
        case_item, trail = None, []
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                if item["sk"]["S"] == CASE_SK:
                    case_item = item
                elif item["sk"]["S"].startswith("event#"):
                    trail.append(event_of(item))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if case_item is None:
            raise CaseNotFound(case_id)
        return case_of(case_item, trail)

    def trail(self, case_id: str, limit: int = 50) -> list[Event]:
        """The newest events of a trail (the lists' trail, ``LISTS_TRAIL``), newest first."""
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="case_id = :c AND begins_with(sk, :e)",
            ExpressionAttributeValues=serialize_item({":c": case_id, ":e": "event#"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [event_of(item) for item in page.get("Items", [])]

    def queue(self, wanted: QueueFilter) -> list[Case]:
        """The cases of the statuses asked for, highest score first, then oldest, filtered; one index query
        per status, merged."""
        wanted.check()
        found: list[Case] = []
        for status in wanted.statuses:
            found.extend(self._by_status(status, wanted))
        found.sort(key=lambda case: case.rank)
        return found[: wanted.limit]

    def _by_status(self, status: str, wanted: QueueFilter) -> Iterator[Case]:
        values: dict[str, Any] = {":s": status, ":bound": f"{100 - wanted.min_score + 1:03d}"}
        filters, names = [], {"#st": "status", "#rank": "rank"}
        if wanted.rule:
            filters.append("contains(rule_codes, :rule)")
            values[":rule"] = wanted.rule
        if wanted.older_than_ms is not None:
            filters.append("created_at <= :older")
            values[":older"] = wanted.older_than_ms
        if wanted.newer_than_ms is not None:
            filters.append("created_at >= :newer")
            values[":newer"] = wanted.newer_than_ms
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#st = :s AND #rank < :bound",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize_item(values),
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        count = 0
        while count < wanted.limit:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                count += 1
                yield case_of(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def decided_since(self, since_ms: int) -> Iterator[Case]:
        """Every case decided at or after ``since_ms`` (the quality report's input)."""
        for status in OUTCOMES:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": STATUS_INDEX,
                "KeyConditionExpression": "#st = :s",
                "FilterExpression": "decided_at >= :since",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": serialize_item({":s": status, ":since": since_ms}),
            }
            while True:
                page = self.client.query(**request)
                for item in page.get("Items", []):
                    yield case_of(item)
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def exists(self, case_ids: Iterable[str]) -> set[str]:
        """Which of ``case_ids`` are cases (BatchGetItem, 100 at a time)."""
        ids = sorted(set(case_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 100):
            keys = [serialize_item({"case_id": i, "sk": CASE_SK}) for i in ids[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ProjectionExpression": "case_id"}}
            while request:
                reply = self.client.batch_get_item(RequestItems=request)
                found.update(item["case_id"]["S"] for item in reply.get("Responses", {}).get(self.table_name, []))
                request = reply.get("UnprocessedKeys") or {}
        return found

    # -- changes ---------------------------------------------------------------------------------

    def _update(self, case: Case, changes: Mapping[str, Any], removed: Sequence[str] = ()) -> dict[str, Any]:
        names = {f"#{i}": key for i, key in enumerate(changes)}
        values = {f":{i}": value for i, value in enumerate(changes.values())}
        sets = [f"#{i} = :{i}" for i in range(len(changes))]
        removes = [f"#r{i}" for i in range(len(removed))]
        names.update({f"#r{i}": key for i, key in enumerate(removed)})
        expression = "SET " + ", ".join([*sets, "version = version + :one"])
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": serialize_item({"case_id": case.case_id, "sk": CASE_SK}),
                "UpdateExpression": expression,
                "ConditionExpression": "version = :version",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": serialize_item({**values, ":one": 1, ":version": case.version}),
            }
        }

    def _commit(self, items: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise CaseConflict("the case changed since it was read: reload it") from None
            raise

    def assign(self, case: Case, assignee: str, *, by: str, now_ms: int) -> None:
        """Give ``case`` to ``assignee``; an open case moves to ``in_review``."""
        assignee = clean_name(assignee, "the assignee")
        if case.decided:
            raise CaseError("the case is decided: change its decision instead")
        changes = {"assignee": assignee, "status": "in_review"}
        event = Event(now_ms, by, "assigned", {"assignee": assignee})
        self._commit([self._update(case, changes), event_put(self.table_name, case.case_id, event)])

    def comment(self, case: Case, note: str, *, by: str, now_ms: int) -> None:
        note = clean_note(note)
        check = {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": serialize_item({"case_id": case.case_id, "sk": CASE_SK}),
                "ConditionExpression": "attribute_exists(case_id)",
            }
        }
        self._commit([check, event_put(self.table_name, case.case_id, Event(now_ms, by, "commented", {"note": note}))])

    def decide(self, case: Case, outcome: str, *, by: str, now_ms: int, note: str | None = None) -> Label | None:
        """Decide ``case``; on a transaction's case a fraud or legitimate decision is its analyst label, written
        with the decision. Returns the label written (or None)."""
        if outcome not in OUTCOMES:
            raise CaseError(f"the decision must be one of {', '.join(OUTCOMES)}")
        detail: dict[str, Any] = {"status": outcome, "from": case.status}
        if note:
            detail["note"] = clean_note(note)
        changes = {"status": outcome, "decided_by": by, "decided_at": now_ms}
        items = [
            self._update(case, changes),
            event_put(self.table_name, case.case_id, Event(now_ms, by, "decided", detail)),
        ]
        label = None
        if case.kind == "transaction" and case.transaction_id and outcome in LABELLED and self.labels_table:
            label = Label(
                case.transaction_id, LABELLED[outcome], "analyst", by, now_ms, case.case_id, detail.get("note")
            )
            items.append({"Put": put_request(self.labels_table, label)})
        self._commit(items)
        return label

    def record(self, case_id: str, event: Event) -> None:
        """An event that changes nothing but must be on the trail (a reveal), on an existing case."""
        self._commit(
            [
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": serialize_item({"case_id": case_id, "sk": CASE_SK}),
                        "ConditionExpression": "attribute_exists(case_id)",
                    }
                },
                event_put(self.table_name, case_id, event),
            ]
        )


# --- what analysts may see unmasked: an admin's decision, on the trail ------------------------------

SETTINGS_ID = "settings"  # the case id of the console's settings item and of their trail
REVEALABLE = ("card_id", "device_id", "ip_address")  # the identifiers alerts mask


def revealable(store: CaseStore) -> tuple[str, ...]:
    """The masked fields analysts may reveal (admins may always): none until an admin allows some."""
    reply = store.client.get_item(
        TableName=store.table_name, Key=serialize_item({"case_id": SETTINGS_ID, "sk": SETTINGS_ID}), ConsistentRead=True
    )
    fields = deserialize_item(reply["Item"]).get("revealable", []) if "Item" in reply else []
    return tuple(f for f in REVEALABLE if f in fields)


def set_revealable(store: CaseStore, fields: Iterable[str], *, by: str, now_ms: int) -> tuple[str, ...]:
    """Decide which masked fields analysts may reveal; the decision is an event on the settings trail."""
    chosen = tuple(f for f in REVEALABLE if f in set(fields))
    unknown = sorted(set(fields) - set(REVEALABLE))
    if unknown:
        raise CaseError(f"only {', '.join(REVEALABLE)} can be revealed")
    item = {"case_id": SETTINGS_ID, "sk": SETTINGS_ID, "revealable": list(chosen), "by": by, "at": now_ms}
    event = Event(now_ms, by, "settings", {"revealable": list(chosen)})
    store.client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": store.table_name, "Item": serialize_item(item)}},
            event_put(store.table_name, SETTINGS_ID, event),
        ]
    )
    return chosen
