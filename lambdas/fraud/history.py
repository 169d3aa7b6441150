"""A user's recent transactions with aggregates kept up to date on every add and eviction.

``UserHistory`` holds the transactions of one user inside a time window (``window_ms`` before "now")
and at most ``max_items`` of them, like the DynamoDB query of detect-fraud (newest first,
``Limit=max_items``). Every aggregate the rules read (amount statistics overall and per category,
hour-of-day counts, known countries/devices/merchants, the last located transaction) is updated when
an item enters or leaves, and so are the sliding windows (velocity, card testing) the rules ask for
with ``window``. Rules read them in O(1) (only ``rules.spree`` walks back over its own recent window),
so scoring costs about the same for a user with 3 or 500 transactions.

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


class Item:
    """The fields of a transaction the engine uses, converted once (Decimal/str/int -> float/int)."""

    __slots__ = ("transaction_id", "user_id", "ts", "amount", "cents", "log_amount", "category", "hour", "country",
                 "device", "merchant", "lat", "lon")

    def __init__(self, txn: dict) -> None:
        get = txn.get
        self.transaction_id = get("transaction_id")
        self.user_id = get("user_id")
        self.ts = ts = int(txn["timestamp"])
        self.amount = amount = float(txn["amount"])
        self.cents = round(amount * 100)
        self.log_amount = math.log(amount) if amount > 0 else 0.0
        self.category = get("merchant_category")
        local_hour = get("local_hour")
        self.hour = (ts // HOUR_MS) % 24 if local_hour is None else int(local_hour) % 24
        self.country = get("country")
        self.device = get("device_id")
        self.merchant = get("merchant_id")
        location = get("location")
        if location:
            self.lat = float(location["lat"])
            self.lon = float(location["lon"])
        else:
            self.lat = self.lon = None


def as_item(txn: dict | Item) -> Item:
    return txn if type(txn) is Item else Item(txn)


class Window:
    """Count and total of the items of the last ``span_ms`` of a history (only those with amount <=
    ``max_amount`` if given), kept up to date as the history adds, advances and evicts.

    A window of all items is the newest ``count`` items of the history, so it needs no copy of
    them; a filtered window keeps its own items (few: small amounts are rare).
    """

    __slots__ = ("span_ms", "max_amount", "items", "count", "cents")

    def __init__(self, span_ms: int, max_amount: float | None) -> None:
        self.span_ms = span_ms
        self.max_amount = max_amount
        self.items: deque[Item] = deque()  # filtered windows only
        self.count = 0
        self.cents = 0  # integer cents: sums stay exact however many adds and evictions

    @property
    def total(self) -> float:
        return self.cents / 100


class UserHistory:
    """A user's recent transactions (bounded by window_ms and max_items) with incremental aggregates.

    Attributes are read-only for callers: ``amount_cents``, ``log_sum``, ``log_sq_sum`` (overall amount
    statistics), ``categories`` (category -> [count, sum of log amounts, sum of squared log amounts]),
    ``hour_counts`` (24 counts), ``countries`` / ``devices`` / ``merchants`` (value -> count),
    ``country_count`` / ``device_count`` (items that carry one), ``last_located`` (newest item with a
    location) and ``now_ms`` (the time the window ends at).
    """

    __slots__ = ("window_ms", "max_items", "now_ms", "items", "amount_cents", "log_sum", "log_sq_sum", "categories",
                 "hour_counts", "countries", "devices", "merchants", "country_count", "device_count", "last_located", "_windows")

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
        self.merchants: dict[str, int] = {}
        self.country_count = 0
        self.device_count = 0
        self.last_located: Item | None = None
        self._windows: dict[tuple[int, float | None], Window] = {}

    # -- reading ---------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.items)

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

    def window(self, span_ms: int, max_amount: float | None = None) -> Window:
        """The sliding window of the last ``span_ms`` before ``now_ms`` (items with amount <=
        ``max_amount`` if given). Built from the stored items on first use, then maintained on every
        add, advance and eviction: reading it costs nothing however dense the history is."""
        window = self._windows.get((span_ms, max_amount))
        if window is None:
            window = self._windows[(span_ms, max_amount)] = Window(span_ms, max_amount)
            cutoff = self.now_ms - span_ms
            for item in self.items:
                if item.ts >= cutoff and (max_amount is None or item.amount <= max_amount):
                    window.count += 1
                    window.cents += item.cents
                    if max_amount is not None:
                        window.items.append(item)
        return window

    # -- changing --------------------------------------------------------------------------------

    def add(self, txn: dict | Item) -> None:
        """Add a transaction (dict with at least ``timestamp`` and ``amount``)."""
        item = as_item(txn)
        if item.ts < self.now_ms - self.window_ms:
            return  # already outside the window
        if self.items and item.ts < self.items[-1].ts:
            self._rebuild([*self.items, item])
            return
        self._enter(item)
        while len(self.items) > self.max_items:
            self._leave(self.items.popleft())

    def advance(self, now_ms: int) -> None:
        """Move the end of the window to ``now_ms``; evict items older than ``now_ms - window_ms``."""
        if now_ms <= self.now_ms:
            return
        self.now_ms = now_ms
        cutoff = now_ms - self.window_ms
        items = self.items
        while items and items[0].ts < cutoff:
            self._leave(items.popleft())
        for window in self._windows.values():
            cutoff = now_ms - window.span_ms
            if window.max_amount is None:  # the newest `count` items of the history
                while window.count and items[-window.count].ts < cutoff:
                    window.cents -= items[-window.count].cents
                    window.count -= 1
            else:
                own = window.items
                while own and own[0].ts < cutoff:
                    window.cents -= own.popleft().cents
                    window.count -= 1

    def _enter(self, item: Item) -> None:
        self.items.append(item)
        self.amount_cents += item.cents
        log_amount = item.log_amount
        self.log_sum += log_amount
        self.log_sq_sum += log_amount * log_amount
        stats = self.categories.get(item.category)
        if stats is None:
            self.categories[item.category] = [1, log_amount, log_amount * log_amount]
        else:
            stats[0] += 1
            stats[1] += log_amount
            stats[2] += log_amount * log_amount
        self.hour_counts[item.hour] += 1
        if item.country is not None:
            self.countries[item.country] = self.countries.get(item.country, 0) + 1
            self.country_count += 1
        if item.device is not None:
            self.devices[item.device] = self.devices.get(item.device, 0) + 1
            self.device_count += 1
        if item.merchant is not None:
            self.merchants[item.merchant] = self.merchants.get(item.merchant, 0) + 1
        if item.lat is not None:
            self.last_located = item
        for window in self._windows.values():
            if window.max_amount is None:
                window.count += 1
                window.cents += item.cents
            elif item.amount <= window.max_amount:
                window.items.append(item)
                window.count += 1
                window.cents += item.cents

    def _leave(self, item: Item) -> None:
        self.amount_cents -= item.cents
        log_amount = item.log_amount
        self.log_sum -= log_amount
        self.log_sq_sum -= log_amount * log_amount
        stats = self.categories[item.category]
        if stats[0] == 1:
            del self.categories[item.category]
        else:
            stats[0] -= 1
            stats[1] -= log_amount
            stats[2] -= log_amount * log_amount
        self.hour_counts[item.hour] -= 1
        if item.country is not None:
            _decrement(self.countries, item.country)
            self.country_count -= 1
        if item.device is not None:
            _decrement(self.devices, item.device)
            self.device_count -= 1
        if item.merchant is not None:
            _decrement(self.merchants, item.merchant)
        if item is self.last_located:
            self.last_located = None  # it was the newest located item, so no older one remains
        for window in self._windows.values():  # the history's oldest left: was it in the window?
            if window.max_amount is None:
                if window.count > len(self.items):
                    window.count -= 1
                    window.cents -= item.cents
            elif window.items and window.items[0] is item:
                window.items.popleft()
                window.count -= 1
                window.cents -= item.cents
        if not self.items:
            self.log_sum = self.log_sq_sum = 0.0  # reset float drift whenever the history empties

    def _rebuild(self, items: list[Item]) -> None:
        """Re-add everything in time order (only when an item arrives out of order)."""
        now_ms = self.now_ms
        self.__init__(self.window_ms, self.max_items)  # type: ignore[misc]
        for item in sorted(items, key=lambda i: i.ts):
            self._enter(item)
        while len(self.items) > self.max_items:
            self._leave(self.items.popleft())
        self.advance(now_ms)


def _decrement(counts: dict[str, int], key: str) -> None:
    if counts[key] == 1:
        del counts[key]
    else:
        counts[key] -= 1


def history_from_items(items: Iterable[dict], window_ms: int, max_items: int, now_ms: int, *,
                       exclude_id: str | None = None) -> UserHistory:
    """Build a user's history at ``now_ms`` from stored items (any order, e.g. a newest-first query).

    Keeps items with ``now_ms - window_ms <= timestamp <= now_ms``, skips ``exclude_id`` (the
    transaction being scored, if the query returned it) and keeps the newest ``max_items``.
    """
    cutoff = now_ms - window_ms
    converted = [
        item for item in map(Item, items)
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
