"""Read labeled transactions into the pipeline's transaction format.

Three formats:

- ``ours``: JSON lines, one transaction per line in the schema of ``lambdas/fraud/transaction.schema.json``
  plus the labels ``is_fraud`` (bool) and ``scenario`` (str), as written by ``tools.detection.simulate``. An
  optional ``local_hour`` is kept: the engine honours it.
- ``sparkov``: the CSV written by the Sparkov generator (``sparkov_train_150cards.csv.gz``).
- ``kaggle``: Kaggle's "Credit Card Transactions Fraud Detection" CSV: Sparkov's columns behind an
  unnamed index column.

Sparkov/Kaggle mapping (``../shared/data/README.md``): ``trans_num`` -> ``transaction_id``; ``cc_num`` ->
``user_id`` and ``card_id``, both as opaque tokens because a full card number must never reach the
pipeline; ``unix_time`` (seconds) -> ``timestamp`` (ms); the hour of ``trans_date_trans_time`` ->
``local_hour`` (in Kaggle's file ``unix_time`` is years behind the wall-clock column, so order comes from
``unix_time`` and the hour from the wall clock); ``amt`` -> ``amount`` (USD); ``merchant`` ->
``merchant_id``; ``category`` -> ``merchant_category``; ``merch_lat``/``merch_long`` -> ``location``;
``is_fraud`` -> the label. Sparkov cardholders are all in the United States, so ``country`` is ``US``.

Files may be gzip-compressed (detected from the content, not the name).

``read`` gives the transactions as dicts (the pipeline's format); ``read_items`` gives what the backtest
replays, the engine's ``Item`` of each transaction: for Sparkov/Kaggle it parses each CSV row straight
into an ``Item`` (no dict in between), the slow part of a replay otherwise.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fraud.history import LOG_SCALE, Item

FORMATS = ("ours", "sparkov", "kaggle")

SPARKOV_COLUMNS = (
    "trans_date_trans_time",
    "cc_num",
    "merchant",
    "category",
    "amt",
    "first",
    "last",
    "gender",
    "street",
    "city",
    "state",
    "zip",
    "lat",
    "long",
    "city_pop",
    "job",
    "dob",
    "trans_num",
    "unix_time",
    "merch_lat",
    "merch_long",
    "is_fraud",
)
_REQUIRED_SPARKOV = (
    "trans_date_trans_time",
    "cc_num",
    "merchant",
    "category",
    "amt",
    "trans_num",
    "unix_time",
    "merch_lat",
    "merch_long",
    "is_fraud",
)


class DataFormatError(ValueError):
    """The file is not in the format asked for (or in none that can be detected)."""


@dataclass(frozen=True, slots=True)
class Labeled:
    """One transaction (the engine's input) with its ground truth."""

    transaction: dict
    is_fraud: bool
    scenario: str | None = None


def open_text(path: str | Path) -> IO[str]:
    """Open ``path`` for reading as UTF-8 text, decompressing gzip when the file starts with its magic."""
    path = Path(path)
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        # Decompress in 1 MiB reads; the caller closes the returned stream (and with it the gzip file).
        raw = io.BufferedReader(gzip.open(path, "rb"), buffer_size=1 << 20)  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="", buffering=1 << 20)


def detect_format(path: str | Path) -> str:
    """Name the format of ``path`` from its first line."""
    with open_text(path) as handle:
        first = handle.readline()
    if first.lstrip().startswith("{"):
        return "ours"
    header = next(csv.reader([first]), [])
    if header[:1] == [""] and "trans_num" in header:
        return "kaggle"
    if "trans_num" in header:
        return "sparkov"
    raise DataFormatError(
        f"{path}: cannot detect the format from the first line {first[:80]!r}; "
        f"expected JSON lines (ours) or a Sparkov/Kaggle CSV header; pass --format"
    )


def _format(path: str | Path, fmt: str | None) -> str:
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DataFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def read(path: str | Path, fmt: str | None = None) -> list[Labeled]:
    """All labeled transactions of ``path``, sorted by timestamp (stable: file order breaks ties)."""
    fmt = _format(path, fmt)
    with open_text(path) as handle:
        records = list(read_ours(handle, path) if fmt == "ours" else read_sparkov(handle, path))
    records.sort(key=lambda record: record.transaction["timestamp"])
    return records


def read_items(path: str | Path, fmt: str | None = None) -> list[tuple[Item, bool, str | None]]:
    """``(item, is_fraud, scenario)`` for every transaction of ``path``, where ``item`` is the engine's
    ``Item`` of the transaction ``read`` gives (equal in every field), in the same order."""
    fmt = _format(path, fmt)
    records: list[tuple[Item, bool, str | None]]
    with open_text(path) as handle:
        if fmt == "ours":
            records = [
                (Item(record.transaction), record.is_fraud, record.scenario) for record in read_ours(handle, path)
            ]
        else:
            records = read_sparkov_items(handle, path)
    records.sort(key=lambda record: record[0].ts)
    return records


def read_ours(handle: IO[str], name: str | Path = "<stream>") -> Iterator[Labeled]:
    """Parse JSON lines written by ``tools.detection.simulate``; blank lines are skipped."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(f"{name}:{number}: not JSON: {error}") from None
        if not isinstance(record, dict) or "is_fraud" not in record or "timestamp" not in record:
            raise DataFormatError(f"{name}:{number}: expected an object with 'timestamp' and 'is_fraud'")
        is_fraud = record.pop("is_fraud")
        scenario = record.pop("scenario", None)
        if not isinstance(is_fraud, bool):
            raise DataFormatError(f"{name}:{number}: 'is_fraud' must be true or false, got {is_fraud!r}")
        yield Labeled(record, is_fraud, scenario)


def card_token(card_number: str) -> str:
    """A stable opaque token for a card number (the pipeline rejects full card numbers)."""
    return "card-" + hashlib.blake2b(card_number.encode(), digest_size=8).hexdigest()


def _columns(reader: Iterator[list[str]], name: str | Path) -> list[int]:
    """The indexes of ``_REQUIRED_SPARKOV`` in the header (the reader's first row), in that order."""
    header = next(reader, None)
    if header is None:
        raise DataFormatError(f"{name}: empty file")
    missing = [column for column in _REQUIRED_SPARKOV if column not in header]
    if missing:
        raise DataFormatError(f"{name}: not a Sparkov/Kaggle CSV, missing columns {', '.join(missing)}")
    return [header.index(column) for column in _REQUIRED_SPARKOV]


def read_sparkov(handle: IO[str], name: str | Path = "<stream>") -> Iterator[Labeled]:
    """Parse a Sparkov CSV, or Kaggle's (its leading unnamed index column is ignored)."""
    reader = csv.reader(handle)
    (i_time, i_card, i_merchant, i_category, i_amount, i_id, i_unix, i_lat, i_lon, i_label) = _columns(reader, name)
    tokens: dict[str, str] = {}
    token_of = tokens.get
    labels = {"0": False, "1": True}
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            card = row[i_card]
            token = token_of(card)
            if token is None:
                token = tokens[card] = card_token(card)
            transaction = {
                "transaction_id": row[i_id],
                "user_id": token,
                "card_id": token,
                "amount": float(row[i_amount]),
                "currency": "USD",
                "merchant_id": row[i_merchant],
                "merchant_category": row[i_category],
                "timestamp": int(row[i_unix]) * 1000,
                "country": "US",
                "location": {"lat": float(row[i_lat]), "lon": float(row[i_lon])},
                "local_hour": int(row[i_time][11:13]),
            }
            label = labels[row[i_label]]
        except (IndexError, ValueError) as error:
            raise DataFormatError(f"{name}:{number}: bad row: {error}") from None
        except KeyError:
            raise DataFormatError(f"{name}:{number}: is_fraud must be 0 or 1, got {row[i_label]!r}") from None
        yield Labeled(transaction, label)


def read_sparkov_items(handle: IO[str], name: str | Path = "<stream>") -> list[tuple[Item, bool, str | None]]:
    """``read_sparkov`` straight into ``(Item, is_fraud, None)`` in file order, without the dict: the
    fields are set as ``Item(transaction)`` sets them from ``read_sparkov``'s transaction (the tests
    compare every field)."""
    reader = csv.reader(handle)
    (i_time, i_card, i_merchant, i_category, i_amount, i_id, i_unix, i_lat, i_lon, i_label) = _columns(reader, name)
    tokens: dict[str, str] = {}
    token_of = tokens.get
    labels = {"0": False, "1": True}
    new, log, scale = object.__new__, math.log, LOG_SCALE
    records: list[tuple[Item, bool, str | None]] = []
    add = records.append
    row: list[str] = []
    try:
        for row in reader:
            if not row:
                continue
            card = row[i_card]
            token = token_of(card)
            if token is None:
                token = tokens[card] = card_token(card)
            item = new(Item)
            item.transaction_id = row[i_id]
            item.user_id = token
            item.ts = int(row[i_unix]) * 1000
            item.arrival = None
            item.amount = amount = float(row[i_amount])
            item.cents = round(amount * 100)
            item.log_amount = log_amount = log(amount) if amount > 0 else 0.0
            item.log_q = round(log_amount * scale)
            item.category = row[i_category]
            item.hour = int(row[i_time][11:13]) % 24
            item.country = "US"
            item.device = None
            item.merchant = row[i_merchant]
            item.lat = float(row[i_lat])
            item.lon = float(row[i_lon])
            add((item, labels[row[i_label]], None))
    except (IndexError, ValueError) as error:
        raise DataFormatError(f"{name}:{reader.line_num}: bad row: {error}") from None
    except KeyError:
        raise DataFormatError(f"{name}:{reader.line_num}: is_fraud must be 0 or 1, got {row[i_label]!r}") from None
    return records
