"""Block and allow lists: identifiers the fraud team has decided about, applied after the score.

An entry names one identifier of a transaction (``FIELDS``: card token, user, device, IP address, merchant)
on the ``block`` or the ``allow`` list, with a reason, who added it, when, and an optional expiry. Each
identifier is on at most one list at a time (its key is ``<field>#<value>``).

Applied to an assessment (``apply``), after the rules and the model scored it (the score is kept, computed
and logged as always):

- a **block** hit forces the ``alert`` band, with its own reason code ``BLOCK_LIST`` first among the reasons;
- an **allow** hit caps the band at ``review`` (reason ``ALLOW_LIST``): the team still sees it, nothing is
  dropped silently; a block hit on another field of the same transaction wins over an allow hit.

Lists are versioned like rules and models: every change bumps one counter (``ListStore``), the snapshot a
scorer uses is named by it (``Lists.version``) and every scored log line names that version. detect-fraud
keeps a snapshot per sandbox (``ListSlot``) and checks the version every ``LISTS_CACHE_SECONDS`` (one
``GetItem``), reading the entries again (one ``Scan``) only when it changed: a change is live within a minute,
without a redeploy. The backtest replays with a list file (``read_entries``, JSON lines of entries).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fraud.alerts import MASKED_FIELDS, mask
from fraud.card_numbers import scrub
from fraud.storage import cancellation_reasons, deserialize_item, serialize_item

if TYPE_CHECKING:
    from fraud.engine import Assessment

FIELDS = ("card_id", "user_id", "device_id", "ip_address", "merchant_id")
FIELD_NAMES = {
    "card_id": "card token",
    "user_id": "user",
    "device_id": "device",
    "ip_address": "IP address",
    "merchant_id": "merchant",
}
LISTS = ("block", "allow")
BLOCK_CODE, ALLOW_CODE = "BLOCK_LIST", "ALLOW_LIST"
MAX_VALUE, MAX_REASON = 128, 500
VERSION_KEY = "#version"  # the counter item; entry keys start with a field name, never with "#"
NO_LISTS = "none"  # the version of "no list configured"


class ListError(ValueError):
    """An entry that cannot be stored; the message says why (never the identifier)."""


def normalise(field: str, value: str) -> str:
    """The form an identifier is compared in: IP addresses in lower case (IPv6 hex), the rest as given."""
    value = value.strip()
    return value.lower() if field == "ip_address" else value


@dataclass(frozen=True)
class Entry:
    list: str  # block | allow
    field: str
    value: str
    reason: str
    by: str
    at: int  # epoch ms added
    expires_at: int | None = None  # epoch ms, None: never
    ref: str = ""  # an opaque id the console uses (the value may be masked on the page)

    @property
    def key(self) -> str:
        return f"{self.field}#{self.value}"

    def active(self, now_ms: int) -> bool:
        return self.expires_at is None or now_ms < self.expires_at

    @property
    def shown(self) -> str:
        """The identifier as a page or an alert may show it (card tokens, devices and IPs masked)."""
        return mask(self.value) if self.field in MASKED_FIELDS else self.value  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "list": self.list,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
        }
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        return out


def entry(
    list_name: str,
    field: str,
    value: str,
    *,
    reason: str,
    by: str,
    at: int,
    expires_at: int | None = None,
    ref: str | None = None,
) -> Entry:
    """A checked entry; ``ListError`` says what is wrong."""
    if list_name not in LISTS:
        raise ListError(f"list must be one of {', '.join(LISTS)}")
    if field not in FIELDS:
        raise ListError(f"field must be one of {', '.join(FIELDS)}")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
        raise ListError(f"the {FIELD_NAMES[field]} must be 1-{MAX_VALUE} characters")
    if scrub(value) != value:
        raise ListError("the value holds a card number: list the card token, never the card number")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ListError(f"a reason of 1-{MAX_REASON} characters is required")
    if expires_at is not None and expires_at <= at:
        raise ListError("the expiry must be after the time the entry is added")
    return Entry(
        list_name,
        field,
        normalise(field, value),
        scrub(reason.strip()),
        by,
        int(at),
        None if expires_at is None else int(expires_at),
        ref or uuid.uuid4().hex,
    )


@dataclass(frozen=True)
class Hit:
    entry: Entry

    @property
    def code(self) -> str:
        return BLOCK_CODE if self.entry.list == "block" else ALLOW_CODE


class Lists:
    """One version of the lists: what a scorer matches transactions against."""

    def __init__(self, entries: Iterable[Entry], version: str) -> None:
        self.version = version
        self.entries = tuple(entries)
        self._by_key = {(e.field, e.value): e for e in self.entries}

    def __len__(self) -> int:
        return len(self.entries)

    def hits(self, transaction: Mapping[str, Any], now_ms: int) -> tuple[Hit, ...]:
        """The active entries that name one of the transaction's identifiers, block entries first."""
        if not self._by_key:
            return ()
        found = []
        for field in FIELDS:
            value = transaction.get(field)
            if value is None:
                continue
            hit = self._by_key.get((field, normalise(field, str(value))))
            if hit is not None and hit.active(now_ms):
                found.append(Hit(hit))
        found.sort(key=lambda h: h.entry.list != "block")
        return tuple(found)


EMPTY = Lists((), NO_LISTS)


def _explanation(hit: Hit) -> str:
    e = hit.entry
    return f"{FIELD_NAMES[e.field]} {e.shown} is on the {e.list} list: {e.reason}"


def apply(assessment: Assessment, hits: Sequence[Hit]) -> Assessment:
    """``assessment`` as the lists leave it: forced to ``alert`` by a block hit, capped at ``review`` by an
    allow hit (when no block hit), with the list's reason first. The score is left as the engine gave it."""
    if not hits:
        return assessment
    from fraud.engine import Reason  # the engine is loaded by whoever scores

    reasons = tuple(Reason(hit.code, 0.0, _explanation(hit)) for hit in hits)
    if any(hit.entry.list == "block" for hit in hits):
        blocking = tuple(r for r in reasons if r.code == BLOCK_CODE)
        return replace(assessment, decision="alert", reasons=blocking + assessment.reasons, forced_by=BLOCK_CODE)
    allowing = reasons[:1]
    if assessment.decision == "alert":
        return replace(assessment, decision="review", reasons=allowing + assessment.reasons, forced_by=None)
    return replace(assessment, reasons=allowing + assessment.reasons)


# --- files (the backtest, make lists export/import) --------------------------------------------


def read_entries(text: str, *, name: str) -> tuple[list[Entry], list[tuple[int, str]]]:
    """The entries of a JSON-lines list file (one ``Entry.to_dict()`` per line) and the bad lines."""
    entries: list[Entry] = []
    errors: list[tuple[int, str]] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ListError("not a JSON object")
            unknown = set(data) - {"list", "field", "value", "reason", "by", "at", "expires_at"}
            if unknown:
                raise ListError("unknown fields: the fields are list, field, value, reason, by, at, expires_at")
            found = entry(
                data.get("list", ""),
                data.get("field", ""),
                data.get("value", ""),
                reason=data.get("reason", ""),
                by=str(data.get("by") or name),
                at=int(data.get("at") or 0),
                expires_at=data.get("expires_at"),
            )
        except (ValueError, TypeError) as error:  # ListError, JSONDecodeError
            errors.append((number, str(error) if isinstance(error, ListError) else "not a valid entry"))
            continue
        if (found.field, found.value) in seen:
            errors.append((number, f"the {FIELD_NAMES[found.field]} is listed twice"))
            continue
        seen.add((found.field, found.value))
        entries.append(found)
    return entries, errors


# --- the lists table ----------------------------------------------------------------------------


def _item(e: Entry) -> dict[str, Any]:
    return {"entry_key": e.key, **e.to_dict(), "ref": e.ref}


def entry_of(item: Mapping[str, Any]) -> Entry:
    data = deserialize_item(item)
    return Entry(
        list=str(data["list"]),
        field=str(data["field"]),
        value=str(data["value"]),
        reason=str(data.get("reason", "")),
        by=str(data.get("by", "")),
        at=int(data.get("at", 0)),
        expires_at=None if data.get("expires_at") is None else int(data["expires_at"]),
        ref=str(data.get("ref", "")),
    )


class ListStore:
    """The lists table (hash ``entry_key``): the entries and the version counter (``#version``).

    Every change is one ``TransactWriteItems``: the entry's put or delete, the version's increment and,
    when ``audit`` is given (the console and ``make lists`` pass the cases table's audit event), that event.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def version(self) -> int:
        reply = self.client.get_item(
            TableName=self.table_name, Key=serialize_item({"entry_key": VERSION_KEY}), ConsistentRead=True
        )
        return int(deserialize_item(reply["Item"]).get("version", 0)) if "Item" in reply else 0

    def entries(self) -> list[Entry]:
        """Every entry (expired ones too), one strongly consistent scan."""
        found = []
        for page in self.client.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            for item in page.get("Items", []):
                if not item["entry_key"]["S"].startswith("#"):
                    found.append(entry_of(item))
        return found

    def snapshot(self, attempts: int = 3) -> Lists:
        """The entries of one version: the version read before and after the scan must agree (every change
        bumps it in the same transaction), else the scan is repeated."""
        for _ in range(attempts):
            before = self.version()
            entries = self.entries()
            if self.version() == before:
                return Lists(entries, str(before))
        return Lists(entries, f"{self.version()}")

    def _bump(self) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": serialize_item({"entry_key": VERSION_KEY}),
                "UpdateExpression": "ADD version :one",
                "ExpressionAttributeValues": serialize_item({":one": 1}),
            }
        }

    def put(self, e: Entry, *, replace_allow: bool, audit: Sequence[dict[str, Any]] = ()) -> None:
        """Add (or replace) ``e``. An allow entry is replaced only when ``replace_allow`` (admins): a block
        entry added by an analyst never removes an admin's allow entry unseen (``ListError``)."""
        put: dict[str, Any] = {"TableName": self.table_name, "Item": serialize_item(_item(e))}
        if not replace_allow:
            put["ConditionExpression"] = "attribute_not_exists(entry_key) OR #list <> :allow"
            put["ExpressionAttributeNames"] = {"#list": "list"}
            put["ExpressionAttributeValues"] = serialize_item({":allow": "allow"})
        self._write([{"Put": put}, self._bump(), *audit], "the identifier is on the allow list: an admin decides")

    def find(self, ref: str) -> Entry | None:
        """The entry whose ``ref`` is ``ref`` (the console's handle on an entry it shows masked)."""
        return next((e for e in self.entries() if e.ref == ref), None)

    def remove(self, e: Entry, *, audit: Sequence[dict[str, Any]] = ()) -> None:
        delete = {
            "TableName": self.table_name,
            "Key": serialize_item({"entry_key": e.key}),
            "ConditionExpression": "#ref = :ref",
            "ExpressionAttributeNames": {"#ref": "ref"},
            "ExpressionAttributeValues": serialize_item({":ref": e.ref}),
        }
        self._write([{"Delete": delete}, self._bump(), *audit], "the entry changed or is gone: reload the lists")

    def _write(self, items: list[dict[str, Any]], conflict: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if "ConditionalCheckFailed" in cancellation_reasons(error):
                raise ListError(conflict) from None
            raise


class ListSlot:
    """The lists a sandbox scores with: a snapshot, its version checked every ``max_age_s`` seconds (one read)
    and the entries read again only when it changed.

    ``read_version`` and ``read_snapshot`` are the store's (the handler passes them). When a check fails (a
    throttle, a fault) the slot keeps its snapshot and reports the problem (``current`` returns it) so the
    caller can count it; a sandbox that never read the lists lets the error propagate: the platform retries
    rather than score a transaction without the team's block list.
    """

    def __init__(
        self,
        read_version: Callable[[], int],
        read_snapshot: Callable[[], Lists],
        *,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read_version = read_version
        self.read_snapshot = read_snapshot
        self.max_age_s = max_age_s
        self.clock = clock
        self.lists: Lists | None = None
        self.checked_at = 0.0
        self.reads = 0  # version checks and snapshots read: the cost the docs report

    def current(self) -> tuple[Lists, str | None]:
        """The lists to score with, and the problem when the latest version could not be checked."""
        now = self.clock()
        if self.lists is not None and now - self.checked_at < self.max_age_s:
            return self.lists, None
        try:
            self.reads += 1
            version = str(self.read_version())
            if self.lists is None or self.lists.version != version:
                self.reads += 1
                self.lists = self.read_snapshot()
        except Exception as error:
            if self.lists is None:
                raise
            self.checked_at = now
            return self.lists, f"{type(error).__name__}: {error}"
        self.checked_at = now
        return self.lists, None


def iter_lines(entries: Iterable[Entry]) -> Iterator[str]:
    """JSON lines of ``entries`` (a list file, read back by ``read_entries``), sorted by key."""
    for e in sorted(entries, key=lambda e: e.key):
        yield json.dumps(e.to_dict(), sort_keys=True)
