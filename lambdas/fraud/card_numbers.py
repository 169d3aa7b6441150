"""The one card-number detector: request validation, the log scrubber and alert formatting all use it.

A card number (PAN) is 13 to 19 digits that pass the Luhn check and start with 2 to 6 (the major
industry identifiers of payment cards, ISO/IEC 7812: Mastercard 2 and 5, Amex, JCB and Diners 3,
Visa 4, Discover and UnionPay 6), written with or without separators (spaces, dashes, dots,
underscores, up to 3 in a row: ``4111 1111 1111 1111``, ``4111_1111_1111_1111``, ``3782 822463 10005``,
``4111 - 1111 - 1111 - 1111``), anywhere in a string (``tok_4111111111111111``). Digits are grouped by
the separators; every run of consecutive groups holding 13 to 19 digits is checked, so a card number
next to other numbers (``ref 4111111111111111 9``) is found too. Groups of more than 6 digits are not
how card numbers are written out (4, 5 or 6 digits per group): such a group counts only on its own,
so ``order-20250115-1234567`` (8 and 7 digits) is an id, not a card number. A run of more than 19
digits with no separator (a DynamoDB stream sequence number) is not a card number.

Why the first digit: epoch-millisecond timestamps have 13 digits and start with 1 (until 2033), and
one in ten passes the Luhn check; without it, an order id such as ``order-1736942400001`` would be
refused and log lines scrubbed at random. Other long digit strings starting with 2-6 still pass the
check one time in ten: identifiers should not be long runs of digits. Numbers (JSON numbers, ints in
a log record) are not strings and are never looked at.
"""

from __future__ import annotations

import re

MIN_DIGITS = 13
MAX_DIGITS = 19
MAX_GROUP_DIGITS = 6  # the longest digit group of a card number written with separators (Amex: 4-6-5)
CARD_FIRST_DIGITS = frozenset("23456")
REPLACEMENT = "[card number]"

# Digit groups joined by at most 3 separator characters.
_RUN = re.compile(r"\d+(?:[ ._-]{1,3}\d+)*")
_GROUP = re.compile(r"\d+")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_number_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every card number in ``text``, in order, overlapping ones merged."""
    spans: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        if len(run.group()) < MIN_DIGITS:
            continue
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group()) for m in _GROUP.finditer(run.group())]
        for first in range(len(groups)):
            if groups[first][2][0] not in CARD_FIRST_DIGITS:
                continue
            digits = ""
            for last in range(first, len(groups)):
                if last > first and max(len(groups[first][2]), len(groups[last][2])) > MAX_GROUP_DIGITS:
                    break
                digits += groups[last][2]
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                    start, end = groups[first][0], groups[last][1]
                    if spans and start <= spans[-1][1]:
                        spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
                    else:
                        spans.append((start, end))
    return spans


def contains_card_number(text: str) -> bool:
    return bool(card_number_spans(text))


def scrub(text: str) -> str:
    """``text`` with every card number replaced by ``[card number]``."""
    spans = card_number_spans(text)
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], REPLACEMENT]
        position = end
    parts.append(text[position:])
    return "".join(parts)
