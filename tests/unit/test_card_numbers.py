"""The one card-number detector (validation, the log scrubber and alerts use it)."""

from __future__ import annotations

import string
import unicodedata
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud.card_numbers import (
    MIN_DIGITS,
    NETWORKS,
    card_number_spans,
    contains_card_number,
    issued,
    luhn_valid,
    prefix_range,
    scrub,
)


def luhn_completed(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn check."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def in_digits_of(zero: int, text: str) -> str:
    """``text`` with its ASCII digits written in the digits that start at code point ``zero``."""
    return text.translate({48 + d: zero + d for d in range(10)})


FULL_WIDTH = 0xFF10
ARABIC_INDIC = 0x0660


def digits_in(text: str) -> str:
    """Every digit of ``text``, of any script, as ASCII."""
    return "".join(str(unicodedata.decimal(c)) for c in unicodedata.normalize("NFKC", text) if c.isdecimal())


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "tok_4111111111111111",
        "4111.1111.1111.1111",
        "4111_1111_1111_1111",
        "4111 1111 1111 1111",
        "4111 - 1111 - 1111 - 1111",
        "4111/1111/1111/1111",
        "4111,1111,1111,1111",
        "4111-1111 1111.1111",  # mixed separators
        "card 378282246310005 on file",
        "ref 4111111111111111 9",
        "6011-0009-9013-9424",
        "2221000000000009",  # Mastercard's 2-series
        "3782 822463 10005",  # Amex, written 4-6-5
        "4000 0000 0000 0000 006",  # Visa, 19 digits
        "135410014004955",  # UATP: starts with 1, 15 digits
        "8600 0000 0000 0007",  # UzCard
        "9792 0000 0000 0003",  # Troy
        "4111\u00a01111\u00a01111\u00a01111",  # no-break spaces
        "4111\u20131111\u20131111\u20131111",  # en dashes
        "4111 \u2013 1111 \u2013 1111 \u2013 1111",
        "4111\u22121111\u22121111\u22121111",  # minus signs
        in_digits_of(FULL_WIDTH, "4111\u30001111\u30001111\u30001111"),  # full-width, ideographic spaces
        in_digits_of(ARABIC_INDIC, "4111111111111111"),
        "4111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
        "\u5361\u53f74111111111111111",  # 卡号: CJK text puts digits right against its characters
        '{"pan": "4111 1111 1111 1111"}',
        "pan:4111111111111111",
    ],
)
def test_card_numbers_are_found_however_they_are_written(text):
    assert contains_card_number(text)
    assert "[card number]" in scrub(text)
    assert not contains_card_number(scrub(text))
    assert "4111111111111111" not in digits_in(scrub(text))


@pytest.mark.parametrize(
    "text",
    [
        "1736942400001",  # an epoch-millisecond timestamp passing the Luhn check: no network issues it
        "order-1736942400001-7",
        "sim2-67748580-0000003",  # groups of 8 and 7 digits: 15 digits passing the Luhn check, an id
        "order-20250115-1234567",
        "100000000000000000001",  # a DynamoDB stream sequence number (21 digits)
        "2025-01-15 12:30:45,123+0000",
        "2025-01-15T12:10:00Z",
        "4111111111111112",  # fails the Luhn check
        "7000000000000005",  # passes it, but no network issues numbers starting with 7
        "203.0.113.10",
        "203.0.113.10, 70.41.3.18, 150.172.238.178",
        "40.712776, -74.005974",
        "[3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46]",
        "912.40 USD",
        "arn:aws:lambda:us-east-1:123456789012:function:detect-fraud-dev",
        "arn:aws:lambda:us-east-1:500000000009:function:detect-fraud-dev",  # 12 digits: not looked for
        # Identifiers the detector used to take for card numbers: digits that touch letters.
        "1098d6a9-0494-4815-8587-18296e887807",
        "cf7c6a54-0104-4722-8549-455d4f04f24a",
        "CF7C6A54-0104-4722-8549-455D4F04F24A",
        "1874d2860698142416b06ce53a8b6b5c",
        "1874D2860698142416B06CE53A8B6B5C",
        "320a22785b0a90ecdd3a1627832fff682ed145f47998179883020cf694b19e9f",
        "1-5759e988-bd862e3fe1be46a994272793",  # an X-Ray trace id
        "01JHGZ5N4111111111111111KQ",  # a ULID
        "cus_4111111111111111a",
        "tok4111111111111111",  # glued to letters: part of a token (see the module docstring)
        "\uff41" + in_digits_of(FULL_WIDTH, "4111111111111111"),  # a full-width letter is a letter
    ],
)
def test_what_is_not_a_card_number_is_left_alone(text):
    assert not contains_card_number(text)
    assert scrub(text) == text


def test_all_digit_identifiers_with_a_card_numbers_shape_are_refused_and_no_others():
    # The decision of the module docstring: the shape decides, whatever the field.
    assert contains_card_number("order 4000000000000002")  # Visa's prefix and length, Luhn-valid
    assert contains_card_number("135410014004955")  # UATP: 1, 15 digits
    for body in ("173694240000", "700000000000000", "1946000000000", "99000000000000"):
        assert luhn_valid(luhn_completed(body))
        assert not contains_card_number(luhn_completed(body)), body


def test_spans_are_those_of_the_original_text():
    full_width = in_digits_of(FULL_WIDTH, "4111111111111111")
    text = f"x {full_width} y"
    assert card_number_spans(text) == [(2, 18)]
    assert scrub(text) == "x [card number] y"
    # A character that reads as several (⑽ is "(10)") or as nothing (zero-width space).
    assert scrub("\u247d4111 1111\u200b 1111 1111!") == "\u247d[card number]!"
    # Two numbers, one of them spelled in full-width digits.
    assert scrub(f"{full_width} and 5555 5555 5555 4444") == "[card number] and [card number]"


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_the_network_table_is_well_formed():
    for network in NETWORKS:
        assert network.lengths and all(12 <= n <= 19 for n in network.lengths), network.name
        for prefix in network.prefixes:
            low, _, high = prefix.partition("-")
            assert low.isdigit() and (not high or (high.isdigit() and len(high) == len(low))), prefix
            assert prefix_range(prefix)[0] <= prefix_range(prefix)[1], prefix


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("4111111111111", True),  # Visa: 13, 16, 19
        ("41111111111111", False),
        ("2220999999999999", False),  # just below Mastercard's 2221-2720
        ("2221000000000000", True),
        ("2720999999999999", True),
        ("2721000000000000", False),
        ("3528000000000000", True),  # JCB
        ("3527999999999999", False),
        ("622126000000000000", True),  # Discover inside UnionPay's 62
        ("100000000000000", True),  # UATP
        ("1000000000000", False),
        ("9860000000000000", True),  # Humo
        ("9861000000000000", False),
    ],
)
def test_issued_follows_the_table(digits, expected):
    assert issued(digits) is expected


# --- properties -------------------------------------------------------------------------------

BASE62 = string.digits + string.ascii_letters
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def digit_heavy(letters: str, size: int) -> st.SearchStrategy[str]:
    """Strings of ``size`` characters, digits and ``letters``, with long runs of digits: where a
    detector that reads digits inside identifiers finds card numbers."""
    chunks = st.one_of(st.text(string.digits, min_size=1, max_size=20), st.text(letters, min_size=1, max_size=2))
    return st.lists(chunks, min_size=1).map(lambda parts: "".join(parts)[:size].ljust(size, letters[0]))


def any_case(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda text, upper: text.upper() if upper else text, strategy, st.booleans())


uuids = any_case(digit_heavy("abcdef", 32).map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"))
hex_ids = any_case(st.sampled_from([32, 40, 64]).flatmap(lambda size: digit_heavy("abcdef", size)))
prefixed_ids = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(["cus_", "ch_", "pi_", "tok_", "card_", "acct_", "txn_"]),
    # A tail of digits only is a card number behind a prefix when it has a card number's shape.
    st.sampled_from([14, 24])
    .flatmap(lambda size: digit_heavy(string.ascii_letters, size))
    .filter(lambda tail: not tail.isdigit()),
)
ulids = st.integers(0, 2**128 - 1).map(lambda v: "".join(CROCKFORD[(v >> s) & 31] for s in range(125, -1, -5)))
order_ids = st.builds(
    lambda prefix, ms, suffix: f"{prefix}{ms}{suffix}",
    st.sampled_from(["", "order-", "ord_", "o-"]),
    st.integers(946_684_800_000, 1_999_999_999_999),  # 2000-01-01 to 2033-05-18
    st.sampled_from(["", "-1", "-42", "_7"]),
)
timestamps = st.datetimes().map(lambda when: when.isoformat())


@settings(max_examples=500)
@given(st.one_of(uuids, hex_ids, prefixed_ids, ulids, order_ids, timestamps, st.uuids().map(str)))
def test_identifiers_are_never_card_numbers(identifier):
    assert not contains_card_number(identifier)
    assert scrub(identifier) == identifier


def test_uuids_are_left_alone():
    assert not any(contains_card_number(str(uuid.UUID(int=i * 7919**9))) for i in range(1_000))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid number of a network of the table, at one of its lengths."""
    network = draw(st.sampled_from(NETWORKS))
    low, high = prefix_range(draw(st.sampled_from(network.prefixes)))
    head = str(draw(st.integers(low, high)))
    length = draw(st.sampled_from([n for n in network.lengths if n >= MIN_DIGITS]))
    return luhn_completed(
        head + draw(st.text("0123456789", min_size=length - len(head) - 1, max_size=length - len(head) - 1))
    )


SEPARATORS = [
    "",
    " ",
    "\u00a0",
    "\u2009",
    "\u202f",
    "\u3000",
    "-",
    "\u2010",
    "\u2011",
    "\u2013",
    "\u2014",
    "\u2212",
    "\uff0d",
    ".",
    "_",
    "/",
    ",",
    " - ",
    " \u2013 ",
    ", ",
]
DIGIT_ZEROS = [
    0x30,
    FULL_WIDTH,
    ARABIC_INDIC,
    0x06F0,
    0x0966,
    0x09E6,
    0x0E50,
    0x1D7CE,
]  # ASCII, full-width, other scripts
SURROUNDINGS = [
    ("", ""),
    ("tok_", ""),
    ("card ", " on file"),
    ("please charge ", " today."),
    ('{"pan": "', '"}'),
    ("\u30ab\u30fc\u30c9\u756a\u53f7", "\u3067\u3059"),  # カード番号…です
]


def written(number: str, separators: list[str]) -> str:
    """``number`` in groups of 4 (Amex-style 4-6-5 and 4-6-4 for 15 and 14 digits), the n-th gap
    filled with ``separators[n]``."""
    cuts = {15: [4, 10], 14: [4, 10]}.get(len(number), list(range(4, len(number), 4)))
    bounds = [0, *cuts, len(number)]
    groups = [number[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return "".join(group + (separators[i] if i < len(groups) - 1 else "") for i, group in enumerate(groups))


@settings(max_examples=400)
@given(
    card_numbers(),
    st.sampled_from(SEPARATORS),
    st.sampled_from(DIGIT_ZEROS),
    st.sampled_from(SURROUNDINGS),
)
def test_every_networks_card_numbers_are_refused_however_written(number, separator, zero, surroundings):
    text = in_digits_of(zero, written(number, [separator] * 4))
    text = surroundings[0] + text + surroundings[1]
    assert card_number_spans(text)
    assert number not in digits_in(scrub(text))
    assert not contains_card_number(scrub(text))
    assert not contains_card_number(scrub(text))


@given(
    card_numbers(),
    st.lists(st.sampled_from(SEPARATORS[1:]), min_size=4, max_size=4),
    st.sampled_from(["", " ", "ref ", "pan:", "#"]),
)
def test_card_numbers_with_mixed_separators_are_refused(number, separators, before):
    text = before + written(number, separators)
    assert number not in digits_in(scrub(text))
    assert not contains_card_number(scrub(text))
