"""A user's recent transactions with aggregates kept up to date on every add and eviction.

``UserHistory`` holds the transactions of one user inside a time window (``window_ms`` before "now") and at most
``max_items`` of them, like the DynamoDB query of detect-fraud (newest first, ``Limit=max_items``). Every aggregate
the features read (amount statistics overall and per category, hour-of-day counts, known countries and devices,
the last located transaction) is updated when an item enters or leaves, and so are the sliding windows the
features ask for with ``window``. Reading them costs O(1) however long the history is.

Order: transactions are ordered by ``(timestamp, arrival, transaction_id)`` (``order_key``), where arrival is the
time the pipeline received the transaction (``received_at``) in the live path and the position in the file in a
backtest. A transaction's history holds the user's transactions strictly before it in that order, so
transactions with the same millisecond timestamp see each other in arrival order, in both paths.

Exact sums: amounts are summed in integer cents and log amounts as integers (``log_q``: the log amount scaled by
``LOG_SCALE`` and rounded), so the aggregates do not depend on the order of adds and evictions. The live path
builds a history fresh from a query (``history_from_items``), a backtest adds and evicts incrementally
(``InMemoryHistoryStore``): both give the same aggregates to the last bit, so both score the same.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraud.config import EngineConfig

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
LOG_SCALE = 1 << 32
"""Log amounts are summed as integers in units of 1/LOG_SCALE (resolution 2.3e-10, far below any threshold)."""


HISTORY_FIELDS = (
    "transaction_id",
    "user_id",
    "timestamp",
    "received_at",
    "amount",
    "merchant_category",
    "local_hour",
    "utc_offset_minutes",
    "country",
    "device_id",
    "merchant_id",
    "location",
)
"""The fields of a transaction that ``Item`` reads: all a history needs of it (the recent-activity entries keep
these, ``fraud.storage``)."""


class Item:
    """The fields of a transaction the engine uses (``HISTORY_FIELDS``), converted once (Decimal/str/int -> float/int).

    ``hour`` is the cardholder's local hour of day: ``local_hour`` when the transaction carries one (the backtest
    sets it from the data's wall clock), otherwise the hour of ``timestamp`` shifted by ``utc_offset_minutes`` when
    present, otherwise the UTC hour. ``arrival`` is ``received_at`` when the transaction carries it (stored items),
    otherwise None (a backtest orders by file position instead).
    """

    __slots__ = (
        "transaction_id",
        "user_id",
        "ts",
        "arrival",
        "amount",
        "cents",
        "log_amount",
        "log_q",
        "category",
        "hour",
        "country",
        "device",
        "merchant",
        "lat",
        "lon",
    )
    lat: float | None
    lon: float | None

    def __init__(self, txn: dict) -> None:
        get = txn.get
        self.transaction_id = get("transaction_id")
        self.user_id = get("user_id")
        self.ts = ts = int(txn["timestamp"])
        arrival = get("received_at")
        self.arrival = None if arrival is None else int(arrival)
        self.amount = amount = float(txn["amount"])
        self.cents = round(amount * 100)
        self.log_amount = log_amount = _log(amount) if amount > 0 else 0.0
        self.log_q = round(log_amount * LOG_SCALE)
        self.category = get("merchant_category")
        local_hour = get("local_hour")
        if local_hour is not None:
            self.hour = int(local_hour) % 24
        else:
            offset = get("utc_offset_minutes")
            self.hour = (ts // HOUR_MS) % 24 if offset is None else ((ts + int(offset) * MINUTE_MS) // HOUR_MS) % 24
        self.country = get("country")
        self.device = get("device_id")
        self.merchant = get("merchant_id")
        location = get("location")
        if location:
            self.lat = float(location["lat"])
            self.lon = float(location["lon"])
        else:
            self.lat = self.lon = None

    def order_key(self) -> tuple[int, int, str]:
        """``(timestamp, arrival, transaction_id)``: the order histories follow (arrival 0 when unknown)."""
        return (self.ts, self.arrival or 0, str(self.transaction_id))


_log = math.log


def as_item(txn: dict | Item) -> Item:
    return txn if isinstance(txn, Item) else Item(txn)


class Window:
    """Count and total of the items of the last ``span_ms`` of a history, kept up to date as the history adds,
    advances and evicts; optionally only the items with amount <= ``max_amount`` and/or whose ``hour`` is in
    ``hours``.

    A window of all items is the newest ``count`` items of the history, so it needs no copy of them; a filtered
    window keeps its own items (few: small amounts or night hours are rare), in order, and ``items`` lets a
    feature walk them.
    """

    __slots__ = ("span_ms", "max_amount", "hours", "items", "count", "cents")

    def __init__(self, span_ms: int, max_amount: float | None, hours: frozenset[int] | None = None) -> None:
        self.span_ms = span_ms
        self.max_amount = max_amount
        self.hours = hours
        self.items: deque[Item] = deque()  # filtered windows only
        self.count = 0
        self.cents = 0  # integer cents: sums stay exact however many adds and evictions

    @property
    def total(self) -> float:
        return self.cents / 100

    @property
    def filtered(self) -> bool:
        return self.max_amount is not None or self.hours is not None

    def keeps(self, item: Item) -> bool:
        """Whether ``item`` belongs to this window by its filters (time aside)."""
        return (self.max_amount is None or item.amount <= self.max_amount) and (
            self.hours is None or item.hour in self.hours
        )


class UserHistory:
    """A user's recent transactions (bounded by window_ms and max_items) with incremental aggregates.

    Attributes are read-only for callers: ``amount_cents`` (sum of amounts in cents), ``log_sum`` and
    ``log_sq_sum`` (sums of ``log_q`` and of its square: exact integers), ``categories`` (category -> [count,
    sum of log_q, sum of squared log_q]), ``hour_counts`` (24 counts), ``countries`` / ``devices`` (value ->
    count), ``country_count`` / ``device_count`` (items that carry one), ``last_located`` (newest item with a
    location) and ``now_ms`` (the time the window ends at).
    """

    __slots__ = (
        "window_ms",
        "max_items",
        "now_ms",
        "items",
        "amount_cents",
        "log_sum",
        "log_sq_sum",
        "categories",
        "hour_counts",
        "countries",
        "devices",
        "country_count",
        "device_count",
        "last_located",
        "_windows",
        "_counted",
        "_filtered",
    )

    def __init__(self, window_ms: int, max_items: int) -> None:
        if window_ms <= 0 or max_items <= 0:
            raise ValueError("window_ms and max_items must be positive")
        self.window_ms = window_ms
        self.max_items = max_items
        self.now_ms = -(2**63)
        self.items: deque[Item] = deque()
        self.amount_cents = 0
        self.log_sum = 0
        self.log_sq_sum = 0
        self.categories: dict[str | None, list[int]] = {}
        self.hour_counts = [0] * 24
        self.countries: dict[str, int] = {}
        self.devices: dict[str, int] = {}
        self.country_count = 0
        self.device_count = 0
        self.last_located: Item | None = None
        # (span_ms, max_amount, hours) -> Window; the same windows split by kind for the updates
        self._windows: dict[tuple[int, float | None, frozenset[int] | None], Window] = {}
        self._counted: list[Window] = []  # unfiltered: the newest `count` items
        self._filtered: list[Window] = []  # with their own items

    # -- reading ---------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.items)

    def window(self, span_ms: int, max_amount: float | None = None, hours: frozenset[int] | None = None) -> Window:
        """The sliding window of the last ``span_ms`` before ``now_ms`` (only items with amount <= ``max_amount``
        and/or an hour in ``hours``, if given). Built from the stored items on first use, then maintained on every
        add, advance and eviction: reading it costs nothing however dense the history is."""
        key = (span_ms, max_amount, hours)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window(span_ms, max_amount, hours)
            filtered = window.filtered
            cutoff = self.now_ms - span_ms
            for item in self.items:
                if item.ts >= cutoff and window.keeps(item):
                    window.count += 1
                    window.cents += item.cents
                    if filtered:
                        window.items.append(item)
            (self._filtered if filtered else self._counted).append(window)
        return window

    # -- changing --------------------------------------------------------------------------------

    def add(self, txn: dict | Item) -> None:
        """Add a transaction after the ones already held (dict with at least ``timestamp`` and ``amount``)."""
        item = txn if isinstance(txn, Item) else Item(txn)
        items = self.items
        if item.ts < self.now_ms - self.window_ms:
            return  # already outside the window
        if items and item.ts < items[-1].ts:
            self._rebuild([*items, item])
            return
        self._enter(item)
        if len(items) > self.max_items:
            leave = self._leave
            while len(items) > self.max_items:
                leave(items.popleft())

    def advance(self, now_ms: int) -> None:
        """Move the end of the window to ``now_ms``; evict items older than ``now_ms - window_ms``."""
        if now_ms <= self.now_ms:
            return
        self.now_ms = now_ms
        items = self.items
        if not items:
            return  # every window is empty too
        cutoff = now_ms - self.window_ms
        if items[0].ts < cutoff:
            leave = self._leave
            while items and items[0].ts < cutoff:
                leave(items.popleft())
        for window in self._counted:  # the newest `count` items of the history
            count = window.count
            if count:
                cutoff = now_ms - window.span_ms
                if items[-count].ts < cutoff:
                    cents = window.cents
                    while count and items[-count].ts < cutoff:
                        cents -= items[-count].cents
                        count -= 1
                    window.count, window.cents = count, cents
        for window in self._filtered:
            own = window.items
            if own:
                cutoff = now_ms - window.span_ms
                while own and own[0].ts < cutoff:
                    window.cents -= own.popleft().cents
                    window.count -= 1

    def _enter(self, item: Item) -> None:
        self.items.append(item)
        cents = item.cents
        self.amount_cents += cents
        log_q = item.log_q
        log_sq = log_q * log_q
        self.log_sum += log_q
        self.log_sq_sum += log_sq
        stats = self.categories.get(item.category)
        if stats is None:
            self.categories[item.category] = [1, log_q, log_sq]
        else:
            stats[0] += 1
            stats[1] += log_q
            stats[2] += log_sq
        self.hour_counts[item.hour] += 1
        key = item.country
        if key is not None:
            counts = self.countries
            counts[key] = counts.get(key, 0) + 1
            self.country_count += 1
        key = item.device
        if key is not None:
            counts = self.devices
            counts[key] = counts.get(key, 0) + 1
            self.device_count += 1
        if item.lat is not None:
            self.last_located = item
        if item.ts >= self.now_ms:  # the usual case: at (or after) the end of every window
            for window in self._counted:
                window.count += 1
                window.cents += cents
            for window in self._filtered:
                if (window.max_amount is None or item.amount <= window.max_amount) and (
                    window.hours is None or item.hour in window.hours
                ):
                    window.items.append(item)
                    window.count += 1
                    window.cents += cents
        else:  # entered behind the windows' end: only the windows whose span reaches back to it
            for window in self._counted:
                if item.ts >= self.now_ms - window.span_ms:
                    window.count += 1
                    window.cents += cents
            for window in self._filtered:
                if window.keeps(item) and item.ts >= self.now_ms - window.span_ms:
                    window.items.append(item)
                    window.count += 1
                    window.cents += cents

    def _leave(self, item: Item) -> None:
        cents = item.cents
        self.amount_cents -= cents
        log_q = item.log_q
        log_sq = log_q * log_q
        self.log_sum -= log_q
        self.log_sq_sum -= log_sq
        stats = self.categories[item.category]
        if stats[0] == 1:
            del self.categories[item.category]
        else:
            stats[0] -= 1
            stats[1] -= log_q
            stats[2] -= log_sq
        self.hour_counts[item.hour] -= 1
        key = item.country
        if key is not None:
            counts = self.countries
            if counts[key] == 1:
                del counts[key]
            else:
                counts[key] -= 1
            self.country_count -= 1
        key = item.device
        if key is not None:
            counts = self.devices
            if counts[key] == 1:
                del counts[key]
            else:
                counts[key] -= 1
            self.device_count -= 1
        if item is self.last_located:
            self.last_located = None  # it was the newest located item, so no older one remains
        if self._counted:
            remaining = len(self.items)
            for window in self._counted:  # the history's oldest left: was it in the window?
                if window.count > remaining:
                    window.count -= 1
                    window.cents -= cents
        for window in self._filtered:
            own = window.items
            if own and own[0] is item:
                own.popleft()
                window.count -= 1
                window.cents -= cents

    def _rebuild(self, items: list[Item]) -> None:
        """Re-add everything in time order (only when an item arrives out of order)."""
        now_ms = self.now_ms
        self.__init__(self.window_ms, self.max_items)  # type: ignore[misc]
        for item in sorted(items, key=lambda i: i.ts):
            self._enter(item)
        while len(self.items) > self.max_items:
            self._leave(self.items.popleft())
        self.advance(now_ms)  # windows are rebuilt from the items on their next use


def history_from_items(
    items: Iterable[dict | Item], window_ms: int, max_items: int, now_ms: int, *, before: Item | None = None
) -> UserHistory:
    """Build a user's history at ``now_ms`` from stored items (any order, e.g. a newest-first query).

    Keeps the items with ``now_ms - window_ms <= timestamp <= now_ms`` that come before ``before`` (the
    transaction being scored) in ``(timestamp, arrival, transaction_id)`` order, once each (by transaction id,
    so a query page and a local cache may overlap), and the newest ``max_items`` of them.
    """
    cutoff = now_ms - window_ms
    limit = before.order_key() if before is not None else None
    seen: dict[Any, Item] = {}
    for raw in items:
        item = raw if isinstance(raw, Item) else Item(raw)
        if cutoff <= item.ts <= now_ms and (limit is None or item.order_key() < limit):
            seen[item.transaction_id] = item
    converted = sorted(seen.values(), key=Item.order_key)
    history = UserHistory(window_ms, max_items)
    for item in converted[-max_items:]:
        history._enter(item)
    history.advance(now_ms)
    return history


class InMemoryHistoryStore:
    """Per-user histories in memory, for backtests and training: score with ``history_for``, then ``record``.

    Transactions must be replayed in order (a history only moves forward; ties in timestamp in arrival order,
    e.g. file order). Every method also takes an ``Item``: a replay that converts each transaction once
    (``Item(txn)``) and passes the item to ``history_for``, the engine and ``record`` saves a conversion per call.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.window_ms = config.history_window_ms
        self.max_items = config.history_max_items
        self._users: dict[Any, UserHistory] = {}

    def _history(self, user_id: Any) -> UserHistory:
        history = self._users.get(user_id)
        if history is None:
            history = self._users[user_id] = UserHistory(self.window_ms, self.max_items)
        return history

    def history_for(self, txn: dict | Item) -> UserHistory:
        """The user's history just before ``txn`` (its window ends at the transaction's timestamp)."""
        if isinstance(txn, Item):
            user_id, ts = txn.user_id, txn.ts
        else:
            user_id, ts = txn["user_id"], int(txn["timestamp"])
        history = self._users.get(user_id) or self._history(user_id)
        history.advance(ts)
        return history

    def record(self, txn: dict | Item) -> None:
        """Add ``txn`` to its user's history after it was scored."""
        user_id = txn.user_id if isinstance(txn, Item) else txn["user_id"]
        (self._users.get(user_id) or self._history(user_id)).add(txn)

    def __len__(self) -> int:
        return len(self._users)
