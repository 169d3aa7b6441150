"""How often the card-number detector (``fraud.card_numbers``) is wrong, on generated strings.

    python -m tools.detection.card_number_rates                # 20,000 of each kind, seed 7
    python -m tools.detection.card_number_rates --n 50000 --seed 11 --json

Three families of kinds, each string drawn from one seeded random source (the same ``--n`` and
``--seed`` give the same strings, so two versions of the detector can be compared on the same data):

- ``IDENTIFIERS``: what payment systems put in id fields, request ids and log lines (UUIDs, hex
  hashes, prefixed ids, ULIDs, epoch-millisecond order ids, timestamps, addresses). None is a card
  number; each one the detector flags is a false positive: a refused transaction, a scrubbed log line.
- ``FORMS``: Luhn-valid numbers of the networks in ``fraud.card_numbers.NETWORKS`` (network drawn
  uniformly, then its prefix range and length), written the ways people and systems write them. Each
  one the detector misses is a false negative: a card number in the table, a log line or an alert.
  ``PER_NETWORK`` gives the same per network, over the written forms the detector looks for (one,
  a number written one digit at a time, it leaves alone by design).
- ``SHAPES``: all-digit identifiers of a card number's length, which the detector refuses when some
  network issues numbers of that prefix and length (docs/configuration.md, "Card numbers").

The detector is a fixed rule, fitted on nothing: these strings are new data for it (the unit tests'
examples and hypothesis draws are separate).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fraud.card_numbers import MIN_DIGITS, NETWORKS, Network, contains_card_number, luhn_valid, prefix_range
from tools._cli import progress, run

DEFAULT_N = 20_000
DEFAULT_SEED = 7
BASE62 = string.digits + string.ascii_letters
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # ULID's alphabet
STRIPE_PREFIXES = ("cus_", "ch_", "pi_", "pm_", "tok_", "card_", "src_", "txn_", "acct_", "re_", "evt_")
EPOCH_2015_MS = 1_420_070_400_000
EPOCH_2033_MS = 1_999_999_999_999  # the last 13-digit epoch millisecond starting with 1 (2033-05-18)

Generate = Callable[[random.Random], str]


@dataclass(frozen=True)
class Kind:
    name: str
    generate: Generate


# --- identifiers (none is a card number) ------------------------------------------------------


def _chars(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choices(alphabet, k=size))


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def any_uuid(rng: random.Random) -> str:
    """128 random bits in the 8-4-4-4-12 layout (name-based UUIDs, hashes shown as UUIDs)."""
    return str(uuid.UUID(int=rng.getrandbits(128)))


def hex_id(bits: int) -> Generate:
    return lambda rng: f"{rng.getrandbits(bits):0{bits // 4}x}"


def prefixed_id(rng: random.Random) -> str:
    """Stripe-style: a type prefix and 14 or 24 base62 characters (``cus_NffrFeUfNV2Hib``)."""
    return rng.choice(STRIPE_PREFIXES) + _chars(rng, BASE62, rng.choice((14, 24)))


def ulid(rng: random.Random) -> str:
    """48 bits of epoch milliseconds and 80 random bits, Crockford base32 (26 characters)."""
    value = (rng.randrange(EPOCH_2015_MS, EPOCH_2033_MS) << 80) | rng.getrandbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def epoch_ms(rng: random.Random) -> int:
    return rng.randrange(EPOCH_2015_MS, EPOCH_2033_MS)


def order_id(rng: random.Random) -> str:
    """An epoch-millisecond order id: bare or with a prefix, sometimes with a sequence suffix."""
    prefix = rng.choice(("", "order-", "ord_", "o-", "order "))
    suffix = rng.choice(("", f"-{rng.randrange(1000)}", f"_{rng.randrange(10)}"))
    return f"{prefix}{epoch_ms(rng)}{suffix}"


def iso_timestamp(rng: random.Random) -> str:
    """ISO 8601 as APIs and log lines write it: extended with Z or an offset, logging's comma form, basic."""
    when = datetime.fromtimestamp(epoch_ms(rng) / 1000, UTC)
    millis = when.microsecond // 1000
    offset = timedelta(minutes=15 * rng.randrange(-48, 57))
    local = when + offset
    sign, minutes = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds())) // 60
    return rng.choice(
        (
            f"{when:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z",
            f"{when:%Y-%m-%dT%H:%M:%S}Z",
            f"{local:%Y-%m-%dT%H:%M:%S}{sign}{minutes // 60:02d}:{minutes % 60:02d}",
            f"{when:%Y-%m-%d %H:%M:%S},{millis:03d}",
            f"{when:%Y%m%dT%H%M%S}Z",
        )
    )


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randrange(1, 256) if i == 0 else rng.randrange(256)) for i in range(4))


def forwarded_for(rng: random.Random) -> str:
    """An X-Forwarded-For value: two to four addresses."""
    return ", ".join(ipv4(rng) for _ in range(rng.randint(2, 4)))


def coordinates(rng: random.Random) -> str:
    return f"{rng.uniform(-90, 90):.{rng.randint(4, 6)}f}, {rng.uniform(-180, 180):.{rng.randint(4, 6)}f}"


def phone_number(rng: random.Random) -> str:
    """A phone number as people write it: E.164, or grouped with spaces or dashes."""
    country = rng.choice(("1", "44", "49", "33", "91", "55", "86"))
    national = _chars(rng, string.digits, 10)
    return rng.choice(
        (
            f"+{country}{national}",
            f"+{country} {national[:3]} {national[3:6]} {national[6:]}",
            f"+{country}-{national[:3]}-{national[3:6]}-{national[6:]}",
            f"({national[:3]}) {national[3:6]}-{national[6:]}",
        )
    )


def small_numbers(rng: random.Random) -> str:
    """A list of small numbers as Python or JSON prints it (hours, counts, codes)."""
    return str([rng.randrange(rng.choice((10, 100, 1000))) for _ in range(rng.randint(5, 20))])


def sequence_number(rng: random.Random) -> str:
    """A DynamoDB stream record's sequence number (21 to 40 digits)."""
    return str(rng.randrange(10**20, 10**40))


def arn(rng: random.Random) -> str:
    account = f"{rng.randrange(10**12):012d}"
    return f"arn:aws:lambda:us-east-1:{account}:function:detect-fraud-{rng.choice(('dev', 'prod', 'pr-42'))}"


def trace_id(rng: random.Random) -> str:
    """An X-Ray trace id: version, epoch seconds in hex, 96 random bits."""
    return f"1-{epoch_ms(rng) // 1000:08x}-{rng.getrandbits(96):024x}"


def amount(rng: random.Random) -> str:
    return f"{rng.randrange(1, 10**6)}.{rng.randrange(100):02d} {rng.choice(('USD', 'EUR', 'GBP'))}"


def log_message(rng: random.Random) -> str:
    """A log line's message built from the identifiers above."""
    return (
        f"Transaction {uuid4(rng)} of {prefixed_id(rng)} scored {rng.randrange(100)} at {iso_timestamp(rng)}"
        f" from {ipv4(rng)} (device {hex_id(256)(rng)}, request {uuid4(rng).upper()}, {rng.randrange(1, 900)} ms)"
    )


IDENTIFIERS: tuple[Kind, ...] = (
    Kind("UUID v4", uuid4),
    Kind("UUID v4, upper case", lambda rng: uuid4(rng).upper()),
    Kind("UUID layout, any 128 bits", any_uuid),
    Kind("32 hex (uuid4().hex)", hex_id(128)),
    Kind("32 hex, upper case", lambda rng: hex_id(128)(rng).upper()),
    Kind("40 hex (SHA-1)", hex_id(160)),
    Kind("64 hex (SHA-256, fingerprint)", hex_id(256)),
    Kind("prefixed id (cus_, ch_, tok_ ...)", prefixed_id),
    Kind("ULID", ulid),
    Kind("epoch-ms order id", order_id),
    Kind("ISO 8601 timestamp", iso_timestamp),
    Kind("X-Ray trace id", trace_id),
    Kind("IPv4 address", ipv4),
    Kind("X-Forwarded-For list", forwarded_for),
    Kind("latitude, longitude", coordinates),
    Kind("phone number", phone_number),
    Kind("list of small numbers", small_numbers),
    Kind("DynamoDB sequence number", sequence_number),
    Kind("ARN with account id", arn),
    Kind("amount", amount),
    Kind("log message with ids", log_message),
)


# --- card numbers, written out ----------------------------------------------------------------


def complete(body: str) -> str:
    """``body`` and the check digit that makes it pass the Luhn check."""
    return next(body + digit for digit in "0123456789" if luhn_valid(body + digit))


def card_number(network: Network, rng: random.Random, length: int | None = None) -> str:
    """A Luhn-valid number of ``network``: one of its prefix ranges, one of its lengths (at least
    ``MIN_DIGITS`` unless ``length`` is given)."""
    low, high = prefix_range(rng.choice(network.prefixes))
    head = str(rng.randint(low, high))
    if length is None:
        length = rng.choice([n for n in network.lengths if n >= MIN_DIGITS])
    return complete(head + _chars(rng, string.digits, length - len(head) - 1))


def grouped(number: str) -> list[str]:
    """How a card shows its number: 4-6-5 (15 digits), 4-6-4 (14), otherwise fours."""
    cuts = {15: (4, 10), 14: (4, 10)}.get(len(number), range(4, len(number), 4))
    bounds = [0, *cuts, len(number)]
    return [number[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def joined(*separators: str) -> Callable[[str, random.Random], str]:
    """The groups joined by one separator drawn from ``separators`` (the same one throughout)."""
    return lambda number, rng: rng.choice(separators).join(grouped(number))


def digits_of(zero: int) -> Callable[[str], str]:
    return lambda text: text.translate({48 + d: zero + d for d in range(10)})


FULL_WIDTH = digits_of(0xFF10)
# Decimal digits of other scripts: Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai,
# mathematical bold.
OTHER_DIGITS = tuple(digits_of(zero) for zero in (0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE))
SPACES = ("\u00a0", "\u2007", "\u2009", "\u202f", "\u3000")  # no-break, figure, thin, narrow no-break, ideographic
DASHES = ("\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d")  # hyphen .. full-width
SENTENCES = (
    "please charge {} for order 42",
    "Card: {}. Thanks!",
    "my card number is {} exp 12/27",
    '{{"pan": "{}", "amount": 912.40}}',
    "カード番号は{}です",  # CJK text puts digits right against its characters
)

Write = Callable[[str, random.Random], str]


@dataclass(frozen=True)
class Form:
    name: str
    write: Write
    looked_for: bool = True  # False: a form the detector leaves alone by design (fraud/card_numbers.py)


FORMS: tuple[Form, ...] = (
    Form("digits only", lambda number, rng: number),
    Form("spaces", joined(" ")),
    Form("other spaces (no-break, thin, ideographic)", joined(*SPACES)),
    Form("hyphens", joined("-")),
    Form("other dashes (en, em, minus, full-width)", joined(*DASHES)),
    Form("spaced dashes (' - ', ' \u2013 ')", joined(" - ", " \u2013 ")),
    Form("dots", joined(".")),
    Form("underscores", joined("_")),
    Form("slashes", joined("/", " / ")),
    Form("commas", joined(",", ", ")),
    Form("mixed separators", lambda number, rng: "".join(g + rng.choice(" -._/,") for g in grouped(number))[:-1]),
    Form("one digit at a time", lambda number, rng: " ".join(number), looked_for=False),
    Form(
        "full-width digits",
        lambda number, rng: FULL_WIDTH(rng.choice(("", " ", "\u3000", "\uff0d")).join(grouped(number))),
    ),
    Form(
        "other scripts' digits",
        lambda number, rng: rng.choice(OTHER_DIGITS)(rng.choice(("", " ")).join(grouped(number))),
    ),
    Form("tok_ prefix", lambda number, rng: f"tok_{number}"),
    Form(
        "in a sentence", lambda number, rng: rng.choice(SENTENCES).format(rng.choice(("", " ")).join(grouped(number)))
    ),
)


def forms_of(network: Network) -> Generate:
    """A number of ``network`` in a form drawn from the ``FORMS`` looked for."""
    forms = [form for form in FORMS if form.looked_for]
    return lambda rng: rng.choice(forms).write(card_number(network, rng), rng)


def in_form(form: Form) -> Generate:
    """A number of a network drawn uniformly, written in ``form``."""
    return lambda rng: form.write(card_number(rng.choice(NETWORKS), rng), rng)


def _maestro_12(rng: random.Random) -> str:
    maestro = next(network for network in NETWORKS if network.name == "Maestro")
    return card_number(maestro, rng, length=12)


CARD_NUMBERS: tuple[Kind, ...] = tuple(
    Kind(form.name if form.looked_for else f"{form.name} (not looked for)", in_form(form)) for form in FORMS
)
PER_NETWORK: tuple[Kind, ...] = (
    *(Kind(network.name, forms_of(network)) for network in NETWORKS),
    Kind("Maestro, 12 digits (shorter than MIN_DIGITS)", _maestro_12),
)


# --- all-digit identifiers of a card number's length ------------------------------------------


def all_digits(lengths: Sequence[int]) -> Generate:
    return lambda rng: _chars(rng, string.digits, rng.choice(lengths))


SHAPES: tuple[Kind, ...] = (
    Kind("13-19 random digits", all_digits(range(13, 20))),
    Kind("16 random digits", all_digits((16,))),
    Kind("16 digits passing the Luhn check", lambda rng: complete(_chars(rng, string.digits, 15))),
)


# --- measuring --------------------------------------------------------------------------------


def upper_bound(flagged: int, n: int, z: float = 1.96) -> float:
    """The upper end of the Wilson score interval (95 %) of the rate ``flagged / n``."""
    p = flagged / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


def measure(kinds: Sequence[Kind], n: int, seed: int, *, cards: bool) -> list[dict]:
    """Per kind: ``n`` strings from its own seeded source and how many the detector gets wrong: the
    ones it flags (``cards`` false) or misses (``cards`` true). No string is kept or printed: a
    generated number can be a real card's."""
    rows = []
    for kind in kinds:
        rng = random.Random(f"{seed}:{kind.name}")
        flagged = sum(contains_card_number(kind.generate(rng)) for _ in range(n))
        wrong = n - flagged if cards else flagged
        rows.append({"kind": kind.name, "n": n, "wrong": wrong, "rate": wrong / n, "upper_95": upper_bound(wrong, n)})
        progress(f"  {kind.name}: {wrong:,} of {n:,} {'missed' if cards else 'flagged'}")
    return rows


# section -> (its kinds, whether they are card numbers, the title of its table)
SECTIONS: dict[str, tuple[tuple[Kind, ...], bool, str]] = {
    "identifiers": (IDENTIFIERS, False, "Identifiers: flagged = false positive"),
    "card_numbers": (CARD_NUMBERS, True, "Card numbers by written form, networks mixed: missed = false negative"),
    "per_network": (
        PER_NETWORK,
        True,
        "Card numbers by network, written forms looked for mixed: missed = false negative",
    ),
    "shapes": (SHAPES, False, "All-digit identifiers of a card number's length: flagged = refused by decision"),
}


def measure_all(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> dict[str, list[dict]]:
    result = {}
    for name, (kinds, cards, _) in SECTIONS.items():
        progress(f"{name} ({len(kinds)} kinds x {n:,})")
        result[name] = measure(kinds, n, seed, cards=cards)
    return result


def _percent(rate: float) -> str:
    return f"{100 * rate:.3f} %"


def report(result: dict[str, list[dict]]) -> str:
    lines = []
    for name, rows in result.items():
        _, cards, title = SECTIONS[name]
        lines += [
            "",
            title,
            f"  {'kind':50s} {'n':>7s} {'missed' if cards else 'flagged':>8s} {'rate':>9s}  95 % up to",
        ]
        for row in rows:
            lines.append(
                f"  {row['kind']:50s} {row['n']:7,d} {row['wrong']:8,d} {_percent(row['rate']):>9s}"
                f"  {_percent(row['upper_95'])}"
            )
    return "\n".join(lines).lstrip("\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.card_number_rates", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"strings per kind (default {DEFAULT_N:,})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    result = measure_all(args.n, args.seed)
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
