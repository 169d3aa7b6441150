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

import bisect
import re
from typing import NamedTuple

MIN_DIGITS = 13
MAX_DIGITS = 19
MAX_GROUP_DIGITS = 6  # the longest digit group of a card number written with separators (Amex: 4-6-5)
CARD_FIRST_DIGITS = frozenset("23456")
REPLACEMENT = "[card number]"

# Digit groups joined by at most 3 separator characters.
_RUN = re.compile(r"\d+(?:[ ._-]{1,3}\d+)*")
_GROUP = re.compile(r"\d+")


class Network(NamedTuple):
    """A card network's numbers: IIN prefixes (``"4"``, ``"2221-2720"``: a range of equally long
    prefixes) and the lengths of the numbers it issues."""

    name: str
    prefixes: tuple[str, ...]
    lengths: tuple[int, ...]


_ANY = tuple(range(16, 20))
# The networks' published number ranges (ISO/IEC 7812-1 issuer identification numbers), as tabulated
# in Wikipedia's "Payment card number" (Issuer identification number table, 2024). Defunct networks
# (Bankcard, Diners Club enRoute, Laser, Solo, Switch) are left out; a network whose ranges another
# row already covers is listed all the same, so the table reads like its source.
NETWORKS: tuple[Network, ...] = (
    Network("UATP", ("1",), (15,)),
    Network("GPN", ("1946", "50", "56", "58", "60-63"), (16, 18, 19)),
    Network("Mir", ("2200-2204",), _ANY),
    Network("BORICA", ("2205",), _ANY),
    Network("Mastercard", ("2221-2720", "51-55"), (16,)),
    Network("Diners Club International", ("300-305", "3095", "36", "38-39"), (14, 15, *_ANY)),
    Network("China T-Union", ("31",), (19,)),
    Network("American Express", ("34", "37"), (15,)),
    Network("JCB", ("3528-3589",), _ANY),
    Network("LankaPay", ("357111",), (16,)),
    Network("Visa", ("4",), (13, 16, 19)),
    Network("Visa Electron", ("4026", "417500", "4508", "4844", "4913", "4917"), (16,)),
    Network("Dankort", ("5019", "4571"), (16,)),
    Network("Verve", ("506099-506198", "507865-507964", "650002-650027"), (16, 18, 19)),
    Network("RuPay", ("60", "65", "81", "82", "508", "353", "356"), (16,)),
    Network("Maestro", ("50", "56-69"), tuple(range(12, 20))),
    Network("AfriGo", ("56445600",), (18,)),
    Network("UzCard", ("8600", "5614"), (16,)),
    Network("UkrCard", ("60400100-60420099",), _ANY),
    Network("NPS Pridnestrovie", ("6054740-6054744",), (16,)),
    Network("Discover", ("6011", "644-649", "65", "622126-622925"), _ANY),
    Network("China UnionPay", ("62", "81"), _ANY),
    Network("InterPayment", ("636",), _ANY),
    Network("InstaPayment", ("637-639",), (16,)),
    Network("Napas", ("9704",), (16, 19)),
    Network("Troy", ("979200-979289",), (16,)),
    Network("Humo", ("9860",), (16,)),
)
IIN_DIGITS = 8  # the longest issuer identification number (ISO/IEC 7812-1:2017)


def prefix_range(prefix: str) -> tuple[int, int]:
    """``"2221-2720"`` -> ``(2221, 2720)``; ``"4"`` -> ``(4, 4)``."""
    low, _, high = prefix.partition("-")
    return int(low), int(high or low)


def _issued_ranges() -> dict[int, tuple[list[int], list[int]]]:
    """Per length, the merged ``[start, end)`` ranges of the numbers' first ``IIN_DIGITS`` digits that
    some network issues (sorted starts, ends), for a binary search."""
    ranges: dict[int, list[tuple[int, int]]] = {}
    for network in NETWORKS:
        for prefix in network.prefixes:
            low, high = prefix_range(prefix)
            scale = 10 ** (IIN_DIGITS - len(prefix.partition("-")[0]))
            for length in network.lengths:
                ranges.setdefault(length, []).append((low * scale, (high + 1) * scale))
    merged: dict[int, tuple[list[int], list[int]]] = {}
    for length, spans in ranges.items():
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(spans):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        merged[length] = (starts, ends)
    return merged


_ISSUED = _issued_ranges()


def issued(digits: str) -> bool:
    """True when some network issues card numbers of this length that start like ``digits``."""
    ranges = _ISSUED.get(len(digits))
    if ranges is None:
        return False
    starts, ends = ranges
    iin = int(digits[:IIN_DIGITS])
    i = bisect.bisect_right(starts, iin) - 1
    return i >= 0 and iin < ends[i]


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
