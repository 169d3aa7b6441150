"""Patches to moto, applied in the emulator's process by ``install()``: thirteen to its DynamoDB, two to
its request dispatch and response serialiser, and two behaviours it lacks.

moto's DynamoDB is correct but written for unit tests, where tables hold a few items. The local
cloud's tables hold thousands to hundreds of thousands, and three of moto's choices made every
write or query cost time in proportion to the table (see docs/local-emulator.md, "Where the time
went"). Each patch keeps moto's behaviour and answers; only the cost changes.

1. ``TransactWriteItems`` without copying tables. moto deep-copies every table a transaction
   names (once per item) so that it can swap the copy back in when an item fails. Here the
   transaction runs moto's own per-item code, but keeps an undo log instead: the previous version
   of each item it touches and the length of each stream before it started. A cancelled
   transaction restores those items and cuts the streams back, so nothing of it stays in the table
   or reaches a stream reader; the cancellation reasons are moto's. Because the table object is no
   longer swapped, a stream iterator stays valid across a cancelled transaction.
2. ``Query`` through an index instead of a scan. moto answers a query by sorting every item of the
   table (base table) or walking every item (global and local secondary indexes), then filtering.
   Here each queried index keeps a map from its partition key value to the items that have it,
   updated on every put, delete and update; the query runs moto's own code over that partition only.
3. Stream reads: ``wait_for_stream_write`` lets an in-process stream reader sleep until a table
   writes to a stream, instead of polling; shard iterators expire after 15 minutes as on AWS
   (moto keeps every iterator it ever issued, one per ``GetRecords``).
4. Item attributes in responses as they are. moto serialises every response by walking the
   service model, and spends most of a Query's or a GetRecords' time walking each attribute value
   of each item. An attribute map whose values are already the wire format (``{"S": "..."}``,
   ``{"N": "..."}``, ``BOOL``, ``NULL``, string sets, and lists and maps of those) is copied into
   the response as it is; anything else (binary values) takes moto's path. The JSON is the same.
5. Items built in one pass. moto checks the 400 KB item limit on every attribute it stores, by
   summing the sizes of all the attributes stored so far: building an item of n attributes costs n²
   size computations. Here a new item's attributes are stored and the limit checked once, on the
   total (the same limit, the same ``ItemSizeTooLarge``).
6. Action lookup once per class. For every request moto lists the methods of its response class
   with ``inspect.getmembers`` to see whether it implements the action; the list is kept.
7. One DynamoDB call at a time, for its work only. moto's DynamoDB is not thread-safe, so its calls
   must not overlap; the lock (``LOCK``) is held by each DynamoDB and DynamoDB Streams action while it
   works on the tables and turns its answer into plain data, not while moto parses the request or
   serialises the response (most of a call's time), so calls queue for a shorter time.

8. Query results copied without ``copy.deepcopy``. moto copies a query's matching items before it projects
   and filters them, through ``copy.deepcopy`` and moto's own ``__deepcopy__`` per item and attribute value
   (a sixth of the server's time in a run, most of a ``Query``'s). Here the copy is the same (new items, new
   attribute values, new lists and maps, the scalars shared as ``__deepcopy__`` shares them), made by one
   function without ``deepcopy``'s dispatch and memo. And an answer's items turned into plain data
   (``dynamo_to_dict``, a tenth of the server's time) by type, not by a chain of ``isinstance`` and ``hasattr``
   checks per value; the same dictionaries and lists. An item's attributes are moto's ``LimitedSizeDict`` (a
   ``dict`` with no ``to_json``): taken as a ``dict`` (they used to go to moto's path, which then walked
   the whole item its way: two thirds of a Query's time in the server for a user with twenty transactions).
9. Updates copied without ``copy.deepcopy``. An ``UpdateItem`` copies the item it changes through ``copy.deepcopy``
   twice (moto's response keeps it for ``ReturnValues``, moto's ``update_item`` for the stream's old image), a
   transaction's undo log (patch 1) a third time, and ``list_append`` copies the list it appends to: for a list
   that grows with each update, most of the update's time. These copies (``copy`` as moto's DynamoDB models, table
   and responses modules see it, and ``deepcopy`` as its update-expression validators see it) go through patch 8's
   functions for items and attribute values: the same copies. Anything else still goes to ``copy.deepcopy``.
10. Attribute values to plain data without copying each level again. moto's ``DynamoType.to_regular_json`` (an
   item's ``to_json``: responses and stream records) deep-copies a value, then converts each nested value, which
   deep-copies it again: a value at depth d is copied d times. Here each nested value is converted once; the same
   dictionaries and lists (anything not an attribute value is still deep-copied, binary still decoded).
11. Attribute sizes without rebuilding the values. moto's ``DynamoType.size`` (the 400 KB check on every attribute
   an update sets sums the sizes of the whole item) builds a new ``DynamoType`` for each value of a map and each
   member of a set, and so copies every nested list and map; here each value is measured as it is, case by case
   in moto's order: the same sizes.
12. Update expressions parsed once. moto parses an ``UpdateExpression`` twice per ``UpdateItem`` (request check and
   update) and walks its tree ten times, building each walker's map of node types anew at every node. Here a
   parsed expression is kept per string (up to 1024; moto only reads it: its validator works on a deep copy, and
   a parse error is raised again each time), and each walker builds its map once and makes its ``isinstance``
   checks (of moto's abstract node classes, slow) once per node class: the same nodes processed, in the same order.
14. An update expression's checks once, and its tree copied by a walker. moto's update validator deep-copies the
   parsed tree (``copy.deepcopy``: two thirds of the copy is its dispatch and memo) and walks it ten times; the first
   three walks only check the expression (one clause of each kind, no overlapping paths, no key attribute set) and
   depend on nothing but the expression, its attribute names and the table's key attributes. Here the tree is
   copied by one walk (the same new nodes, parents pointing into the copy), and those three checks run once per
   (expression, names, key attributes) that passed them; one that fails them fails every time, as before.
15. The response serialiser's member look-ups kept. For each member of each structure of every answer, moto makes
   six alias providers to list the keys under which the member may sit in the answer; for an answer that is a
   ``dict`` the list depends only on the member, its shape and its structure, and is kept per those.
16. Condition expressions parsed once. moto parses a request's ``ConditionExpression`` (or filter) twice, to check
   the request and to decide; here the parse is kept per expression, attribute names and values (the operators
   only read the item they are given; the names and values found, which the request check reads, are noted
   again). A parse that fails is not kept, nor one with binary values.
17. An item measured once per query. moto's ``Table.query`` measures every candidate item of the partition to keep
   an answer under 1 MB, then measures each match again as it adds it (``Item.size``: every attribute and nested
   value): here an item's size is kept for the length of one query call, under patch 7's lock (no write can
   change the item meanwhile): the same sizes, the same pages.
18. Item requests read as JSON. moto reads every request by walking the operation's input shape over the JSON
   (a fifth of a ``TransactWriteItems``' time in the server). For the item actions (``GetItem``, ``PutItem``,
   ``UpdateItem``, ``DeleteItem``, ``Query``, ``Scan``, the batch and transaction actions) the walk gives back the
   JSON itself unless a value needs converting: a binary attribute value (base64 text to bytes) or a ``null``
   (the walk drops the member). A request body without either (``"B"``/``"BS"`` keys, ``null``) is taken as
   ``json.loads`` reads it; any other goes the walk's way. (The walk also drops members the operation does not
   have: the SDKs send none.)

And two behaviours moto lacks. **A stream shard per table partition** (13, ``set_partitioned_streams``, on in
the local cloud): moto gives every stream one shard; DynamoDB gives a stream one open shard per partition of
its table, and Lambda and Pipes read the shards at once. With it on, a stream has ``partitions(table)`` shards
(four for an on-demand table, as AWS starts one with capacity for 4,000 writes a second; one per 1,000 write
or 3,000 read units when provisioned), a record goes to the shard of its item's partition key (a hash: the
records of one key stay in one shard, in order), ``DescribeStream`` lists them and ``GetShardIterator`` takes
any of them; ``shard_writes`` tells an in-process reader whether a shard has anything new. Off, moto's one
shard (the unit tests). A **global secondary index that lags** (``set_index_lag``). On AWS a GSI is
eventually consistent: a write shows in it after a delay (usually well under a second, longer under load).
With a lag set, each item that enters an index partition stays out of that index's query answers for a
random time up to the lag (seeded: the same writes lag the same way); the base table is unaffected. Off
(0) by default. Only new entries lag: an item changed in place shows its new attributes at once.

Concurrency: the patches rely on patch 7: one DynamoDB or DynamoDB Streams action at a time.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import hashlib
import inspect
import json
import math
import random
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, cast

from moto.core import responses as moto_responses
from moto.core.exceptions import JsonRESTError
from moto.core.serialize import BaseJSONSerializer, XFormedAttributePicker
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateHashRangeKeyValidator,
    Validator,
)
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator, dynamodbstreams_backends

from tools.emulator.timings import TIMINGS

SHARD_ITERATOR_LIFETIME_S = 15 * 60  # AWS: a shard iterator expires 15 minutes after it is returned
ITEM_SIZE_LIMIT = 405_000  # moto's: "the actual limit is between 409 and 410KB"

_installed = False
_original: dict[str, Any] = {}
LOCK = threading.RLock()  # held by every DynamoDB and DynamoDB Streams action (patch 7)

# -- 2. partition maps --------------------------------------------------------------------------------


class IndexLag:
    """How long a new entry takes to show in a global secondary index: up to ``max_s``, at random (seeded)."""

    def __init__(self) -> None:
        self.max_s = 0.0
        self._random = random.Random(0)

    def set(self, max_s: float, seed: int = 0) -> None:
        if max_s < 0:
            raise ValueError(f"an index lag is at least 0 seconds, got {max_s}")
        self.max_s = max_s
        self._random = random.Random(seed)

    def delay(self) -> float:
        return self._random.uniform(0, self.max_s) if self.max_s else 0.0


INDEX_LAG = IndexLag()


def set_index_lag(max_s: float, seed: int = 0) -> None:
    """From now on, each new entry of a global secondary index shows in queries after up to ``max_s`` seconds."""
    with LOCK:
        INDEX_LAG.set(max_s, seed)


PrimaryKey = tuple[DynamoType, DynamoType | None]
# moto's ``Table.items``: hash key -> Item, or hash key -> {range key -> Item} when the table has a range
# key. moto annotates only the second shape, so the code here reads it through this alias.
Entries = dict[DynamoType, Any]


class _Partitions:
    """Items of one table by the value of one attribute (an index's partition key)."""

    def __init__(self, table: Table, attribute: str) -> None:
        self.attribute = attribute
        self.items_id = id(table.items)
        self.by_value: dict[DynamoType, dict[PrimaryKey, Item]] = {}
        self.value_of: dict[PrimaryKey, DynamoType] = {}
        self.visible_at: dict[PrimaryKey, float] = {}  # entries that do not show in queries yet (IndexLag)
        for item in _all_items_unsorted(table):
            self.update((item.hash_key, item.range_key), item, lag=False)

    def update(self, key: PrimaryKey, item: Item | None, lag: bool = True) -> None:
        """``item`` is now stored under ``key`` (None: nothing is); a new entry shows after ``INDEX_LAG``."""
        old = self.value_of.pop(key, None)
        if old is not None:
            bucket = self.by_value.get(old)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.by_value[old]
        value = item.attrs.get(self.attribute) if item is not None else None
        if value is None:
            self.visible_at.pop(key, None)
            return
        self.value_of[key] = value
        self.by_value.setdefault(value, {})[key] = item  # type: ignore[assignment]
        if old is None or old != value:  # a new entry of this partition (an item changed in place keeps its visibility)
            delay = INDEX_LAG.delay() if lag else 0.0
            if delay:
                self.visible_at[key] = time.monotonic() + delay
            else:
                self.visible_at.pop(key, None)

    def get(self, value: DynamoType) -> list[Item]:
        entries = self.by_value.get(value, {})
        if not self.visible_at:
            return list(entries.values())
        now = time.monotonic()
        for key in [k for k, at in self.visible_at.items() if at <= now]:
            del self.visible_at[key]
        return [item for key, item in entries.items() if key not in self.visible_at]


_partitions: weakref.WeakKeyDictionary[Table, dict[str, _Partitions]] = weakref.WeakKeyDictionary()


def _all_items_unsorted(table: Table) -> Iterable[Item]:
    entries: Entries = table.items
    for entry in entries.values():
        if table.range_key_attr:
            yield from entry.values()
        else:
            yield entry


def _partitions_for(table: Table, attribute: str) -> _Partitions:
    maps = _partitions.setdefault(table, {})
    partitions = maps.get(attribute)
    if partitions is None or partitions.items_id != id(table.items):  # first use, or the items were replaced
        partitions = maps[attribute] = _Partitions(table, attribute)
    return partitions


def _reindex(table: Table, key: PrimaryKey, item: Item | None) -> None:
    for partitions in _partitions.get(table, {}).values():
        partitions.update(key, item)


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    entries: Entries = table.items
    entry = entries.get(hash_key)
    if entry is None:
        return None
    if table.range_key_attr:
        return entry.get(range_key)
    return entry


# Candidates for one query, read by the patched Table.all_items in the same thread only.
_candidates: ContextVar[tuple[Table, list[Item]] | None] = ContextVar("moto_query_candidates", default=None)


def _all_items(self: Table) -> list[Item]:
    current = _candidates.get()
    if current is not None and current[0] is self:
        return current[1]
    return _original["Table.all_items"](self)


def _query(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    candidates = _query_candidates(self, hash_key, index_name, hash_key_conditions)
    token = _candidates.set((self, candidates)) if candidates is not None else None
    sizes = _sizes.set({})
    try:
        return _original["Table.query"](
            self,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions=hash_key_conditions,
            range_key_conditions=range_key_conditions,
            **filter_kwargs,
        )
    finally:
        _sizes.reset(sizes)
        if token is not None:
            _candidates.reset(token)


def _copy_value(value: DynamoType) -> DynamoType:
    """What ``DynamoType.__deepcopy__`` makes, without ``copy.deepcopy``."""
    result = DynamoType.__new__(DynamoType)
    result.type = value.type
    if result.type == "L":
        result.value = [_copy_value(v) for v in value.value]
    elif result.type == "M":
        result.value = {k: _copy_value(v) for k, v in value.value.items()}
    elif result.type in ("SS", "NS", "BS"):
        result.value = list(value.value)
    else:
        result.value = value.value
    return result


def _copy_item(item: Item) -> Item:
    """What ``Item.__deepcopy__`` makes (attributes stored without the size check), without ``copy.deepcopy``."""
    result = cast(Item, Item.__new__(Item))
    result.hash_key = _copy_value(item.hash_key)
    result.range_key = _copy_value(item.range_key) if item.range_key is not None else None
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs, {k: _copy_value(v) for k, v in item.attrs.items()})
    result.attrs = attrs
    return result


_PLAIN = (str, int, float, bool, type(None))


def _dynamo_to_dict(obj: Any) -> Any:
    """moto's ``dynamo_to_dict`` (``DynamoResult``'s): the same result, by type; binary values, datetimes and
    objects with a ``to_json`` go to moto's."""
    kind = type(obj)
    if kind is DynamoType:
        value, type_name = obj.value, obj.type
        if type_name == "M":
            return {"M": {k: _dynamo_to_dict(v) for k, v in value.items()}}
        if type_name == "L":
            return {"L": [_dynamo_to_dict(v) for v in value]}
        if type_name in ("S", "N", "BOOL", "NULL") and type(value) in _PLAIN:
            return {type_name: value}
        if type_name in ("SS", "NS") and type(value) is list:
            return {type_name: list(value)}
    elif kind is dict or kind is LimitedSizeDict:  # an item's attributes (a dict with no to_json): as a dict
        return {k: _dynamo_to_dict(v) for k, v in obj.items()}
    elif kind is list:
        return [_dynamo_to_dict(v) for v in obj]
    elif kind in _PLAIN:
        return obj
    return _original["dynamo_to_dict"](obj)


class _MotoCopy:
    """The ``copy`` module as moto's DynamoDB modules see it (patches 8 and 9): ``deepcopy`` of an item, of a list
    of items (a query's results) or of an attribute value goes through ``_copy_item`` and ``_copy_value``; anything
    else (tables, expression trees, ``None``) to ``copy.deepcopy``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return _deepcopy(value, memo)


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy``, by ``_copy_item`` and ``_copy_value`` for items and attribute values (the same copies)."""
    kind = type(value)
    if kind is Item:
        return _copy_item(value)
    if kind is DynamoType:
        return _copy_value(value)
    if kind is list and value and all(type(item) is Item for item in value):
        return [_copy_item(item) for item in value]
    return copy.deepcopy(value, memo)


def _query_candidates(
    table: Table,
    hash_key: DynamoType | None,
    index_name: str | None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None,
) -> list[Item] | None:
    """The items of the queried partition, in the table's order; None to let moto look at every item."""
    if not index_name:
        if hash_key is None:
            return None
        entries: Entries = table.items
        entry = entries.get(hash_key)
        if entry is None:
            return []
        if not table.range_key_attr:
            return [entry]
        return [entry[range_key] for range_key in sorted(entry)]  # a partition's keys are its items' range keys
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None  # moto raises its own validation error
    attribute = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    conditions = dict(hash_key_conditions or [])
    value = conditions.get(attribute) if attribute else None
    if value is None and not conditions:
        value = hash_key  # a single-attribute partition key given the old way
    if attribute is None or value is None:
        return None
    items = _partitions_for(table, attribute).get(value)
    # moto walks the table in (hash, range) order before sorting by the index keys: keep that order
    # so that items with equal index keys come out as they would.
    items.sort(key=lambda item: (item.hash_key, item.range_key) if item.range_key else (item.hash_key,))
    return items


def _put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    item = _original["Table.put_item"](self, item_attrs, *args, **kwargs)
    _reindex(self, (item.hash_key, item.range_key), item)
    return item


def _delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    item = _original["Table.delete_item"](self, hash_key, range_key)
    if item is not None:
        _reindex(self, (item.hash_key, item.range_key), None)
    return item


def _update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    item = _original["DynamoDBBackend.update_item"](self, table_name, key, *args, **kwargs)
    table = self.get_table(table_name)
    _reindex(table, (item.hash_key, item.range_key), item)  # attributes change in place
    return item


# -- 1. transactions with an undo log -----------------------------------------------------------------


class _UndoLog:
    """What a transaction changed, so that it can be taken back."""

    def __init__(self) -> None:
        self.items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self.streams: dict[int, tuple[StreamShard, int]] = {}

    def before_write(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        for shard in stream_shards(table):
            if id(shard) not in self.streams:
                self.streams[id(shard)] = (shard, len(shard.items))
        current = _stored(table, hash_key, range_key)
        # An update changes the stored item in place: keep a copy of what it was.
        self.items.append((table, hash_key, range_key, _copy_item(current) if current is not None else None))

    def undo(self) -> None:
        for table, hash_key, range_key, previous in reversed(self.items):
            entries: Entries = table.items
            if table.range_key_attr:
                partition = entries[hash_key]
                if previous is None:
                    partition.pop(range_key, None)
                    if not partition:
                        del entries[hash_key]
                else:
                    partition[range_key] = previous
            elif previous is None:
                entries.pop(hash_key, None)
            else:
                entries[hash_key] = previous
            _reindex(table, (hash_key, range_key), previous)
        for shard, length in self.streams.values():
            del shard.items[length:]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` (moto/dynamodb/models/__init__.py), with an undo log where
    moto deep-copies the tables: same checks, same order, same errors and cancellation reasons."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _UndoLog()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            undo.undo()
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            return_on_failure = op.get("ReturnValuesOnConditionCheckFailure")
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if return_on_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                hash_key, range_key = self.get_keys_value(table, key)
                undo.before_write(table, hash_key, range_key)
            # The condition held just above, and nothing else runs meanwhile (see the module docstring):
            # the write does not evaluate it a second time, as moto's own code does.
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.undo()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 (moto reports any other error as the item's reason)
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        undo.undo()
        raise TransactionCanceledException(errors)


# -- 3. stream reads ----------------------------------------------------------------------------------

_stream_writes = threading.Condition()
_stream_generation = 0


def _stream_add(self: StreamShard, old: Item | None, new: Item | None) -> None:
    global _stream_generation
    shards = stream_shards(self.table)
    item = new if new is not None else old
    shard = shards[_partition_of(item, len(shards))] if item is not None and len(shards) > 1 else self
    _original["StreamShard.add"](shard, old, new)
    key = (_stream_arn(self.table), shard.id)
    _shard_writes[key] = _shard_writes.get(key, 0) + 1
    with _stream_writes:
        _stream_generation += 1
        _stream_writes.notify_all()


def stream_generation() -> int:
    """A number that changes whenever any table writes a stream record."""
    return _stream_generation


def wait_for_stream_write(seen: int, timeout_s: float) -> int:
    """Wait until a stream record is written after ``seen`` (a ``stream_generation()``) or the
    timeout passes; returns the current generation."""
    with _stream_writes:
        _stream_writes.wait_for(lambda: _stream_generation != seen, timeout=timeout_s)
        return _stream_generation


_issued: deque[tuple[float, str]] = deque()


def _get_shard_iterator(
    self: DynamoDBStreamsBackend,
    arn: str,
    shard_id: str,
    shard_iterator_type: str,
    sequence_number: int | None = None,
) -> ShardIterator:
    """moto's ``get_shard_iterator`` for any shard of the stream (moto asserts its one shard's id)."""
    table = self._get_table_from_arn(arn)
    shard = next((s for s in stream_shards(table) if s.id == shard_id), None)
    if shard is None:
        raise JsonRESTError(
            "ResourceNotFoundException", f"Requested resource not found: Shard: {shard_id} in Stream: {arn}"
        )
    iterator = ShardIterator(self, shard, shard_iterator_type, sequence_number)
    self.shard_iterators[iterator.arn] = iterator
    _track(self, iterator.arn)
    return iterator


def _describe_stream(self: DynamoDBStreamsBackend, arn: str) -> dict[str, Any]:
    stream: dict[str, Any] = _original["DynamoDBStreamsBackend.describe_stream"](self, arn)
    stream["Shards"] = [shard.to_json() for shard in stream_shards(self._get_table_from_arn(arn))]
    return stream


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    if iterator_arn not in self.shard_iterators:  # moto raises KeyError (a 500) for an unknown iterator
        raise JsonRESTError(
            "ExpiredIteratorException", "Iterator expired. The iterator was created more than 15 minutes ago."
        )
    result = _original["DynamoDBStreamsBackend.get_records"](self, iterator_arn, limit)
    _track(self, result["NextShardIterator"])
    return result


class ExpiredIterator(Exception):
    """``read_shard``'s iterator expired (or was never issued): ``GetRecords``' ``ExpiredIteratorException``."""


def read_shard(stream_arn: str, iterator: str, limit: int) -> tuple[list[tuple[dict[str, Any], float]], str | None]:
    """``GetRecords`` for a stream reader in the emulator's process: moto's answer, under the lock, without an HTTP
    request, moto's response serialiser and botocore's parser around it (most of a large answer's time).

    Returns each record as the JSON a consumer gets (new dictionaries: timestamps as epoch seconds, binary as
    base64, as botocore's answer through ``json_ready``) with its creation time (epoch seconds, not rounded), and
    the next iterator (None: the shard is closed)."""
    _, _, _, region, account, _ = stream_arn.split(":", 5)
    backend = dynamodbstreams_backends[account][region]
    started = time.perf_counter()
    with LOCK:
        try:
            result = backend.get_records(iterator, limit)
        except JsonRESTError as error:
            if error.error_type == "ExpiredIteratorException":
                raise ExpiredIterator(iterator) from None
            raise
    raw = result["Records"]
    created = [_epoch_s(record["dynamodb"]["ApproximateCreationDateTime"]) for record in raw]
    records = json.loads(json.dumps(raw, default=_json_default))
    TIMINGS.add("moto dynamodb.GetRecords (in process)", time.perf_counter() - started)
    return list(zip(records, created, strict=True)), result.get("NextShardIterator")


def _epoch_s(value: Any) -> float:
    if isinstance(value, datetime.datetime):  # moto's utcnow(): naive, in UTC
        return (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).timestamp()
    return float(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return int(_epoch_s(value))
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} in a stream record")


def _track(backend: DynamoDBStreamsBackend, arn: str) -> None:
    now = time.monotonic()
    _issued.append((now, arn))
    while _issued and now - _issued[0][0] > SHARD_ITERATOR_LIFETIME_S:
        backend.shard_iterators.pop(_issued.popleft()[1], None)


# -- 13. a stream shard per table partition --------------------------------------------------------------

# A partition serves 1,000 write and 3,000 read units a second; a new on-demand table serves up to 4,000 write
# request units at once (twice its initial previous peak of 2,000): four partitions.
ON_DEMAND_PARTITIONS = 4
PARTITION_WRITE_UNITS = 1000
PARTITION_READ_UNITS = 3000
SHARD_SEQUENCE_SPACING = 10**18  # the sequence numbers of shard i start at moto's + i x this: unique in a stream

_partitioned_streams = False
_shards: weakref.WeakKeyDictionary[StreamShard, list[StreamShard]] = weakref.WeakKeyDictionary()
_shard_writes: dict[tuple[str, str], int] = {}


def set_partitioned_streams(on: bool) -> bool:
    """Give each stream one shard per partition of its table (``partitions``), as DynamoDB does, from the
    next stream enabled or first used; off: moto's one shard. Returns the previous setting."""
    global _partitioned_streams
    before, _partitioned_streams = _partitioned_streams, on
    return before


def partitions(table: Table) -> int:
    """The partitions of a new table: four on demand, else one per 1,000 write or 3,000 read units."""
    if table.billing_mode == "PAY_PER_REQUEST":
        return ON_DEMAND_PARTITIONS
    throughput = table.throughput or {}
    units = (
        throughput.get("WriteCapacityUnits", 0) / PARTITION_WRITE_UNITS
        + throughput.get("ReadCapacityUnits", 0) / PARTITION_READ_UNITS
    )
    return max(1, math.ceil(units))


def stream_shards(table: Table) -> list[StreamShard]:
    """The open shards of a table's stream: moto's own shard first, then the others (same table, ids and
    sequence numbers of their own), decided once per stream."""
    primary = table.stream_shard
    if primary is None:
        return []
    shards = _shards.get(primary)
    if shards is None:
        shards = [primary]
        for n in range(1, partitions(table) if _partitioned_streams else 1):
            shard = StreamShard(table.account_id, table)
            shard.id = f"{primary.id[:-2]}{n:02x}"
            shard.starting_sequence_number = primary.starting_sequence_number + n * SHARD_SEQUENCE_SPACING
            shard.created_on = primary.created_on
            shards.append(shard)
        _shards[primary] = shards
    return shards


def _partition_of(item: Item, count: int) -> int:
    """The shard of an item: its partition key's hash, so that the records of one key stay in one shard, in order.
    Bytes 8-16 of the sha256: a parallelization factor's lanes (``_streams.lane_of``) take bytes 0-8 of the same
    hash of the same key, and a shard and a lane drawn from the same bytes would put all of a shard's keys in a
    few of its lanes (with 4 shards and a factor of 4, in one)."""
    key = item.hash_key.to_json() if item.hash_key is not None else {}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).digest()
    return int.from_bytes(digest[8:16], "big") % count


def _stream_arn(table: Table) -> str:
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def shard_writes(stream_arn: str, shard_id: str) -> int:
    """How many records the shard has been given so far (a stream reader skips a shard with none new)."""
    return _shard_writes.get((stream_arn, shard_id), 0)


# -- 4. attribute maps in responses --------------------------------------------------------------------

_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _wire_ready(value: Any) -> bool:
    """True if ``value`` is an attribute value whose JSON is itself (no binary, no model objects)."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return type(inner) is scalar
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(x) is str for x in inner)
    if kind == "L":
        return type(inner) is list and all(_wire_ready(x) for x in inner)
    if kind == "M":
        return type(inner) is dict and all(_wire_ready(x) for x in inner.values())
    return False


def _serialize_type_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if (
        getattr(shape.value, "name", None) == "AttributeValue"
        and type(value) is dict
        and all(_wire_ready(v) for v in value.values())
    ):
        self._default_serialize(serialized, value, shape, key)
        return
    _original["BaseJSONSerializer._serialize_type_map"](self, serialized, value, shape, key)


# -- 5. items built in one pass -------------------------------------------------------------------------


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    stored = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(stored)
    for key, value in attrs.items():
        dict.__setitem__(stored, key, DynamoType(value))
    if sum(bytesize(key) + value.size() for key, value in stored.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = stored


# -- 6. action lookup ----------------------------------------------------------------------------------


@functools.cache
def _method_names_from_class(clazz: type) -> list[str]:
    return _original["method_names_from_class"](clazz)


# -- 7. one DynamoDB call at a time, for its work only ---------------------------------------------------

_NOT_ACTIONS = {"__init__", "get_endpoint_name", "call_action", "setup_class", "dispatch", "parse_parameters"}


def _locked(action: Any) -> Any:
    @functools.wraps(action)
    def locked(*args: Any, **kwargs: Any) -> Any:
        waited = time.perf_counter()
        with LOCK:
            TIMINGS.add("moto DynamoDB lock wait", time.perf_counter() - waited)
            return action(*args, **kwargs)

    return locked


def _lock_actions() -> None:
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        for name, member in list(vars(handler).items()):
            if inspect.isfunction(member) and name not in _NOT_ACTIONS:
                _original[f"{handler.__name__}.{name}"] = member
                setattr(handler, name, _locked(member))


# -- 10. attribute values to plain data ------------------------------------------------------------------

_ATOMS = (str, int, float, bool, type(None), bytes)  # what copy.deepcopy returns as they are


def _to_regular_json(self: DynamoType) -> dict[str, Any]:
    """moto's ``DynamoType.to_regular_json``, without deep-copying each nested value before converting it (and so
    copying a value at depth d d times): nested attribute values are converted, anything else deep-copied."""
    value = self.value
    if isinstance(value, dict):
        value = {k: v.to_regular_json() if isinstance(v, DynamoType) else _plain_copy(v) for k, v in value.items()}
    elif isinstance(value, list):
        value = [v.to_regular_json() if isinstance(v, DynamoType) else _plain_copy(v) for v in value]
    else:
        value = _plain_copy(value)
    if self.is_binary() and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


def _plain_copy(value: Any) -> Any:
    """``copy.deepcopy(value)``: strings, numbers, booleans, None and bytes are their own copies."""
    return value if type(value) in _ATOMS else copy.deepcopy(value)


# -- 11. attribute sizes ------------------------------------------------------------------------------


def _size(self: DynamoType) -> int:
    """moto's ``DynamoType.size``, without building a new ``DynamoType`` (and so copying the whole nested value) for
    each value of a map and each member of a set: the same sizes, case by case in moto's order."""
    kind, value = self.type, self.value
    if kind == "N":
        return len(str(value))
    if kind in ("SS", "NS", "BS"):
        if kind == "NS":
            return sum(len(str(v)) for v in value)
        return sum(1 if isinstance(v, bool) else bytesize(v) for v in value)
    if kind == "L":
        return sum(v.size() for v in value)
    if kind == "M":
        return sum(bytesize(k) + (v if type(v) is DynamoType else DynamoType(v)).size() for k, v in value.items())
    if isinstance(value, bool):
        return 1
    return bytesize(value)


# -- 12. update expressions parsed once ------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _parsed_update_expression(expression: str) -> Any:
    return _original["UpdateExpressionParser.make"].__func__(UpdateExpressionParser, expression)


def _make_update_expression(cls: type, expression_str: str) -> Any:
    """moto's ``UpdateExpressionParser.make``, kept per expression string (an error is raised again each time)."""
    if cls is UpdateExpressionParser:
        return _parsed_update_expression(expression_str)
    return _original["UpdateExpressionParser.make"].__func__(cls, expression_str)


def _processing(self: DepthFirstTraverser) -> dict[type, Any]:
    processing = self.__dict__.get("_emulator_processing")
    if processing is None:
        processing = self.__dict__["_emulator_processing"] = self._processing_map()
    return processing


def _nodes_to_be_processed(self: DepthFirstTraverser) -> tuple[type, ...]:
    """moto's: the node types of ``_processing_map``, which moto builds again for each node it visits."""
    types = self.__dict__.get("_emulator_types")
    if types is None:
        types = self.__dict__["_emulator_types"] = tuple(_processing(self))
    return types


_NO_PROCESSOR = object()


def _processor(self: DepthFirstTraverser, kind: type) -> Any:
    """The first processor of ``_processing_map`` whose node type ``kind`` is a subclass of; ``_NO_PROCESSOR`` if none
    (moto's ``isinstance`` checks, kept per node class: moto registers no virtual subclasses of its node types)."""
    processors: dict[type, Any] | None = self.__dict__.get("_emulator_processors")
    if processors is None:
        processors = self.__dict__["_emulator_processors"] = {}
    processor = processors.get(kind)
    if processor is None:
        processor = processors[kind] = next(
            (p for class_key, p in _processing(self).items() if issubclass(kind, class_key)), _NO_PROCESSOR
        )
    return processor


def _process(self: DepthFirstTraverser, node: Any) -> Any:
    processor = _processor(self, type(node))
    return None if processor is _NO_PROCESSOR else processor(node)


_node_classes: dict[type, bool] = {}


def _is_node(kind: type) -> bool:
    known = _node_classes.get(kind)
    if known is None:
        known = _node_classes[kind] = issubclass(kind, Node)
    return known


def _traverse_node_recursively(self: DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
    """moto's ``DepthFirstTraverser.traverse_node_recursively``, with its type checks kept per node class."""
    if _is_node(type(node)):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        if _processor(self, type(node)) is not _NO_PROCESSOR:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


# -- 14. an update expression's checks once, and its tree copied by a walker ---------------------------

# moto's UpdateExpressionValidator walks its tree with these three first: checks of the expression alone (its
# clauses, overlapping paths, no key attribute set), which return the tree unchanged or raise.
_EXPRESSION_CHECKS = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
_checked_expressions: dict[tuple[Any, ...], bool] = {}
_CHECKED_LIMIT = 4096


class _NotATree(Exception):
    """A value ``_copy_tree`` leaves to ``copy.deepcopy``."""


def _copy_tree(root: Any) -> Any:
    """``copy.deepcopy`` of an expression tree (nodes with ``type``, ``children`` and ``parent``; strings, numbers and
    attribute values as leaves), by one walk instead of ``deepcopy``'s dispatch and memo per object; anything else
    goes to ``copy.deepcopy``. The same copy: new nodes and lists, parents pointing into the copy, scalars shared."""
    pairs: list[tuple[Any, Any]] = []
    copies: dict[int, Any] = {}

    def walk(value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is DynamoType:
            return _copy_value(value)
        if not _is_node(kind):
            raise _NotATree
        attributes = value.__dict__
        children = attributes.get("children")
        if attributes.keys() - {"type", "children", "parent"} or (children is not None and type(children) is not list):
            raise _NotATree
        node = object.__new__(kind)
        copies[id(value)] = node
        pairs.append((value, node))
        node.__dict__.update(attributes)
        if children is not None:
            node.children = [walk(child) for child in children]
        return node

    try:
        copied = walk(root)
        for original, node in pairs:
            parent = original.__dict__.get("parent")
            if parent is not None:
                node.parent = copies[id(parent)]  # KeyError: a parent outside the tree
    except (_NotATree, KeyError):
        return copy.deepcopy(root)
    return copied


def _validator_init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
    _original["Validator.__init__"](self, expression, *args, **kwargs)
    self._emulator_expression = expression  # the parsed tree it copied: what ``_validate`` keeps its checks per


def _validators_deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``deepcopy`` as moto's validators module sees it: an expression tree (the validator's copy of the one it is
    given) by ``_copy_tree``, the rest by ``_deepcopy`` (patch 9)."""
    if memo is None and _is_node(type(value)):
        return _copy_tree(value)
    return _deepcopy(value, memo)


def _validate(self: Any) -> Any:
    """moto's ``Validator.validate``, without the three checks of an update expression that already passed them with
    the same attribute names on a table with the same key attributes (their answer depends on nothing else)."""
    processors = self.processors
    expression = self.__dict__.get("_emulator_expression")
    if expression is None or tuple(type(p) for p in processors[: len(_EXPRESSION_CHECKS)]) != _EXPRESSION_CHECKS:
        return _original["Validator.validate"](self)
    key = (
        expression,
        tuple(sorted((self.expression_attribute_names or {}).items())),
        tuple(self.table.table_key_attrs),
    )
    node = self.node_to_validate
    checks = len(_EXPRESSION_CHECKS)
    if key not in _checked_expressions:
        for processor in processors[:checks]:
            node = processor.traverse(node)
        if len(_checked_expressions) >= _CHECKED_LIMIT:
            _checked_expressions.clear()
        _checked_expressions[key] = True
    for processor in processors[checks:]:
        node = processor.traverse(node)
    return node


# -- 15. the response serialiser's member look-ups kept ---------------------------------------------------

_possible_keys: dict[tuple[Any, ...], tuple[str, ...]] = {}


def _get_possible_keys(self: XFormedAttributePicker, context: Any) -> Iterator[str]:
    """moto's ``XFormedAttributePicker.get_possible_keys``: the keys under which the serialiser looks for a member
    of a structure in an answer. moto makes six alias providers for every member of every structure of every answer;
    for an answer that is a ``dict`` (no ``Meta``, class name ``dict``) what they give depends only on the member's
    name, its shape and the structure holding it: kept per those, the same keys in the same order."""
    if type(context.obj) is not dict:
        return cast(Iterator[str], _original["XFormedAttributePicker.get_possible_keys"](self, context))
    shape = context.shape
    key = (type(self), tuple(self.alias_providers), context.key, shape, getattr(shape, "parent", None))
    keys = _possible_keys.get(key)
    if keys is None:
        keys = _possible_keys[key] = tuple(_original["XFormedAttributePicker.get_possible_keys"](self, context))
    return iter(keys)


# -- 16. condition expressions parsed once --------------------------------------------------------------

_conditions: dict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = {}
_CONDITIONS_LIMIT = 4096


def _parse_condition(self: ConditionExpressionParser) -> Any:
    """moto's ``ConditionExpressionParser.parse``, kept per expression, attribute names and values: moto parses a
    request's condition (or filter) twice, to check the request and to decide, every time, and its operators only
    read the item they are given. A kept parse returns the same operators and notes the same names and values found
    (what the request check reads). An expression that fails to parse is not kept (it fails every time), nor one
    whose values are not plain JSON (binary)."""
    parse = _original["ConditionExpressionParser.parse"]
    expression = self.condition_expression
    if not expression:
        return parse(self)
    try:
        key = (
            expression,
            json.dumps(self.expression_attribute_names or {}, sort_keys=True),  # the request check has {}, the
            json.dumps(self.expression_attribute_values or {}, sort_keys=True),  # action None: no names either way
        )
    except TypeError:
        return parse(self)
    kept = _conditions.get(key)
    if kept is None:
        names_before, values_before = len(self.expr_attr_names_found), len(self.expr_attr_values_found)
        operators = parse(self)
        kept = (operators, self.expr_attr_names_found[names_before:], self.expr_attr_values_found[values_before:])
        if len(_conditions) >= _CONDITIONS_LIMIT:
            _conditions.clear()
        _conditions[key] = kept
        return operators
    operators, names, values = kept
    self.expr_attr_names_found.extend(names)
    self.expr_attr_values_found.extend(values)
    return operators


# -- 17. one size per item and query ------------------------------------------------------------------

_sizes: ContextVar[dict[int, int] | None] = ContextVar("moto_query_sizes", default=None)


def _item_size(self: Item) -> int:
    """moto's ``Item.size``; within a query call (patch 17), once per item."""
    sizes = _sizes.get()
    if sizes is None:
        return int(_original["Item.size"](self))
    size = sizes.get(id(self))  # the query's candidates stay referenced (and so their ids theirs) until it returns
    if size is None:
        size = sizes[id(self)] = int(_original["Item.size"](self))
    return size


# -- 18. item requests read as JSON ------------------------------------------------------------------------

_ITEM_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_CONVERTED = re.compile(rb'"BS?"\s*:|\bnull\b')  # a binary value, or a null member: the walk's way


def _parse_parameters(self: Any, request: Any) -> None:
    """moto's request parsing (patch 18): ``json.loads`` where the shape walk would give the same."""
    body = request.data
    if self._get_action() in _ITEM_ACTIONS and body and not _CONVERTED.search(body):
        try:
            params = json.loads(body)
        except ValueError:
            params = None
        if type(params) is dict:
            self.params = params
            return
    _original["DynamoHandler.parse_parameters"](self, request)


# -- install ------------------------------------------------------------------------------------------


def install() -> None:
    """Apply the patches to moto's classes (idempotent; for the whole process)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    targets = {
        "Table.all_items": (Table, "all_items", _all_items),
        "Table.query": (Table, "query", _query),
        "Table.put_item": (Table, "put_item", _put_item),
        "Table.delete_item": (Table, "delete_item", _delete_item),
        "DynamoDBBackend.update_item": (DynamoDBBackend, "update_item", _update_item),
        "DynamoDBBackend.transact_write_items": (DynamoDBBackend, "transact_write_items", _transact_write_items),
        "StreamShard.add": (StreamShard, "add", _stream_add),
        "DynamoDBStreamsBackend.get_shard_iterator": (
            DynamoDBStreamsBackend,
            "get_shard_iterator",
            _get_shard_iterator,
        ),
        "DynamoDBStreamsBackend.get_records": (DynamoDBStreamsBackend, "get_records", _get_records),
        "DynamoDBStreamsBackend.describe_stream": (DynamoDBStreamsBackend, "describe_stream", _describe_stream),
        "BaseJSONSerializer._serialize_type_map": (BaseJSONSerializer, "_serialize_type_map", _serialize_type_map),
        "Item.__init__": (Item, "__init__", _item_init),
        "DynamoType.to_regular_json": (DynamoType, "to_regular_json", _to_regular_json),
        "DynamoType.size": (DynamoType, "size", _size),
        "Item.size": (Item, "size", _item_size),
        "DynamoHandler.parse_parameters": (DynamoHandler, "parse_parameters", _parse_parameters),
        "UpdateExpressionParser.make": (UpdateExpressionParser, "make", classmethod(_make_update_expression)),
        "DepthFirstTraverser.nodes_to_be_processed": (
            DepthFirstTraverser,
            "nodes_to_be_processed",
            _nodes_to_be_processed,
        ),
        "DepthFirstTraverser.process": (DepthFirstTraverser, "process", _process),
        "DepthFirstTraverser.traverse_node_recursively": (
            DepthFirstTraverser,
            "traverse_node_recursively",
            _traverse_node_recursively,
        ),
        "method_names_from_class": (moto_responses, "method_names_from_class", _method_names_from_class),
        "Validator.__init__": (Validator, "__init__", _validator_init),
        "Validator.validate": (Validator, "validate", _validate),
        "ConditionExpressionParser.parse": (ConditionExpressionParser, "parse", _parse_condition),
        "XFormedAttributePicker.get_possible_keys": (
            XFormedAttributePicker,
            "get_possible_keys",
            _get_possible_keys,
        ),
    }
    for name, (owner, attribute, replacement) in targets.items():
        _original[name] = getattr(owner, attribute)
        setattr(owner, attribute, replacement)
    from moto.dynamodb import models as models_module
    from moto.dynamodb import responses as dynamodb_responses
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.parsing import validators as validators_module

    for module in (table_module, models_module, dynamodb_responses):  # patches 8 and 9
        _original[f"{module.__name__}.copy"] = module.copy
        setattr(module, "copy", _MotoCopy())  # noqa: B010 (mypy sees the modules as one union)
    _original["validators.deepcopy"] = validators_module.deepcopy
    validators_module.deepcopy = _validators_deepcopy  # type: ignore[assignment]  # patches 9 and 14

    _original["dynamo_to_dict"] = dynamodb_responses.dynamo_to_dict
    dynamodb_responses.dynamo_to_dict = _dynamo_to_dict
    _lock_actions()
    _installed = True
