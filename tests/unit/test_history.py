"""User history: bounded by time and count, ordered by (timestamp, arrival, id), and incremental aggregates
equal to a batch rebuild to the last bit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud.config import load_config
from fraud.history import InMemoryHistoryStore, Item, UserHistory, history_from_items

HOUR = 3_600_000
T0 = 1_700_000_000_000


def txn(i: int, ts: int, amount: float = 10.0, **extra) -> dict:
    return {
        "transaction_id": f"t{i}",
        "user_id": "u1",
        "timestamp": ts,
        "amount": amount,
        "merchant_category": "grocery_pos",
        **extra,
    }


def snapshot(history: UserHistory, spans=((HOUR, None), (24 * HOUR, None), (HOUR, 5.0))) -> dict:
    """Every aggregate the rules read, in comparable form."""
    return {
        "ids": [item.transaction_id for item in history.items],
        "count": history.count,
        "amount_cents": history.amount_cents,
        "log": (history.log_sum, history.log_sq_sum),  # exact integers: equal, not close
        "categories": {c: tuple(s) for c, s in history.categories.items()},
        "hours": list(history.hour_counts),
        "countries": dict(history.countries),
        "devices": dict(history.devices),
        "country_count": history.country_count,
        "device_count": history.device_count,
        "last_located": history.last_located.transaction_id if history.last_located else None,
        "windows": [(history.window(s, m).count, history.window(s, m).cents) for s, m in spans],
    }


def test_window_evicts_old_items():
    history = UserHistory(window_ms=10 * HOUR, max_items=100)
    for i in range(5):
        history.add(txn(i, T0 + i * HOUR))
    history.advance(T0 + 12 * HOUR)  # keeps ts >= T0 + 2h
    assert [item.transaction_id for item in history.items] == ["t2", "t3", "t4"]
    assert history.amount_cents == 3000


def test_max_items_keeps_the_newest():
    history = UserHistory(window_ms=100 * HOUR, max_items=3)
    for i in range(5):
        history.add(txn(i, T0 + i))
    assert [item.transaction_id for item in history.items] == ["t2", "t3", "t4"]
    assert history.categories["grocery_pos"][0] == 3


def test_sliding_windows_follow_now():
    history = UserHistory(window_ms=48 * HOUR, max_items=100)
    history.advance(T0)
    hour = history.window(HOUR)  # created before the items: maintained incrementally
    for i, minutes in enumerate([0, 30, 50, 70]):
        history.add(txn(i, T0 + minutes * 60_000, amount=2.5 if i % 2 else 100.0))
    history.advance(T0 + 100 * 60_000)  # the last hour starts at 40 min
    assert (hour.count, hour.total) == (2, 102.5)
    small = history.window(HOUR, 5.0)  # created late: built from the stored items
    assert (small.count, small.total) == (1, 2.5)
    assert history.window(2 * HOUR).count == 4


def test_windows_follow_max_items_evictions():
    history = UserHistory(window_ms=48 * HOUR, max_items=2)
    day = history.window(24 * HOUR)
    for i in range(4):
        history.add(txn(i, T0 + i * 60_000))
    assert (day.count, day.total) == (2, 20.0)
    small = history.window(24 * HOUR, 5.0)
    history.add(txn(4, T0 + 5 * 60_000, amount=1.0))
    history.add(txn(5, T0 + 6 * 60_000, amount=1.0))
    history.add(txn(6, T0 + 7 * 60_000))
    assert (small.count, small.total) == (1, 1.0)  # t4 was evicted by max_items
    assert (day.count, day.total) == (2, 11.0)


def test_decimal_amounts_and_local_hour():
    item = Item(
        {
            "timestamp": Decimal(T0),
            "amount": Decimal("912.40"),
            "local_hour": Decimal(23),
            "location": {"lat": Decimal("1.5"), "lon": Decimal("-2")},
        }
    )
    assert item.amount == 912.4 and item.cents == 91240 and item.hour == 23 and item.lat == 1.5
    assert Item({"timestamp": T0, "amount": 1}).hour == (T0 // HOUR) % 24


def test_out_of_order_add_is_placed_in_time_order():
    history = UserHistory(window_ms=100 * HOUR, max_items=10)
    history.add(txn(1, T0 + 2 * HOUR, country="US"))
    history.add(txn(2, T0 + 1 * HOUR, country="FR"))
    assert [item.transaction_id for item in history.items] == ["t2", "t1"]
    assert history.countries == {"US": 1, "FR": 1}


def test_history_from_items_keeps_what_came_before_the_scored_transaction_in_the_window():
    items = [txn(1, T0 - 50 * HOUR), txn(2, T0 - HOUR), txn(3, T0, received_at=T0 + 5), txn(4, T0 + HOUR)]
    scored = Item(txn(3, T0, received_at=T0 + 5))
    history = history_from_items(items, 10 * HOUR, 500, T0, before=scored)
    assert [item.transaction_id for item in history.items] == ["t2"]


def test_same_millisecond_items_are_ordered_by_arrival_then_id():
    same = [txn(i, T0, received_at=T0 + r) for i, r in ((1, 9), (2, 3), (3, 3), (4, 1))]
    scored = Item(txn(9, T0, received_at=T0 + 5))
    history = history_from_items([*same, same[0]], HOUR, 500, T0, before=scored)  # t1 twice: kept once
    assert [item.transaction_id for item in history.items] == ["t4", "t2", "t3"]  # t1 arrived after


def test_in_memory_store_gives_the_history_before_the_transaction():
    config = load_config()
    store = InMemoryHistoryStore(config)
    first, second = txn(1, T0), txn(2, T0 + HOUR)
    assert store.history_for(first).count == 0
    store.record(first)
    history = store.history_for(second)
    assert history.count == 1 and history.now_ms == second["timestamp"]
    store.record(Item({**second, "user_id": "u2"}))
    assert store.history_for(txn(3, T0 + 2 * HOUR, user_id="u2")).count == 1


# -- incremental == batch ---------------------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=6 * HOUR),  # gap to the previous one (ties have no order)
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
        st.sampled_from(["grocery_pos", "shopping_net", "travel", None]),
        st.sampled_from([None, "US", "FR"]),
        st.sampled_from([None, "d1", "d2", "d3"]),
        st.booleans(),  # located
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=30))
def test_incremental_history_equals_batch_history(rows, max_items, window_hours):
    window_ms = window_hours * HOUR
    stored: list[dict] = []
    live = UserHistory(window_ms, max_items)
    live.window(HOUR), live.window(24 * HOUR), live.window(HOUR, 5.0)  # maintained from the start
    ts = T0
    for i, (gap, amount, category, country, device, located) in enumerate(rows):
        ts += gap
        current = txn(i, ts, amount=amount, merchant_category=category, merchant_id=f"m{i % 3}")
        if country:
            current["country"] = country
        if device:
            current["device_id"] = device
        if located:
            current["location"] = {"lat": Decimal(i % 90), "lon": Decimal(-i % 180)}
        live.advance(ts)
        # The DynamoDB path: the user index, newest first, Limit=max_items, over the window.
        batch = history_from_items(reversed(stored), window_ms, max_items, ts, before=Item(current))
        assert snapshot(live) == snapshot(batch)
        live.add(current)
        stored.append(current)


def test_aggregates_do_not_drift_over_a_long_replay():
    history = UserHistory(window_ms=HOUR, max_items=50)
    for i in range(20_000):
        history.advance(T0 + i * 60_000)
        history.add(txn(i, T0 + i * 60_000, amount=0.01 + (i % 997) * 1.37))
    fresh = history_from_items(
        [txn(i, T0 + i * 60_000, amount=0.01 + (i % 997) * 1.37) for i in range(20_000 - 60, 20_000)],
        HOUR,
        50,
        history.now_ms,
    )
    assert history.amount_cents == fresh.amount_cents
    assert (history.log_sum, history.log_sq_sum) == (fresh.log_sum, fresh.log_sq_sum)
    assert history.categories == fresh.categories


def test_invalid_bounds_are_rejected():
    with pytest.raises(ValueError):
        UserHistory(window_ms=0, max_items=10)


def test_an_item_added_behind_now_enters_only_the_windows_that_reach_back_to_it():
    history = UserHistory(window_ms=48 * HOUR, max_items=100)
    hour, day = history.window(HOUR), history.window(24 * HOUR)
    night = history.window(24 * HOUR, None, frozenset({23}))
    history.advance(T0 + 10 * HOUR)
    history.add(txn(1, T0, local_hour=23))  # in time order, but 10 h before the window's end
    assert (hour.count, day.count, night.count) == (0, 1, 1)
    assert [item.transaction_id for item in night.items] == ["t1"]
    history.advance(T0 + 25 * HOUR)
    assert (hour.count, day.count, night.count, len(night.items)) == (0, 0, 0, 0)
    assert snapshot(history) == snapshot(
        history_from_items([txn(1, T0, local_hour=23)], 48 * HOUR, 100, T0 + 25 * HOUR)
    )


def test_history_fields_are_exactly_what_an_item_reads():
    """The recent-activity entries keep HISTORY_FIELDS of each transaction: an item built from them alone is the
    item built from the whole transaction, and Item reads no other field."""
    from fraud.history import HISTORY_FIELDS, Item

    read: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

    full = {
        "transaction_id": "t-1",
        "user_id": "u-1",
        "timestamp": 1_767_225_600_000,
        "received_at": 1_767_225_601_000,
        "amount": 12.5,
        "merchant_category": "grocery_pos",
        "utc_offset_minutes": 60,
        "country": "FR",
        "device_id": "d-1",
        "merchant_id": "m-1",
        "location": {"lat": 48.85, "lon": 2.35},
        "channel": "pos",
        "card_id": "tok_1",
        "ip_address": "203.0.113.9",
    }
    whole = Item(Recording(full))
    assert read == set(HISTORY_FIELDS)
    kept = Item({key: full[key] for key in HISTORY_FIELDS if key in full})
    assert all(getattr(kept, slot) == getattr(whole, slot) for slot in Item.__slots__)
