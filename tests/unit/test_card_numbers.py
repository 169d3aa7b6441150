"""The one card-number detector (validation, the log scrubber and alerts use it)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud.card_numbers import card_number_spans, contains_card_number, luhn_valid, scrub


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "tok_4111111111111111",
        "4111.1111.1111.1111",
        "4111_1111_1111_1111",
        "4111 1111 1111 1111",
        "4111 - 1111 - 1111 - 1111",
        "card 378282246310005 on file",
        "ref 4111111111111111 9",
        "6011-0009-9013-9424",
        "2221000000000009",  # Mastercard's 2-series
        "3782 822463 10005",  # Amex, written 4-6-5
    ],
)
def test_card_numbers_are_found_whatever_their_separators_and_surroundings(text):
    assert contains_card_number(text)
    assert "[card number]" in scrub(text)
    assert not contains_card_number(scrub(text))


@pytest.mark.parametrize(
    "text",
    [
        "1736942400001",  # an epoch-millisecond timestamp passing the Luhn check
        "order-1736942400001-7",
        "sim2-67748580-0000003",  # groups of 8 and 7 digits: 15 digits passing the Luhn check, an id
        "order-20250115-1234567",
        "100000000000000000001",  # a DynamoDB stream sequence number (21 digits)
        "2025-01-15 12:30:45,123+0000",
        "2025-01-15T12:10:00Z",
        "4111111111111112",  # fails the Luhn check
        "203.0.113.10",
        "912.40 USD",
        "arn:aws:lambda:us-east-1:123456789012:function:detect-fraud-dev",
    ],
)
def test_what_is_not_a_card_number_is_left_alone(text):
    assert not contains_card_number(text)
    assert scrub(text) == text


def test_uuids_are_left_alone():
    assert not any(contains_card_number(str(uuid.UUID(int=i * 7919**9))) for i in range(1_000))


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def luhn_completed(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn check."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


card_numbers = st.builds(
    lambda first, rest: luhn_completed(first + rest),
    st.sampled_from("23456"),
    st.text("0123456789", min_size=11, max_size=17),
)


@given(
    card_numbers,
    st.lists(st.sampled_from([" ", "-", ".", "_", " - "]), min_size=18, max_size=18),
    st.booleans(),
    st.text("abcxyz :", max_size=5),
    st.text("abcxyz :", max_size=5),
)
def test_any_card_number_with_any_separators_anywhere_is_scrubbed(number, separators, spaced, before, after):
    written = "".join(d + (separators[i] if spaced and i % 4 == 3 else "") for i, d in enumerate(number)).rstrip(" -._")
    text = f"{before}{written}{after}"
    assert card_number_spans(text)
    assert "".join(ch for ch in scrub(text) if ch.isdigit()).find(number) == -1
