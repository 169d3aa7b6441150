"""A user's recent transactions with aggregates kept up to date on every add and eviction.

``UserHistory`` holds the transactions of one user inside a time window (``window_ms`` before "now")
and at most ``max_items`` of them, like the DynamoDB query of detect-fraud (newest first,
``Limit=max_items``). Every aggregate the rules read (amount statistics overall and per category,
hour-of-day counts, known countries/devices, the last located transaction) is updated when
an item enters or leaves, and so are the sliding windows (velocity, card testing, and the spree's
window of transactions at risky hours) the rules ask for with ``window``. Rules read them in O(1) (only
``rules.spree`` walks its window's few items), so scoring costs about the same for a user with 3 or 500
transactions.

The same class serves the live path (``history_from_items`` over the query result) and backtests
(``InMemoryHistoryStore``): both give the same aggregates for the same items.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fraud.config import EngineConfig

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


class Item:
    """The fields of a transaction the engine uses, converted once (Decimal/str/int -> float/int).

    ``hour`` is the cardholder's local hour of day: ``local_hour`` when the transaction carries one
    (the backtest sets it from the data's wall clock), otherwise the hour of ``timestamp`` shifted by
    ``utc_offset_minutes`` when present, otherwise the UTC hour.
    """

    __slots__ = (
        "transaction_id",
        "user_id",
        "ts",
        "amount",
        "cents",
        "log_amount",
        "category",
        "hour",
        "country",
        "device",
        "merchant",
        "lat",
        "lon",
    )

    def __init__(self, txn: dict) -> None:
        get = txn.get
        self.transaction_id = get("transaction_id")
        self.user_id = get("user_id")
        self.ts = ts = int(txn["timestamp"])
        self.amount = amount = float(txn["amount"])
        self.cents = round(amount * 100)
        self.log_amount = _log(amount) if amount > 0 else 0.0
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


_log = math.log


def as_item(txn: dict | Item) -> Item:
    return txn if type(txn) is Item else Item(txn)


class Window:
    """Count and total of the items of the last ``span_ms`` of a history, kept up to date as the
    history adds, advances and evicts; optionally only the items with amount <= ``max_amount`` and/or
    whose ``hour`` is in ``hours``.

    A window of all items is the newest ``count`` items of the history, so it needs no copy of
    them; a filtered window keeps its own items (few: small amounts or night hours are rare), in
    time order, and ``items`` lets a rule walk them.
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

    Attributes are read-only for callers: ``amount_cents``, ``log_sum``, ``log_sq_sum`` (overall amount
    statistics), ``categories`` (category -> [count, sum of log amounts, sum of squared log amounts]),
    ``hour_counts`` (24 counts), ``countries`` / ``devices`` (value -> count), ``country_count`` /
    ``device_count`` (items that carry one), ``last_located`` (newest item with a location) and
    ``now_ms`` (the time the window ends at). ``merchants`` (value -> count) is counted when asked
    for: no rule reads it, so it is not kept up to date on every add and eviction.
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
        self.log_sum = 0.0
        self.log_sq_sum = 0.0
        self.categories: dict[str | None, list] = {}
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

    @property
    def merchants(self) -> dict[str, int]:
        """merchant_id -> number of items with it (a fresh dict, counted from the items)."""
        counts: dict[str, int] = {}
        for item in self.items:
            if item.merchant is not None:
                counts[item.merchant] = counts.get(item.merchant, 0) + 1
        return counts

    @property
    def amount_total(self) -> float:
        return self.amount_cents / 100

    @property
    def oldest_ms(self) -> int | None:
        return self.items[0].ts if self.items else None

    def log_stats(self, category: str | None = None, *, overall: bool = False) -> tuple[int, float, float]:
        """(count, mean, variance) of log(amount), overall or for one category."""
        if overall:
            n, s, sq = len(self.items), self.log_sum, self.log_sq_sum
        else:
            stats = self.categories.get(category)
            if stats is None:
                return 0, 0.0, 0.0
            n, s, sq = stats
        if n == 0:
            return 0, 0.0, 0.0
        mean = s / n
        return n, mean, max(sq / n - mean * mean, 0.0)

    def window(self, span_ms: int, max_amount: float | None = None, hours: frozenset[int] | None = None) -> Window:
        """The sliding window of the last ``span_ms`` before ``now_ms`` (only items with amount <=
        ``max_amount`` and/or an hour in ``hours``, if given). Built from the stored items on first use,
        then maintained on every add, advance and eviction: reading it costs nothing however dense the
        history is."""
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
        """Add a transaction (dict with at least ``timestamp`` and ``amount``)."""
        item = txn if type(txn) is Item else Item(txn)
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
        log_amount = item.log_amount
        log_sq = log_amount * log_amount
        self.log_sum += log_amount
        self.log_sq_sum += log_sq
        stats = self.categories.get(item.category)
        if stats is None:
            self.categories[item.category] = [1, log_amount, log_sq]
        else:
            stats[0] += 1
            stats[1] += log_amount
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
        log_amount = item.log_amount
        log_sq = log_amount * log_amount
        self.log_sum -= log_amount
        self.log_sq_sum -= log_sq
        stats = self.categories[item.category]
        if stats[0] == 1:
            del self.categories[item.category]
        else:
            stats[0] -= 1
            stats[1] -= log_amount
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
        items = self.items
        if self._counted:
            remaining = len(items)
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
        if not items:
            self.log_sum = self.log_sq_sum = 0.0  # reset float drift whenever the history empties

    def _rebuild(self, items: list[Item]) -> None:
        """Re-add everything in time order (only when an item arrives out of order)."""
        now_ms = self.now_ms
        self.__init__(self.window_ms, self.max_items)  # type: ignore[misc]
        for item in sorted(items, key=lambda i: i.ts):
            self._enter(item)
        while len(self.items) > self.max_items:
            self._leave(self.items.popleft())
        self.advance(now_ms)  # windows are rebuilt from the items on their next use


def _decrement(counts: dict[str, int], key: str) -> None:
    if counts[key] == 1:
        del counts[key]
    else:
        counts[key] -= 1


def history_from_items(
    items: Iterable[dict], window_ms: int, max_items: int, now_ms: int, *, exclude_id: str | None = None
) -> UserHistory:
    """Build a user's history at ``now_ms`` from stored items (any order, e.g. a newest-first query).

    Keeps items with ``now_ms - window_ms <= timestamp <= now_ms``, skips ``exclude_id`` (the
    transaction being scored, if the query returned it) and keeps the newest ``max_items``.
    """
    cutoff = now_ms - window_ms
    converted = [
        item
        for item in map(Item, items)
        if cutoff <= item.ts <= now_ms and (exclude_id is None or item.transaction_id != exclude_id)
    ]
    converted.sort(key=lambda item: item.ts)
    history = UserHistory(window_ms, max_items)
    for item in converted[-max_items:]:
        history._enter(item)
    history.advance(now_ms)
    return history


class HistoryStore(Protocol):
    def history_for(self, txn: dict) -> UserHistory: ...


class InMemoryHistoryStore:
    """Per-user histories in memory, for backtests: score with ``history_for``, then ``record``.

    Transactions must be replayed in time order (a history only moves forward). Every method also
    takes an ``Item``: a replay that converts each transaction once (``Item(txn)``) and passes the item
    to ``history_for``, ``Engine.assess`` and ``record`` saves a conversion per call.
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
        if type(txn) is Item:
            user_id, ts = txn.user_id, txn.ts
        else:
            user_id, ts = txn["user_id"], int(txn["timestamp"])
        history = self._users.get(user_id) or self._history(user_id)
        history.advance(ts)
        return history

    def record(self, txn: dict | Item) -> None:
        """Add ``txn`` to its user's history after it was scored."""
        user_id = txn.user_id if type(txn) is Item else txn["user_id"]
        (self._users.get(user_id) or self._history(user_id)).add(txn)

    def __len__(self) -> int:
        return len(self._users)
