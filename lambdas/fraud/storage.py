"""DynamoDB access for the handlers: the transactions table and the state table.

The handlers create the boto3 clients and pass them in; this module creates none. Everything here
speaks the low-level DynamoDB client API (typed attribute values), so the same code reads a stream
record, a query page and a ``TransactWriteItems`` cancellation.

Errors a retry can fix (throttling, a service fault) are not caught here: they propagate to the
handler and from there to the platform, which retries. The one exception is a transaction conflict
on a new id (two identical requests at the same moment): ``put_transaction`` resolves it itself, so
the client gets an answer (201 or 409) rather than a 5xx.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from fraud.history import HISTORY_FIELDS
from fraud.prefetch import in_order

MINUTE_MS = 60_000
DAY_S = 86_400
CLAIM_TIMESTAMP = 0
UNPROCESSED_RETRIES = 5
CONFLICT_RETRIES = 4  # another request holds the same id in a transaction: wait for it (about 0.75 s)
WINDOW_READERS = 8  # time-bucket queries in flight at once (botocore keeps 10 connections per client)
WINDOW_PAGES_AHEAD = 2  # pages a bucket's reader may hold before the analysis reaches that bucket
SHARD_COUNTS_ID = "time-bucket-shards"  # state item: the shard counts the analysis ran with lately
SCORED_PREFIX = "detect-fraud#scored#"  # state items: a scored transaction's decision, by transaction id

# Attributes process-transaction adds to a transaction item; they are not part of the transaction.
STORAGE_ATTRIBUTES = ("kind", "body_hash", "received_at", "time_bucket", "expires_at")

# A user's recent activity: every transaction also writes, in the same TransactWriteItems, an item of its own under
# the user's key (transaction_id = "recent#<user_id>", timestamp = ``recent_sort_key``: the millisecond it was
# received, then six digits of its id's hash) holding its history fields (``entry``), which detect-fraud reads with a
# strongly consistent Query. The user index is eventually consistent (usually well under a second behind the table,
# longer under load): this is how a transaction's scoring sees the user's transactions written just before it,
# whichever sandbox scores it. An item per transaction, not a list appended to per minute: a write costs units for
# the whole item it changes, so a list would grow each write's cost with the minute's traffic (a card-testing burst
# on one user would throttle its partition key near 9 a second) and stop at DynamoDB's 400 KB an item (about 1,800
# entries). "#" cannot appear in a transaction id (the schema's pattern), so these keys never meet a transaction's.
# They carry no user_id and no time_bucket: neither index holds them, and the stream filters (kind = transaction)
# drop their records.
RECENT_PREFIX = "recent#"
RECENT_KIND = "recent"
RECENT_TTL_S = 3600  # DynamoDB's TTL removes an entry an hour after its receipt: the index has long caught up
RECENT_WINDOW_MS = 5 * MINUTE_MS  # how far around a transaction's receipt its scoring reads recent entries
RECENT_ID_SPAN = 10**6  # the sort key's digits below the millisecond: two ids of one user and millisecond collide
# only when their hashes agree modulo this (one in a million); the later then replaces the earlier's entry, which the
# user index still holds. received_at * RECENT_ID_SPAN stays within a signed 64-bit integer until the year 2262.

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# --- value conversion -------------------------------------------------------------------------


def to_dynamodb_value(value: Any) -> Any:
    """Return ``value`` with every float turned into a Decimal, as DynamoDB numbers require.

    Floats go through ``repr`` (the shortest string that round-trips), so ``0.1`` is stored as
    ``0.1`` and not as its binary expansion.
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: to_dynamodb_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamodb_value(item) for item in value]
    return value


def serialize_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain Python mapping -> typed DynamoDB item (``{"amount": {"N": "12.5"}, ...}``)."""
    return {key: _serializer.serialize(to_dynamodb_value(value)) for key, value in item.items()}


def deserialize_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Typed DynamoDB item (a query result or a stream image) -> plain Python mapping.

    Numbers come back as Decimal (exact), as boto3's TypeDeserializer gives them.
    """
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


# --- time buckets -----------------------------------------------------------------------------


def shard_of(transaction_id: str, shards: int) -> int:
    """Stable shard of a transaction id (the same in every process, unlike ``hash()``)."""
    digest = hashlib.sha256(transaction_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def minute_key(timestamp_ms: int) -> str:
    """``YYYYMMDDHHMM`` (UTC) of an epoch-millisecond timestamp."""
    return datetime.fromtimestamp(timestamp_ms // 1000, tz=UTC).strftime("%Y%m%d%H%M")


def recent_key(user_id: str, received_at_ms: int, transaction_id: str) -> dict[str, Any]:
    """The key of the recent-activity entry of ``transaction_id``, received at ``received_at_ms`` from ``user_id``."""
    return {"transaction_id": f"{RECENT_PREFIX}{user_id}", "timestamp": recent_sort_key(received_at_ms, transaction_id)}


def recent_sort_key(received_at_ms: int, transaction_id: str) -> int:
    """A recent-activity entry's sort key: ``received_at_ms`` then six digits of ``transaction_id``'s hash, so the
    entries of one user's millisecond get keys of their own and a range of keys is a range of receive times."""
    return received_at_ms * RECENT_ID_SPAN + shard_of(transaction_id, RECENT_ID_SPAN)


def time_bucket(received_at_ms: int, transaction_id: str, shards: int) -> str:
    """The ``time_bucket`` attribute of a transaction item: ``YYYYMMDDHHMM#<shard>`` of the time it was
    received (not of the client's ``timestamp``: a transaction uploaded late must still be analysed)."""
    return f"{minute_key(received_at_ms)}#{shard_of(transaction_id, shards)}"


def window_buckets(start_ms: int, end_ms: int, shards: int) -> list[str]:
    """Every ``time_bucket`` value that can hold a receive time in ``[start_ms, end_ms]``."""
    if end_ms < start_ms:
        return []
    first = start_ms - start_ms % MINUTE_MS
    return [
        f"{minute_key(minute)}#{shard}" for minute in range(first, end_ms + 1, MINUTE_MS) for shard in range(shards)
    ]


# --- transactions table -----------------------------------------------------------------------


class PutOutcome(Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # same id, same body: an exact retry
    CONFLICT = "conflict"  # same id, different body


@dataclass(frozen=True)
class PutResult:
    outcome: PutOutcome
    received_at: int  # when the id was first accepted (epoch ms)


def transaction_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction in a stored item (a stream image or a query result): the storage attributes removed."""
    return {key: value for key, value in item.items() if key not in STORAGE_ATTRIBUTES}


class TransactionStore:
    """The ``transactions-<suffix>`` table, its two indexes and the users' recent-activity entries.

    ``client`` is a low-level boto3 DynamoDB client. ``retention_days``: the items written get
    ``expires_at`` (the table's TTL attribute, epoch seconds) that many days after they were received;
    None writes no expiry.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        user_index_name: str = "user_id-timestamp-index",
        time_bucket_index_name: str = "time_bucket-received_at-index",
        time_bucket_shards: int = 4,
        retention_days: int | None = None,
        window_readers: int = WINDOW_READERS,
    ) -> None:
        if time_bucket_shards < 1:
            raise ValueError(f"time_bucket_shards must be >= 1, got {time_bucket_shards}")
        if window_readers < 1:
            raise ValueError(f"window_readers must be >= 1, got {window_readers}")
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"retention_days must be >= 1, got {retention_days}")
        self.client = client
        self.table_name = table_name
        self.user_index_name = user_index_name
        self.time_bucket_index_name = time_bucket_index_name
        self.time_bucket_shards = time_bucket_shards
        self.retention_days = retention_days
        self.window_readers = window_readers

    def put_transaction(self, transaction: Mapping[str, Any], *, body_hash: str, received_at: int) -> PutResult:
        """Write a validated transaction once; classify a repeat of its id.

        One ``TransactWriteItems`` writes the claim item (``timestamp = 0``, guards the id across
        timestamps) and the transaction item, both only if absent, and its history fields as an entry of its
        user's recent activity (``RECENT_PREFIX``): all or nothing, so a repeat writes no second entry. When
        the claim already exists the
        stored ``body_hash`` tells an exact retry from a different body under the same id. A
        ``TransactionConflict`` (another request is writing the same id right now) is waited out: the
        claim is read and, while it is not visible yet, the write is tried again a few times. Any
        other failure (throttling, a service fault) propagates: the client's retry resolves it.
        """
        transaction_id = transaction["transaction_id"]
        stored = {"body_hash": body_hash, "received_at": received_at}
        if self.retention_days is not None:
            stored["expires_at"] = received_at // 1000 + self.retention_days * DAY_S
        claim = {"transaction_id": transaction_id, "timestamp": CLAIM_TIMESTAMP, "kind": "claim", **stored}
        item = {
            **transaction,
            "kind": "transaction",
            **stored,
            "time_bucket": time_bucket(received_at, transaction_id, self.time_bucket_shards),
        }
        request: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize_item(put),
                    "ConditionExpression": "attribute_not_exists(transaction_id)",
                }
            }
            for put in (claim, item)
        ]
        entry = {key: transaction[key] for key in HISTORY_FIELDS if transaction.get(key) is not None}
        recent = {
            **recent_key(str(transaction["user_id"]), received_at, transaction_id),
            "kind": RECENT_KIND,
            "entry": {**entry, "received_at": received_at},
            "expires_at": received_at // 1000 + RECENT_TTL_S,
        }
        request.append({"Put": {"TableName": self.table_name, "Item": serialize_item(recent)}})
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.client.transact_write_items(TransactItems=request)
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if "ConditionalCheckFailed" not in reasons and "TransactionConflict" not in reasons:
                    raise
                existing = self._get_claim(transaction_id)
                if existing is not None:
                    outcome = PutOutcome.DUPLICATE if existing["body_hash"] == body_hash else PutOutcome.CONFLICT
                    return PutResult(outcome, int(existing["received_at"]))
                if attempt == CONFLICT_RETRIES:
                    raise  # still no claim to read: the client's retry resolves it
                # The other write has not committed yet (or its claim vanished): try again shortly.
                time.sleep(0.05 * 2**attempt)
            else:
                return PutResult(PutOutcome.CREATED, received_at)
        raise AssertionError("unreachable")

    def _get_claim(self, transaction_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=serialize_item({"transaction_id": transaction_id, "timestamp": CLAIM_TIMESTAMP}),
            ConsistentRead=True,
        )
        return deserialize_item(response["Item"]) if "Item" in response else None

    def user_history(
        self,
        user_id: str,
        *,
        through_ms: int,
        window_ms: int,
        max_items: int,
        before: tuple[int, int, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The user's transactions in ``[through_ms - window_ms, through_ms]``, newest first, at most ``max_items``.

        With ``before`` (a ``(timestamp, received_at, transaction_id)`` order key, ``fraud.history.Item.order_key``)
        only the items that come before it count: transactions of the same millisecond that arrived later, and
        the scored transaction itself, are skipped. Pages are followed until ``max_items`` items count or the
        query ends (a page can be cut short by the 1 MB limit, or hold skipped items).
        """
        items: list[dict[str, Any]] = []
        if max_items <= 0:
            return items
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.user_index_name,
            "KeyConditionExpression": "user_id = :u AND #ts BETWEEN :from AND :to",
            "ExpressionAttributeNames": {"#ts": "timestamp"},
            "ExpressionAttributeValues": serialize_item(
                {":u": user_id, ":from": through_ms - window_ms, ":to": through_ms}
            ),
            "ScanIndexForward": False,
        }
        while len(items) < max_items:
            page = self.client.query(**request, Limit=max_items - len(items) + (0 if before is None else 1))
            for raw in page.get("Items", []):
                item = deserialize_item(raw)
                if before is None or _order_key(item) < before:
                    items.append(item)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items[:max_items]

    def recent_transactions(self, user_id: str, received_at: int) -> list[dict[str, Any]]:
        """The user's transactions received within ``RECENT_WINDOW_MS`` of ``received_at``, from the
        recent-activity entries, read strongly consistently (one Query, paged; each entry holds the fields the
        history needs and ``received_at``). What the user index may not show yet."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "transaction_id = :pk AND #ts BETWEEN :from AND :to",
            "ExpressionAttributeNames": {"#ts": "timestamp"},
            "ExpressionAttributeValues": serialize_item(
                {
                    ":pk": f"{RECENT_PREFIX}{user_id}",
                    ":from": (received_at - RECENT_WINDOW_MS) * RECENT_ID_SPAN,
                    ":to": (received_at + RECENT_WINDOW_MS + 1) * RECENT_ID_SPAN - 1,
                }
            ),
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**request)
            found.extend(_deserializer.deserialize(raw["entry"]) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """The stored transaction item of ``transaction_id`` (its claim skipped), or None. One Query on the
        table's hash key: the range key (the client's timestamp) is not needed."""
        reply = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="transaction_id = :id AND #ts > :claim",
            ExpressionAttributeNames={"#ts": "timestamp"},
            ExpressionAttributeValues=serialize_item({":id": transaction_id, ":claim": CLAIM_TIMESTAMP}),
            ConsistentRead=True,
            Limit=1,
        )
        items = reply.get("Items", [])
        return deserialize_item(items[0]) if items else None

    def window_items(self, start_ms: int, end_ms: int, *, shards: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield every transaction received in ``[start_ms, end_ms]``, bucket by bucket, page by page.

        Reads the time-bucket index (hash ``time_bucket``, range ``received_at``; one paginated query per
        minute bucket and shard), never the table. ``shards``: how many shards of each minute to read
        (default: the store's own count; more while a shard-count change is recent, see
        ``StateStore.shards_to_read``). The buckets are queried ``window_readers`` at a time
        (``fraud.prefetch.in_order``), and the items come out in the order of a sequential read: bucket by
        bucket, each bucket's pages in order. Memory holds at most ``window_readers * 3`` pages, whatever
        the number of transactions; a query that fails (after botocore's retries) fails the read.
        """
        count = self.time_bucket_shards if shards is None else shards
        if count < 1:
            raise ValueError(f"shards must be >= 1, got {count}")
        sources = [
            functools.partial(self._bucket_pages, bucket, start_ms, end_ms)
            for bucket in window_buckets(start_ms, end_ms, count)
        ]
        for page in in_order(sources, workers=self.window_readers, ahead=WINDOW_PAGES_AHEAD):
            yield from page

    def _bucket_pages(self, bucket: str, start_ms: int, end_ms: int) -> Iterator[list[dict[str, Any]]]:
        """The items of one bucket in ``[start_ms, end_ms]``, one list per query page, in order."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.time_bucket_index_name,
            "KeyConditionExpression": "time_bucket = :b AND #received BETWEEN :from AND :to",
            "ExpressionAttributeNames": {"#received": "received_at"},
            "ExpressionAttributeValues": serialize_item({":b": bucket, ":from": start_ms, ":to": end_ms}),
        }
        while True:
            page = self.client.query(**request)
            yield [deserialize_item(raw) for raw in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _order_key(item: Mapping[str, Any]) -> tuple[int, int, str]:
    """``(timestamp, received_at, transaction_id)`` of a stored item, as ``fraud.history.Item.order_key``."""
    return (int(item["timestamp"]), int(item.get("received_at") or 0), str(item["transaction_id"]))


def cancellation_reasons(error: ClientError) -> list[str]:
    """The per-item codes of a cancelled ``TransactWriteItems`` (``["ConditionalCheckFailed", "None"]``);
    empty for any other error."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [str(reason.get("Code")) for reason in error.response.get("CancellationReasons") or []]


def condition_failed(error: ClientError) -> bool:
    """True when a single-item write was refused by its ``ConditionExpression``."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


# --- state table ------------------------------------------------------------------------------


class StateStore:
    """Pattern-analysis state and the decisions of scored transactions in ``fraud-state-<suffix>`` (hash
    ``id``, TTL ``expiration``, epoch s).

    The same table holds the Powertools idempotency records; the ids used here have their own
    prefixes (``merchant-counts#``, ``finding#``, ``time-bucket-shards``, ``SCORED_PREFIX``) and cannot
    collide with them.
    Ids of findings and merchant keys are built by ``fraud.alerts`` and ``fraud.analysis`` (keyed
    hashes): this module hashes nothing.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def save_merchant_counts(
        self, window_end_ms: int, counts: Mapping[str, int], *, top_n: int, expiration: int, key_id: str
    ) -> dict[str, int]:
        """Store this run's per-merchant transaction counts (only the ``top_n`` busiest merchants).

        ``counts`` are keyed by the caller's fixed-length merchant keys (``fraud.analysis`` stores keyed
        hashes, never the ids, which would let 1,000 merchants outgrow DynamoDB's 400 KB item); ``key_id``
        names the hash key they were made with, so runs keyed with another key are never compared.
        """
        top = dict(sorted(counts.items(), key=lambda entry: (-entry[1], entry[0]))[:top_n])
        self.client.put_item(
            TableName=self.table_name,
            Item=serialize_item(
                {
                    "id": merchant_counts_id(window_end_ms, key_id),
                    "kind": "merchant-counts",
                    "window_end": window_end_ms,
                    "counts": top,
                    "expiration": expiration,
                }
            ),
        )
        return top

    def load_merchant_counts(self, window_ends_ms: Iterable[int], *, key_id: str) -> list[dict[str, int]]:
        """The stored counts of the given earlier runs (by window end), skipping runs that stored none."""
        keys = [{"id": {"S": merchant_counts_id(end, key_id)}} for end in dict.fromkeys(window_ends_ms)]
        found: list[dict[str, int]] = []
        for start in range(0, len(keys), 100):  # BatchGetItem takes at most 100 keys
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": keys[start : start + 100],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#c",
                    "ExpressionAttributeNames": {"#c": "counts"},
                }
            }
            for attempt in range(UNPROCESSED_RETRIES + 1):
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table_name, []):
                    counts = deserialize_item(raw).get("counts", {})
                    found.append({merchant: int(count) for merchant, count in counts.items()})
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB returns unprocessed keys when throttled
            else:
                raise RuntimeError(
                    f"BatchGetItem on {self.table_name} left keys unprocessed after {UNPROCESSED_RETRIES} retries"
                )
        return found

    def shards_to_read(self, configured: int, *, now_ms: int, remember_ms: int) -> int:
        """How many shards of each minute bucket a run must read: ``configured``, or more while the count
        was changed down lately.

        Records that a run used ``configured`` now (one ``UpdateItem`` on the ``time-bucket-shards`` item,
        an attribute ``shards_<count>`` per count, holding the last time a run used it) and returns the
        largest count used in the last ``remember_ms``. Transactions written with the former count sit in
        shards the new count no longer names; reading the larger count finds them, and costs one query
        of an empty bucket for each shard that no transaction uses any more.
        """
        if configured < 1:
            raise ValueError(f"configured must be >= 1, got {configured}")
        response = self.client.update_item(
            TableName=self.table_name,
            Key=serialize_item({"id": SHARD_COUNTS_ID}),
            UpdateExpression="SET #used = :now, #kind = :kind, #expiration = :expiration",
            ExpressionAttributeNames={"#used": f"shards_{configured}", "#kind": "kind", "#expiration": "expiration"},
            ExpressionAttributeValues=serialize_item(
                {":now": now_ms, ":kind": "time-bucket-shards", ":expiration": (now_ms + remember_ms) // 1000}
            ),
            ReturnValues="ALL_NEW",
        )
        used = deserialize_item(response["Attributes"])
        recent = [
            int(name.removeprefix("shards_"))
            for name, when in used.items()
            if name.startswith("shards_") and int(when) >= now_ms - remember_ms
        ]
        return max([configured, *recent])

    def claim_finding(self, claim_id: str, *, alert_id: str, now: int, expiration: int, sent: bool) -> bool:
        """Claim the right to alert on a finding until ``expiration`` (epoch s); False if suppressed.

        The put succeeds when no live claim exists (``attribute_not_exists(id) OR expiration < :now``),
        and also when the live claim was made for the same ``alert_id``: a retried run of the same
        window re-claims its own finding, and the claim made before sending (``sent = False``, short)
        is turned into the suppressing one (``sent = True``) once the alert was sent.
        """
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize_item(
                    {
                        "id": claim_id,
                        "kind": "finding",
                        "alert_id": alert_id,
                        "claimed_at": now,
                        "expiration": expiration,
                        "sent": sent,
                    }
                ),
                ConditionExpression="attribute_not_exists(id) OR expiration < :now OR alert_id = :alert_id",
                ExpressionAttributeValues=serialize_item({":now": now, ":alert_id": alert_id}),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def scored_decision(self, transaction_id: str, *, now: int) -> str | None:
        """The decision recorded for ``transaction_id`` (a strongly consistent read), or None: not scored yet,
        or its record expired (``now``, epoch s; DynamoDB's TTL removes an expired item within days)."""
        item = self.client.get_item(
            TableName=self.table_name, Key=serialize_item({"id": SCORED_PREFIX + transaction_id}), ConsistentRead=True
        ).get("Item")
        return _live_decision(item, now)

    def record_scored(self, transaction_id: str, decision: str, *, now: int, expiration: int) -> str | None:
        """Record ``decision`` as ``transaction_id``'s until ``expiration`` (epoch s) with one conditional PutItem,
        unless a live decision is recorded already: then nothing is written and that decision is returned."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize_item(
                    {
                        "id": SCORED_PREFIX + transaction_id,
                        "kind": "scored",
                        "decision": decision,
                        "expiration": expiration,
                    }
                ),
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues=serialize_item({":now": now}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            # The item in the way comes back with the refusal (ReturnValuesOnConditionCheckFailure); read it where
            # an endpoint leaves it out. A live record is never removed by TTL, so gone by then means deleted by
            # hand since: taken as this decision, already recorded.
            if "Item" in error.response:
                return _live_decision(error.response["Item"], now) or decision
            return self.scored_decision(transaction_id, now=now) or decision
        return None

    def release_finding(self, claim_id: str, *, alert_id: str) -> None:
        """Drop this alert's claim on a finding (its send failed): the next run may alert on it."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=serialize_item({"id": claim_id}),
                ConditionExpression="alert_id = :alert_id",
                ExpressionAttributeValues=serialize_item({":alert_id": alert_id}),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise


def _live_decision(item: Mapping[str, Any] | None, now: int) -> str | None:
    if item is None or int(item["expiration"]["N"]) < now:
        return None
    return str(item["decision"]["S"])


def merchant_counts_id(window_end_ms: int, key_id: str) -> str:
    """``merchant-counts#<key id>#<window end>``: one run's counts, keyed with the hash key ``key_id`` names."""
    return f"merchant-counts#{key_id}#{window_end_ms}"


def merchant_baseline(runs: Iterable[Mapping[str, int]], merchants: Iterable[str], *, top_n: int) -> dict[str, float]:
    """Each merchant's mean count per window over earlier runs' stored counts ({} without runs).

    A run stores only its ``top_n`` busiest merchants. A merchant missing from a run that stored
    fewer had no transactions in it (0); missing from a full run, it had at most that run's smallest
    stored count, which is taken as its count (never a spike claimed from a truncated baseline).
    """
    runs = list(runs)
    if not runs:
        return {}
    names = set(merchants).union(*runs)
    totals = dict.fromkeys(names, 0)
    for run in runs:
        absent = min(run.values()) if len(run) >= top_n else 0
        for name in names:
            totals[name] += run.get(name, absent)
    return {name: total / len(runs) for name, total in totals.items()}


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for DynamoDB values: Decimal as a string (exact), sets as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
