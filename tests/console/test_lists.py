"""Block and allow lists: entries, what a hit does to a decision, versions, the sandbox's cache."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from fraud.engine import Assessment, Reason
from fraud.lists import EMPTY, ListError, Lists, ListSlot, ListStore, apply, entry, iter_lines, read_entries
from tests.console.support import BASE_MS, LISTS_TABLE, create_case_tables

TXN = {"transaction_id": "t-1", "user_id": "u-1", "card_id": "tok_abc0042", "device_id": "dev-beef",
       "ip_address": "2001:DB8::1", "merchant_id": "m-1"}  # fmt: skip


def assessment(decision: str, score: int = 50) -> Assessment:
    return Assessment(score, decision, (Reason("VELOCITY", 20.0, "fast"),), "v1", None)


def block(field: str, value: str, **kw) -> object:
    return entry("block", field, value, reason="seen in chargebacks", by="ana", at=BASE_MS, **kw)


def test_a_block_hit_forces_the_alert_band_with_its_own_reason_first_and_keeps_the_score():
    lists = Lists([block("device_id", "dev-beef")], "3")
    hits = lists.hits(TXN, BASE_MS + 1)
    result = apply(assessment("allow", score=12), hits)
    assert (result.decision, result.score, result.forced_by) == ("alert", 12, "BLOCK_LIST")
    assert result.codes == ("BLOCK_LIST", "VELOCITY")
    assert result.reasons[0].explanation == "device ********beef is on the block list: seen in chargebacks"


def test_an_allow_hit_caps_the_band_at_review_and_never_drops_it():
    lists = Lists([entry("allow", "merchant_id", "m-1", reason="payroll", by="root", at=BASE_MS)], "4")
    hits = lists.hits(TXN, BASE_MS)
    capped = apply(assessment("alert", score=95), hits)
    assert (capped.decision, capped.score, capped.codes[0]) == ("review", 95, "ALLOW_LIST")
    assert apply(assessment("review"), hits).decision == "review"
    assert apply(assessment("allow"), hits).decision == "allow"


def test_a_block_hit_wins_over_an_allow_hit_on_another_field():
    lists = Lists(
        [block("card_id", "tok_abc0042"), entry("allow", "user_id", "u-1", reason="vip", by="root", at=BASE_MS)], "5"
    )
    assert apply(assessment("allow"), lists.hits(TXN, BASE_MS)).decision == "alert"


def test_expired_entries_and_other_identifiers_do_not_hit_and_ips_compare_in_lower_case():
    lists = Lists([block("user_id", "u-1", expires_at=BASE_MS + 10), block("ip_address", "2001:db8::1")], "6")
    assert [h.entry.field for h in lists.hits(TXN, BASE_MS + 5)] == ["user_id", "ip_address"]
    assert [h.entry.field for h in lists.hits(TXN, BASE_MS + 10)] == ["ip_address"]
    assert EMPTY.hits(TXN, BASE_MS) == ()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grey", "user_id", "u-1"), "list must be"),
        (("block", "email", "a@b"), "field must be"),
        (("block", "card_id", "4111 1111 1111 1111"), "card number"),
        (("block", "user_id", " "), "1-128"),
    ],
)
def test_an_entry_that_cannot_be_stored_says_why(args, message):
    with pytest.raises(ListError, match=message):
        entry(*args, reason="r", by="ana", at=BASE_MS)
    with pytest.raises(ListError, match="reason"):
        entry("block", "user_id", "u-1", reason="", by="ana", at=BASE_MS)
    with pytest.raises(ListError, match="expiry"):
        entry("block", "user_id", "u-1", reason="r", by="ana", at=BASE_MS, expires_at=BASE_MS)


def test_a_list_file_round_trips_and_bad_lines_are_reported():
    entries = [block("device_id", "dev-beef"), block("user_id", "u-2", expires_at=BASE_MS + 1)]
    text = (
        "\n".join(iter_lines(entries))
        + '\n{"list": "block", "field": "user_id"}\n'
        + iter_lines(entries[:1]).__next__()
    )
    read, errors = read_entries(text, name="lists.jsonl")
    assert [(e.field, e.value, e.expires_at) for e in read] == [
        ("device_id", "dev-beef", None),
        ("user_id", "u-2", BASE_MS + 1),
    ]
    assert [line for line, _ in errors] == [3, 4]


def test_every_change_bumps_the_version_and_a_snapshot_is_one_version():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_case_tables(dynamodb)
        store = ListStore(dynamodb, LISTS_TABLE)
        assert store.version() == 0 and store.snapshot().version == "0"
        store.put(block("device_id", "dev-beef"), replace_allow=False)
        allowed = entry("allow", "user_id", "u-1", reason="vip", by="root", at=BASE_MS)
        store.put(allowed, replace_allow=True)
        snapshot = store.snapshot()
        assert (snapshot.version, len(snapshot)) == ("2", 2)
        with pytest.raises(ListError, match="allow list"):  # an analyst's block never replaces an admin's allow
            store.put(block("user_id", "u-1"), replace_allow=False)
        store.remove(store.find(allowed.ref))
        assert (store.version(), [e.field for e in store.entries()]) == (3, ["device_id"])
        with pytest.raises(ListError, match="gone"):
            store.remove(allowed)


def test_the_slot_reads_the_version_once_per_period_and_the_entries_only_when_it_changed():
    now = [0.0]
    version = [1]
    snapshots = []

    def snapshot() -> Lists:
        snapshots.append(version[0])
        return Lists([], str(version[0]))

    def read_version() -> int:
        if version[0] < 0:
            raise RuntimeError("throttled")
        return version[0]

    slot = ListSlot(read_version, snapshot, max_age_s=60, clock=lambda: now[0])
    lists, problem = slot.current()
    assert (lists.version, problem) == ("1", None)
    now[0] = 30
    slot.current()
    assert (slot.reads, snapshots) == (2, [1])  # one version check and one snapshot so far
    now[0] = 61
    slot.current()
    assert (slot.reads, snapshots) == (3, [1])  # same version: no new snapshot
    version[0] = 2
    now[0] = 122
    assert slot.current()[0].version == "2" and snapshots == [1, 2]
    version[0] = -1
    now[0] = 183
    lists, problem = slot.current()
    assert (lists.version, problem) == ("2", "RuntimeError: throttled")  # keeps what it has
    fresh = ListSlot(read_version, snapshot, max_age_s=60, clock=lambda: now[0])
    with pytest.raises(RuntimeError):  # never read: the record fails and is retried
        fresh.current()
