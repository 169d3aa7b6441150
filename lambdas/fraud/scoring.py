"""Scoring one stored transaction live: the user's history from the table, then the engine.

What detect-fraud does for each inserted transaction, outside the handler so it reads like the backtest: the
history is the user's transactions before this one in ``(timestamp, received_at, transaction_id)`` order (the
order the backtest replays in), read newest first from the user index, plus the user's recent-activity entries
(``TransactionStore.recent_transactions``, read strongly consistently). The user index is eventually consistent:
a transaction scored right after the user's previous one was written may not find it there yet, whichever sandbox
scores it; the entries, written in the same transaction as each item, always have it.

The block and allow lists (``fraud.lists``) apply after the engine, to the live and the shadow assessment alike:
the score stays the engine's, the band is forced or capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fraud.engine import Assessment, Engine
from fraud.history import Item, history_from_items
from fraud.lists import EMPTY, Hit, Lists, apply
from fraud.storage import transaction_of


class HistorySource(Protocol):
    def user_history(
        self, user_id: str, *, through_ms: int, window_ms: int, max_items: int, before: tuple[int, int, str] | None
    ) -> list[dict[str, Any]]: ...

    def recent_transactions(self, user_id: str, received_at: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Scored:
    transaction: dict[str, Any]  # the transaction without its storage attributes
    assessment: Assessment
    history_items: int
    shadow: Assessment | None = None
    list_hits: tuple[Hit, ...] = ()
    list_version: str = EMPTY.version


def score(
    image: dict[str, Any],
    *,
    store: HistorySource,
    engine: Engine,
    shadow: Engine | None = None,
    lists: Lists = EMPTY,
    now_ms: int = 0,
) -> Scored:
    """Score the stored transaction ``image`` (a deserialized stream image) with ``engine`` (and ``shadow``), then
    apply the entries of ``lists`` active at ``now_ms``."""
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
    recent = store.recent_transactions(str(item.user_id), item.arrival) if item.arrival is not None else []
    candidates: list[dict[str, Any] | Item] = [*stored, *recent]
    history = history_from_items(candidates, config.history_window_ms, config.history_max_items, item.ts, before=item)
    hits = lists.hits(image, now_ms)
    assessment = apply(engine.assess(item, history), hits)
    shadow_assessment = None
    if shadow is not None:
        shadow_history = history_from_items(
            candidates, shadow.config.history_window_ms, shadow.config.history_max_items, item.ts, before=item
        )
        shadow_assessment = apply(shadow.assess(item, shadow_history), hits)
    transaction = transaction_of(image)  # without its storage attributes (received_at, ...)
    return Scored(transaction, assessment, history.count, shadow_assessment, hits, lists.version)
