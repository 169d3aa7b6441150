"""The one card-number detector: request validation, the log scrubber and alert formatting all use it.

A card number (PAN) is 13 to 19 digits that pass the Luhn check and start with a prefix that some card
network issues at that length (``NETWORKS``: the ISO/IEC 7812 issuer identification numbers as the
networks publish them). It is found however it is written:

- Each character is read as one character, so offsets in the text as read are those of the original
  and ``scrub`` replaces exactly what was found: its NFKC form when that is one character (full-width
  ``４１１１``, ``，`` and ``／``, superscript and circled digits, no-break and ideographic spaces), any
  script's decimal digit as the ASCII digit (``٤١١١``), any space or invisible format character
  (zero-width space, soft hyphen) as a space, any dash (Unicode Pd, the minus sign) as a hyphen. A
  character whose NFKC form is several characters (``½``, ``⑩``, ligatures) is read as itself.
- Digit groups joined by 1 to 3 separator characters: spaces, dashes, dots, underscores, slashes,
  commas (``4111 1111 1111 1111``, ``4111 - 1111 - 1111 - 1111``, ``4111/1111/1111/1111``). Every run
  of consecutive groups is tried, so a number beside other numbers or inside a sentence is found
  (``ref 4111111111111111 9``, ``please charge 4111 1111 1111 1111``, ``tok_4111111111111111``).
- Written out, a card number is groups of 4 to 6 digits, the last one 1 to 6 (4-4-4-4, 4-6-5,
  4-4-4-4-3): a group of more than 6 digits counts only on its own (``order-20250115-1234567`` is an
  id), a group of 1 to 3 digits only at the end, so addresses, dates, coordinates and lists of small
  numbers (``203.0.113.10, 70.41.3.18``, ``[3, 14, 15, 92]``) never chain into one. A number written one
  digit at a time (``4 1 1 1 ...``, or with an invisible character between the digits) is not found.

Digits that touch a letter are part of a token, not a card number written out. Identifiers are ASCII
letters and digits: hex (UUIDs in either case, hashes, ``uuid4().hex``, device fingerprints), base32
(ULIDs), base62 (``cus_NffrFeUfNV2Hib``). Their digits fall in runs that, read as card numbers, pass the
prefix and Luhn checks often enough to refuse about 0.1 % of such ids, the same ids every time
(``1098d6a9-0494-4815-8587-18296e887807`` held ``9-0494-4815-8587-18296``). So a digit group that
touches an ASCII letter (after NFKC) on either side does not count and ends the run: a UUID's
all-digit segments then chain to at most 12 digits (its 4-4-4 middle), a hex id's or a ULID's to none
unless the whole id is digits (too long to be a card number). Separators and punctuation are not
letters: ``tok_4111111111111111``, ``card-4111 1111 1111 1111`` and ``pan:4111111111111111`` are refused,
``tok4111111111111111`` is not. Letters of other scripts do not count here: Chinese and Japanese text
puts digits right against its characters (``卡号4111111111111111`` is refused).

Maestro also issues 12-digit numbers; they are not looked for: 12 digits is an AWS account id (in the
ARNs of every log line) and the 4-4-4 middle of every UUID.

An identifier made only of digits that has exactly a card number's shape (13 to 19 digits, a network's
prefix at that length, Luhn-valid) is refused, by decision: nothing tells it from a card number, and
accepting it would put what may be a card number into the table, the logs and the alerts, and those
into PCI DSS scope. About 4 % of random 16-digit ids are such (``tools.detection.card_number_rates``).
The prefix table keeps out what no network issues: epoch-millisecond timestamps (13 digits starting
with 1; UATP's numbers start with 1 but have 15 digits), stream sequence numbers (21 digits or more),
any number starting with 0 or 7. Numbers (JSON numbers, ints in a log record) are not strings and are
never looked at.

Every string of every request and every log line comes through here: text shorter than 13
characters and ASCII digit runs shorter than 13 characters are passed over first, ASCII text (nearly
all of it) is read as it is, and other text is read character by character only when its NFKC form
holds 13 digits or more.
"""

from __future__ import annotations

import bisect
import re
import string
import unicodedata
from typing import NamedTuple

MIN_DIGITS = 13
MAX_DIGITS = 19
MIN_GROUP_DIGITS = 4  # a card number written out: groups of 4 to 6 digits (Amex: 4-6-5) ...
MAX_GROUP_DIGITS = 6
MAX_SEPARATORS = 3  # ... joined by up to 3 separator characters ("4111 - 1111")
REPLACEMENT = "[card number]"

# Digit groups joined by separators, in text as it reads (``_READS_AS``: every space is a space, every
# dash a hyphen).
_RUN = re.compile(rf"[0-9]+(?:[\s\-._/,]{{1,{MAX_SEPARATORS}}}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[\s\-._/,]+")
_DIGIT = re.compile(r"\d")  # a decimal digit of any script
_LETTERS = frozenset(string.ascii_letters)


class Network(NamedTuple):
    """A card network's numbers: IIN prefixes (``"4"``, ``"2221-2720"``: a range of equally long
    prefixes) and the lengths of the numbers it issues."""

    name: str
    prefixes: tuple[str, ...]
    lengths: tuple[int, ...]


_ANY = tuple(range(16, 20))
# The networks' published number ranges (ISO/IEC 7812-1 issuer identification numbers) and lengths,
# as collected in Wikipedia's "Payment card number" (Issuer identification number table, 2024), with
# Maestro's whole range (50, 56-69, 12 to 19 digits) and UnionPay's 81 series. Defunct networks
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


def _reads_as(char: str) -> str:
    """The one character ``char`` reads as: its NFKC form when that is one character, then any
    script's decimal digit as the ASCII digit, a space or an invisible format character as " ", a dash
    as "-"; ``char`` itself when its NFKC form is several characters (``½``, ``⑩``, ligatures)."""
    normal = unicodedata.normalize("NFKC", char)
    if len(normal) != 1:
        normal = char
    category = unicodedata.category(normal)
    if category == "Nd":
        return str(unicodedata.decimal(normal))
    if category == "Cf" or normal.isspace():
        return " "
    if category == "Pd" or normal == "\u2212":  # the minus sign is a math symbol (Sm), written as a dash
        return "-"
    return normal


class _ReadsAs(dict[int, str]):
    """``str.translate`` table: code point -> the character it reads as (``_reads_as``), filled on
    first sight; the translation keeps every offset, so spans found in it are spans of the original."""

    LIMIT = 65_536  # characters remembered; beyond, computed each time (text with every code point)

    def __init__(self) -> None:
        super().__init__((code, chr(code)) for code in range(128))

    def __missing__(self, code: int) -> str:
        reads_as = _reads_as(chr(code))
        if len(self) < self.LIMIT:
            self[code] = reads_as
        return reads_as


_READS_AS = _ReadsAs()


def _is_card_number(digits: str) -> bool:
    return MIN_DIGITS <= len(digits) <= MAX_DIGITS and issued(digits) and luhn_valid(digits)


def _add(spans: list[tuple[int, int]], start: int, end: int) -> None:
    """Append ``(start, end)`` to ``spans`` (found in order of their start), merged with the last
    one when they overlap."""
    if spans and start <= spans[-1][1]:
        spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
    else:
        spans.append((start, end))


def _spans(text: str) -> list[tuple[int, int]]:
    """``card_number_spans`` of text as it reads (``_READS_AS``): ASCII digits, separators as
    ``_RUN`` knows them."""
    spans: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        start, end = run.span()
        if end - start < MIN_DIGITS:
            continue
        # A run begins and ends with digits: only its first and last group can touch a letter.
        glued_first = start > 0 and text[start - 1] in _LETTERS
        glued_last = end < len(text) and text[end] in _LETTERS
        if run.group().isdigit():  # one group: a number written without separators, an id
            if not (glued_first or glued_last) and _is_card_number(run.group()):
                _add(spans, start, end)
            continue
        digits = _SEPARATORS.split(run.group())
        skipped = 1 if glued_first else 0
        digits = digits[skipped : len(digits) - 1 if glued_last else len(digits)]
        sizes = [len(group) for group in digits]
        if sum(sizes) < MIN_DIGITS:  # a UUID's 4-4-4 middle, a date
            continue
        # Whether group i and group i + 1 can be parts of one number written out: every group but
        # the last has 4 to 6 digits, the last at most 6.
        joins = [
            MIN_GROUP_DIGITS <= size <= MAX_GROUP_DIGITS and following <= MAX_GROUP_DIGITS
            for size, following in zip(sizes, sizes[1:], strict=False)
        ]
        groups: list[tuple[int, int]] = []  # (start, end) of each group in ``text``, once needed
        for first in range(len(digits)):
            last, total = first, sizes[first]
            while total <= MAX_DIGITS:
                if total >= MIN_DIGITS and _is_card_number("".join(digits[first : last + 1])):
                    groups = groups or [(m.start() + start, m.end() + start) for m in _GROUP.finditer(run.group())]
                    _add(spans, groups[skipped + first][0], groups[skipped + last][1])
                if last == len(joins) or not joins[last]:
                    break
                last += 1
                total += sizes[last]
    return spans


def card_number_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every card number in ``text``, in order, overlapping ones merged."""
    if len(text) < MIN_DIGITS:
        return []
    if text.isascii():
        return _spans(text)
    # Every digit a character reads as is a digit of the text's NFKC form (NFKC composes letters with
    # their marks, never a digit): with fewer than 13 of those there is nothing to look for.
    if len(_DIGIT.findall(unicodedata.normalize("NFKC", text))) < MIN_DIGITS:
        return []
    return _spans(text.translate(_READS_AS))


def contains_card_number(text: str) -> bool:
    return bool(card_number_spans(text))


def scrub(text: str) -> str:
    """``text`` with every card number replaced by ``[card number]``.

    Nothing the detector would find is left: every card number's whole span is replaced (its groups
    and the separators between them), and a replacement ends any run of digit groups (brackets are
    not separators), so no two groups left over join into a new one."""
    spans = card_number_spans(text)
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], REPLACEMENT]
        position = end
    parts.append(text[position:])
    return "".join(parts)
