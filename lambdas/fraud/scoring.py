"""Scoring one stored transaction live: the user's history from the table, then the engine.

What detect-fraud does for each inserted transaction, outside the handler so it reads like the backtest: the
history is the user's transactions before this one in ``(timestamp, received_at, transaction_id)`` order (the
order the backtest replays in), read newest first from the user index, plus the transactions this process scored
a moment ago (``RecentlyScored``). The user index is eventually consistent: a burst scored right after its writes
may not find its own earlier records there, but the function has just scored them (earlier in the same stream
batch, or in a previous invocation of the same sandbox), so they count all the same.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from fraud.engine import Assessment, Engine
from fraud.history import Item, history_from_items
from fraud.storage import transaction_of


class HistorySource(Protocol):
    def user_history(
        self, user_id: str, *, through_ms: int, window_ms: int, max_items: int, before: tuple[int, int, str] | None
    ) -> list[dict[str, Any]]: ...


class RecentlyScored:
    """The transactions this process scored in the last ``max_age_ms``, per user, for at most ``max_users`` users
    (least recently scored users are forgotten first). A bridge over the user index's replication lag, not a
    history: the table stays the source of the history."""

    def __init__(self, max_age_ms: int = 10 * 60_000, max_users: int = 10_000) -> None:
        self.max_age_ms = max_age_ms
        self.max_users = max_users
        self._users: OrderedDict[Any, list[Item]] = OrderedDict()

    def add(self, item: Item) -> None:
        items = self._users.pop(item.user_id, None) or []
        items.append(item)
        self._users[item.user_id] = items
        while len(self._users) > self.max_users:
            self._users.popitem(last=False)

    def of(self, user_id: Any, now_ms: int) -> list[Item]:
        """The user's recently scored transactions (dropping those older than ``max_age_ms`` before ``now_ms``)."""
        items = self._users.get(user_id)
        if not items:
            return []
        cutoff = now_ms - self.max_age_ms
        if items[0].ts < cutoff:
            items[:] = [item for item in items if item.ts >= cutoff]
        return items


@dataclass(frozen=True)
class Scored:
    transaction: dict[str, Any]  # the transaction without its storage attributes
    assessment: Assessment
    history_items: int
    shadow: Assessment | None = None


def score(
    image: dict[str, Any],
    *,
    store: HistorySource,
    engine: Engine,
    recent: RecentlyScored,
    shadow: Engine | None = None,
) -> Scored:
    """Score the stored transaction ``image`` (a deserialized stream image) with ``engine`` (and ``shadow``)."""
    missing = [key for key in ("transaction_id", "user_id", "timestamp", "amount") if image.get(key) is None]
    if missing:  # a stored item that is not a transaction the API wrote: fail loudly, never score it
        raise ValueError(f"stored transaction item lacks {', '.join(missing)}")
    item = Item(image)
    config = engine.config
    window_ms, max_items = config.history_window_ms, config.history_max_items
    if shadow is not None:  # one history serves both: read the longer of the two bounds
        window_ms = max(window_ms, shadow.config.history_window_ms)
        max_items = max(max_items, shadow.config.history_max_items)
    stored = store.user_history(
        str(item.user_id), through_ms=item.ts, window_ms=window_ms, max_items=max_items, before=item.order_key()
    )
    candidates: list[dict[str, Any] | Item] = [*stored, *recent.of(item.user_id, item.ts)]
    history = history_from_items(candidates, config.history_window_ms, config.history_max_items, item.ts, before=item)
    assessment = engine.assess(item, history)
    shadow_assessment = None
    if shadow is not None:
        shadow_history = history_from_items(
            candidates, shadow.config.history_window_ms, shadow.config.history_max_items, item.ts, before=item
        )
        shadow_assessment = shadow.assess(item, shadow_history)
    recent.add(item)
    transaction = transaction_of(image)  # without its storage attributes (received_at, ...)
    return Scored(transaction, assessment, history.count, shadow_assessment)
