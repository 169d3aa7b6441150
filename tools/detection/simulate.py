"""Labeled card traffic with realistic per-user behaviour and known fraud scenarios.

Every simulated user has a home city (location, country, time zone), usual merchant categories with
their own amount level, a few regular merchants per category, active hours, a rate of transactions per
day and one or two devices for online purchases; a few take a legitimate trip. On top of that, some
users suffer one fraud incident of one of these scenarios (every scenario appears when there are
enough users):

- ``stolen_card_spree``: a burst of large purchases at night, in the categories fraudsters favour.
- ``card_testing``: many tiny online amounts within minutes from a device the user never used.
- ``account_takeover``: online purchases from a new device and a new country.
- ``impossible_travel``: a card-present purchase on another continent shortly after one at home.
- ``high_value``: one purchase many times the user's usual amount.

Output is our transaction format (``lambdas/fraud/transaction.schema.json``), with
``utc_offset_minutes`` set to the cardholder's home time zone (so posted transactions are judged at the
cardholder's local hour), plus ``local_hour`` (the cardholder's wall-clock hour, which the engine
honours; the backtest uses it, and it is removed before posting) and the labels ``is_fraud`` and
``scenario`` (``legit`` for genuine traffic). The same seed and time range give the same bytes.

    python -m tools.detection.simulate --users 500 --days 30 --seed 7 --output build/sim.jsonl
    python -m tools.detection.simulate --users 200 --days 7 --format csv > sim.csv
    python -m tools.detection.simulate --users 50 --days 2 --env dev --rate 20          # POST to a deployment
    python -m tools.detection.simulate --users 50 --days 2 --api-url URL --api-key KEY  # POST to any API

Python API (the demo uses it): ``generate(...)`` yields labeled transactions in time order,
``post(transactions, api_url, api_key, rate)`` sends them and returns a ``Summary``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from tools._cli import ToolError, progress, run

if TYPE_CHECKING:
    from tools.api_client import Api

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DEFAULT_START = "2025-01-01"
SCENARIOS = ("stolen_card_spree", "card_testing", "account_takeover", "impossible_travel", "high_value")
LABELS = ("is_fraud", "scenario", "local_hour")
"""Keys that are not part of the API's transaction (the API rejects unknown fields)."""
CSV_COLUMNS = (
    "transaction_id",
    "user_id",
    "card_id",
    "amount",
    "currency",
    "merchant_id",
    "merchant_category",
    "timestamp",
    "local_hour",
    "utc_offset_minutes",
    "country",
    "lat",
    "lon",
    "device_id",
    "ip_address",
    "channel",
    "is_fraud",
    "scenario",
)


@dataclass(frozen=True)
class City:
    name: str
    country: str
    currency: str
    lat: float
    lon: float
    utc_offset: float  # hours; daylight saving time is ignored


CITIES = (
    City("New York", "US", "USD", 40.71, -74.01, -5),
    City("Chicago", "US", "USD", 41.88, -87.63, -6),
    City("Denver", "US", "USD", 39.74, -104.99, -7),
    City("Los Angeles", "US", "USD", 34.05, -118.24, -8),
    City("Atlanta", "US", "USD", 33.75, -84.39, -5),
    City("Seattle", "US", "USD", 47.61, -122.33, -8),
    City("London", "GB", "GBP", 51.51, -0.13, 0),
    City("Berlin", "DE", "EUR", 52.52, 13.40, 1),
    City("Paris", "FR", "EUR", 48.86, 2.35, 1),
    City("Madrid", "ES", "EUR", 40.42, -3.70, 1),
    City("Sao Paulo", "BR", "BRL", -23.55, -46.63, -3),
    City("Tokyo", "JP", "JPY", 35.68, 139.69, 9),
    City("Sydney", "AU", "AUD", -33.87, 151.21, 10),
    City("Lagos", "NG", "NGN", 6.52, 3.38, 1),
    City("Mumbai", "IN", "INR", 19.08, 72.88, 5.5),
)
HOME_CITIES = CITIES[:10]  # cardholders live in North America and Europe; fraud also comes from elsewhere


@dataclass(frozen=True)
class Category:
    name: str
    median: float  # population median amount
    sigma: float  # spread of log(amount)
    online: bool
    popularity: float


CATEGORIES = (
    Category("grocery_pos", 60, 0.6, False, 10),
    Category("gas_transport", 45, 0.4, False, 9),
    Category("food_dining", 25, 0.7, False, 8),
    Category("shopping_pos", 40, 0.9, False, 8),
    Category("shopping_net", 45, 1.0, True, 6),
    Category("misc_net", 20, 1.0, True, 4),
    Category("misc_pos", 15, 0.9, False, 5),
    Category("entertainment", 30, 0.8, False, 6),
    Category("personal_care", 25, 0.7, False, 5),
    Category("health_fitness", 35, 0.7, False, 4),
    Category("home", 50, 0.9, False, 6),
    Category("kids_pets", 35, 0.8, False, 5),
    Category("travel", 120, 1.0, False, 2),
    Category("grocery_net", 55, 0.5, True, 3),
)
BY_NAME = {category.name: category for category in CATEGORIES}
MERCHANTS_PER_CATEGORY = 40


@dataclass
class User:
    """One simulated cardholder and the habits their genuine transactions follow."""

    index: int
    user_id: str
    card_id: str
    home: City
    per_day: float
    categories: list[Category]
    category_weights: list[float]
    merchants: dict[str, list[str]]
    amount_factor: float
    peak_hour: float
    hour_spread: float
    devices: list[tuple[str, str]]  # (device_id, ip_address)
    trip: tuple[City, int, int] | None = None  # (city, start day, days)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _ip(rng: random.Random) -> str:
    # Documentation ranges (RFC 5737): realistic shape, never a real host.
    block = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{block}.{rng.randint(1, 254)}"


def make_user(seed: int, index: int) -> User:
    rng = random.Random(f"{seed}/user/{index}")
    chosen = rng.sample(CATEGORIES, rng.randint(6, 11))
    weights = [category.popularity * rng.gammavariate(2.0, 1.0) for category in chosen]
    merchants = {
        category.name: [
            f"m-{category.name}-{rng.randrange(MERCHANTS_PER_CATEGORY):02d}" for _ in range(rng.randint(2, 4))
        ]
        for category in chosen
    }
    night_owl = rng.random() < 0.08
    devices = [(f"dev-{_hex(rng, 12)}", _ip(rng)) for _ in range(rng.choice((1, 1, 2)))]
    user = User(
        index=index,
        user_id=f"user-{index:05d}",
        card_id=f"card-{_hex(rng, 16)}",
        home=rng.choice(HOME_CITIES),
        per_day=min(max(rng.lognormvariate(math.log(2.0), 0.5), 0.3), 10.0),
        categories=chosen,
        category_weights=weights,
        merchants=merchants,
        amount_factor=rng.lognormvariate(0.0, 0.35),
        peak_hour=rng.uniform(20.0, 23.0) if night_owl else rng.gauss(14.0, 2.5),
        hour_spread=rng.uniform(2.5, 4.0),
        devices=devices,
    )
    return user


@dataclass
class _Clock:
    """Turns a day index and a local hour into UTC epoch milliseconds for one place."""

    start_ms: int

    def at(self, day: int, local_hour: float, city: City) -> int:
        return self.start_ms + day * DAY_MS + round((local_hour - city.utc_offset) * HOUR_MS)


def _local_hour(ts: int, city: City) -> int:
    return int(((ts + city.utc_offset * HOUR_MS) // HOUR_MS) % 24)


def _txn(
    user: User,
    ts: int,
    category: Category,
    merchant: str,
    amount: float,
    city: City,
    rng: random.Random,
    *,
    device: tuple[str, str] | None = None,
    country: str | None = None,
    fraud: str | None = None,
) -> dict:
    txn = {
        "transaction_id": "",  # numbered once the whole stream is in time order
        "user_id": user.user_id,
        "card_id": user.card_id,
        "amount": round(max(amount, 0.5), 2),
        "currency": user.home.currency,
        "merchant_id": merchant,
        "merchant_category": category.name,
        "timestamp": ts,
        "local_hour": _local_hour(ts, user.home),
        "utc_offset_minutes": round(user.home.utc_offset * 60),  # the cardholder's, even abroad
        "country": country or city.country,
        "channel": "online" if category.online else "pos",
    }
    if category.online:
        device_id, ip_address = device or rng.choice(user.devices)
        txn["device_id"] = device_id
        txn["ip_address"] = ip_address
    else:
        txn["location"] = {
            "lat": round(city.lat + rng.uniform(-0.2, 0.2), 4),
            "lon": round(city.lon + rng.uniform(-0.2, 0.2), 4),
        }
    txn["is_fraud"] = fraud is not None
    txn["scenario"] = fraud or "legit"
    return txn


def _usual_amount(user: User, category: Category, rng: random.Random) -> float:
    return category.median * user.amount_factor * rng.lognormvariate(0.0, category.sigma)


def _legit(user: User, clock: _Clock, days: int) -> list[dict]:
    rng = random.Random(f"{clock.start_ms}/{user.user_id}/legit")
    out = []
    for day in range(days):
        city = user.home
        if user.trip and user.trip[1] <= day < user.trip[1] + user.trip[2]:
            city = user.trip[0]
        # Poisson count of the day's transactions (Knuth's method: rates are small)
        count, threshold, product = 0, math.exp(-user.per_day), rng.random()
        while product > threshold:
            count += 1
            product *= rng.random()
        for _ in range(count):
            hour = rng.gauss(user.peak_hour, user.hour_spread) % 24
            category = rng.choices(user.categories, user.category_weights)[0]
            merchant = rng.choice(user.merchants[category.name])
            ts = clock.at(day, hour, city)
            out.append(_txn(user, ts, category, merchant, _usual_amount(user, category, rng), city, rng))
    return out


def _new_device(rng: random.Random) -> tuple[str, str]:
    return f"dev-{_hex(rng, 12)}", _ip(rng)


def _stranger_merchant(category: Category, rng: random.Random) -> str:
    return f"m-{category.name}-{rng.randrange(MERCHANTS_PER_CATEGORY, 2 * MERCHANTS_PER_CATEGORY):02d}"


def _incident(scenario: str, user: User, clock: _Clock, day: int, rng: random.Random) -> list[dict]:
    """The fraudulent transactions of one incident on ``user``'s card, starting on ``day``."""
    home = user.home
    foreign = rng.choice([city for city in CITIES if city.country != home.country])
    out: list[dict] = []
    if scenario == "stolen_card_spree":
        ts = clock.at(day, rng.uniform(0.0, 4.0), home)  # the small hours, while the cardholder sleeps
        device = _new_device(rng)
        for _ in range(rng.randint(4, 9)):
            category = BY_NAME[rng.choice(("shopping_net", "shopping_pos", "misc_net", "grocery_pos", "shopping_net"))]
            amount = category.median * rng.uniform(8.0, 25.0)
            out.append(
                _txn(
                    user,
                    ts,
                    category,
                    _stranger_merchant(category, rng),
                    amount,
                    home,
                    rng,
                    device=device,
                    fraud=scenario,
                )
            )
            ts += rng.randint(3, 40) * MINUTE_MS
    elif scenario == "card_testing":
        ts = clock.at(day, rng.uniform(0.0, 24.0), home)
        device = _new_device(rng)
        merchant = _stranger_merchant(BY_NAME["misc_net"], rng)
        for _ in range(rng.randint(5, 12)):
            out.append(
                _txn(
                    user,
                    ts,
                    BY_NAME["misc_net"],
                    merchant,
                    rng.uniform(0.5, 4.99),
                    home,
                    rng,
                    device=device,
                    country=foreign.country,
                    fraud=scenario,
                )
            )
            ts += rng.randint(10, 120) * 1000
    elif scenario == "account_takeover":
        ts = clock.at(day, rng.uniform(0.0, 24.0), home)
        device = _new_device(rng)
        for _ in range(rng.randint(2, 5)):
            category = BY_NAME[rng.choice(("shopping_net", "misc_net", "grocery_net"))]
            amount = _usual_amount(user, category, rng) * rng.uniform(3.0, 10.0)
            out.append(
                _txn(
                    user,
                    ts,
                    category,
                    _stranger_merchant(category, rng),
                    amount,
                    foreign,
                    rng,
                    device=device,
                    fraud=scenario,
                )
            )
            ts += rng.randint(2, 30) * MINUTE_MS
    elif scenario == "impossible_travel":
        far = rng.choice([city for city in CITIES if abs(city.lon - home.lon) > 60])
        ts = clock.at(day, rng.gauss(user.peak_hour, 1.0) % 24, home)
        category = BY_NAME["grocery_pos"]
        out.append(
            _txn(
                user,
                ts,
                category,
                rng.choice(user.merchants.get(category.name) or ["m-grocery_pos-00"]),
                _usual_amount(user, category, rng),
                home,
                rng,
            )
        )  # the cardholder, genuinely at home
        ts += rng.randint(20, 90) * MINUTE_MS
        for _ in range(rng.randint(1, 2)):
            category = BY_NAME[rng.choice(("shopping_pos", "misc_pos", "entertainment"))]
            out.append(
                _txn(
                    user,
                    ts,
                    category,
                    _stranger_merchant(category, rng),
                    _usual_amount(user, category, rng) * rng.uniform(1.0, 4.0),
                    far,
                    rng,
                    fraud=scenario,
                )
            )
            ts += rng.randint(5, 30) * MINUTE_MS
    elif scenario == "high_value":
        category = BY_NAME[rng.choice(("shopping_pos", "shopping_net", "travel"))]
        ts = clock.at(day, rng.gauss(user.peak_hour, 1.0) % 24, home)
        amount = max(category.median * user.amount_factor * rng.uniform(20.0, 60.0), 1200.0)
        out.append(_txn(user, ts, category, _stranger_merchant(category, rng), amount, home, rng, fraud=scenario))
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    return out


INCIDENT_SIZE = {
    "stolen_card_spree": 6.5,
    "card_testing": 8.5,
    "account_takeover": 3.5,
    "impossible_travel": 1.5,
    "high_value": 1.0,
}


def parse_start(value: str) -> int:
    """An ISO date or date-time (UTC unless it says otherwise) as epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(f"invalid start {value!r}: use an ISO date such as 2025-01-01 or 2025-01-01T12:00:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def generate(
    n_users: int = 200,
    days: float = 30,
    *,
    seed: int = 0,
    fraud_rate: float = 0.01,
    start_ms: int | None = None,
    end_ms: int | None = None,
    n_transactions: int | None = None,
) -> Iterator[dict]:
    """Labeled transactions of ``n_users`` users over ``days`` days, in time order.

    The period starts at ``start_ms``, or ends at ``end_ms`` (e.g. now, so an API accepts every
    timestamp); with neither it starts at 2025-01-01 UTC. ``fraud_rate`` is the target share of
    fraudulent transactions: it sets the number of incidents (at most one per user), which cycle
    through ``SCENARIOS``. ``n_transactions`` stops the stream after that many transactions.
    Same arguments, same output.
    """
    if n_users < 1:
        raise ValueError("n_users must be at least 1")
    if days <= 0:
        raise ValueError("days must be positive")
    if not 0 <= fraud_rate < 1:
        raise ValueError("fraud_rate must be in [0, 1)")
    whole_days = math.ceil(days)
    if start_ms is None:
        start_ms = parse_start(DEFAULT_START) if end_ms is None else end_ms - whole_days * DAY_MS
    clock = _Clock(start_ms)
    rng = random.Random(f"{seed}/incidents")
    users = [make_user(seed, index) for index in range(n_users)]
    for user in users:
        trip_rng = random.Random(f"{seed}/trip/{user.index}")
        if whole_days >= 4 and trip_rng.random() < 0.05:
            trip_days = trip_rng.randint(2, min(5, whole_days - 1))
            city = trip_rng.choice([city for city in CITIES if city is not user.home])
            user.trip = (city, trip_rng.randrange(1, whole_days - trip_days + 1), trip_days)

    transactions = [txn for user in users for txn in _legit(user, clock, whole_days)]
    if fraud_rate > 0:
        mean_size = sum(INCIDENT_SIZE.values()) / len(INCIDENT_SIZE)
        wanted = max(len(SCENARIOS), round(fraud_rate * len(transactions) / ((1 - fraud_rate) * mean_size)))
        victims = rng.sample(users, min(wanted, n_users))
        first_day = min(whole_days - 1, max(1, whole_days // 5))  # give users some history first
        for number, user in enumerate(victims):
            scenario = SCENARIOS[number % len(SCENARIOS)]
            day = rng.randint(first_day, whole_days - 1)
            transactions.extend(_incident(scenario, user, clock, day, rng))

    end = start_ms + round(days * DAY_MS) if end_ms is None else end_ms
    transactions = [txn for txn in transactions if start_ms <= txn["timestamp"] < end]
    transactions.sort(key=lambda txn: (txn["timestamp"], txn["user_id"]))
    prefix = f"sim{seed}-{start_ms // 1000:x}"
    for number, txn in enumerate(transactions[:n_transactions]):
        txn["transaction_id"] = f"{prefix}-{number:07d}"
        yield txn


# -- output ----------------------------------------------------------------------------------------------


def write_jsonl(transactions: Iterable[dict], out: IO[str]) -> int:
    count = 0
    for txn in transactions:
        out.write(json.dumps(txn, separators=(",", ":")) + "\n")
        count += 1
    return count


def write_csv(transactions: Iterable[dict], out: IO[str]) -> int:
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    count = 0
    for txn in transactions:
        row = {key: value for key, value in txn.items() if key != "location"}
        if "location" in txn:
            row["lat"], row["lon"] = txn["location"]["lat"], txn["location"]["lon"]
        row["is_fraud"] = int(txn["is_fraud"])
        writer.writerow(row)
        count += 1
    return count


def api_body(txn: dict) -> dict:
    """The transaction as the API takes it: labels and the simulator-only ``local_hour`` removed
    (``utc_offset_minutes`` stays: from it the engine derives the same local hour)."""
    return {key: value for key, value in txn.items() if key not in LABELS}


@dataclass
class Summary:
    """What happened to the posted transactions, by HTTP status (``error`` for no response)."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    by_status: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # status -> the first response body seen with it
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
            "by_status": {str(status): count for status, count in sorted(self.by_status.items(), key=str)},
            "examples": self.examples,
            "seconds": round(self.seconds, 2),
        }


def post(
    transactions: Iterable[dict],
    api_url: str,
    api_key: str | None,
    rate: float = 10.0,
    *,
    timeout: float = 10.0,
    show_progress: bool = True,
    credentials: Any = None,
    region: str = "us-east-1",
) -> Summary:
    """POST each transaction to ``api_url`` (header ``x-api-key``) at about ``rate`` per second, signed
    with SigV4 by ``credentials`` (botocore credentials) when given (an API that requires IAM).

    2xx counts as accepted, 4xx as rejected, anything else (5xx, no answer) as failed; the first body
    of each status is kept so a failure can be read. Nothing is retried: the summary is the truth.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    summary = Summary()
    began = last_report = time.monotonic()
    for txn in transactions:
        due = began + summary.sent / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        body = json.dumps(api_body(txn)).encode()
        if credentials:
            from tools.api_client import signed_headers  # botocore: only for an API that requires IAM

        signed = signed_headers(api_url, body, credentials, region, headers=headers) if credentials else headers
        request = urllib.request.Request(api_url, data=body, headers=signed, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            status, text = "error", str(getattr(error, "reason", error)).encode()
        summary.sent += 1
        summary.by_status[status] += 1
        summary.examples.setdefault(str(status), text[:300].decode(errors="replace"))
        if isinstance(status, int) and 200 <= status < 300:
            summary.accepted += 1
        elif isinstance(status, int) and 400 <= status < 500:
            summary.rejected += 1
        else:
            summary.failed += 1
        now = time.monotonic()
        if show_progress and now - last_report >= 1.0:
            last_report = now
            progress(
                f"  sent {summary.sent}: {summary.accepted} accepted, {summary.rejected} rejected,"
                f" {summary.failed} failed ({summary.sent / (now - began):.1f}/s)"
            )
    summary.seconds = time.monotonic() - began
    return summary


def deployment(suffix: str) -> Api:
    """The API of environment ``suffix`` from its Terraform outputs (URL, key, and the AWS credentials
    to sign with when it requires IAM)."""
    from tools.api_client import api_from_outputs
    from tools.deploy.tf import Stack  # needs terraform; only the --env path pays for it

    outputs = Stack(suffix).outputs()
    missing = [name for name in ("api_url", "api_key_value") if not outputs.get(name)]
    if missing:
        raise ToolError(
            f"environment {suffix} has no output {', '.join(missing)}: deploy it first (make deploy ENV={suffix})"
        )
    return api_from_outputs(outputs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.simulate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=200, help="simulated cardholders (default 200)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--days", type=float, default=None, help="length of the simulated period (default 30)")
    size.add_argument(
        "--transactions",
        type=int,
        default=None,
        help="stop after about this many transactions (sets the period from the users' rates)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fraud-rate", type=float, default=0.01, help="target share of fraudulent transactions")
    parser.add_argument(
        "--start",
        default=None,
        help=f"start of the period, ISO date (files default to {DEFAULT_START}; posting ends it now)",
    )
    out = parser.add_argument_group("output (a file or stdout, or an API)")
    out.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    out.add_argument("--output", "-o", default="-", help="file to write (default stdout)")
    out.add_argument("--api-url", help="POST each transaction to this URL instead of writing it")
    out.add_argument("--api-key", help="API key sent as x-api-key")
    out.add_argument("--env", help="POST to the deployment with this suffix (api_url, api_key_value from Terraform)")
    out.add_argument("--rate", type=float, default=10.0, help="transactions per second when posting (default 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.users < 1:
        raise ToolError("--users must be at least 1")
    if not 0 <= args.fraud_rate < 1:
        raise ToolError("--fraud-rate must be in [0, 1)")
    posting = bool(args.api_url or args.env)
    if args.api_url and args.env:
        raise ToolError("give --api-url or --env, not both")
    days = args.days or 30.0
    if args.transactions is not None:
        if args.transactions < 1:
            raise ToolError("--transactions must be at least 1")
        days = max(1.0, math.ceil(args.transactions * 1.1 / (args.users * 2.2)))  # ~2.2 per user per day
    if days <= 0:
        raise ToolError("--days must be positive")
    start_ms = parse_start(args.start) if args.start else None
    end_ms = None
    if posting and start_ms is None:
        end_ms = int(time.time() * 1000) - MINUTE_MS  # in the past, so the API accepts every timestamp
    stream = generate(
        args.users,
        days,
        seed=args.seed,
        fraud_rate=args.fraud_rate,
        start_ms=start_ms,
        end_ms=end_ms,
        n_transactions=args.transactions,
    )

    if posting:
        from tools.api_client import Api

        api = deployment(args.env) if args.env else Api(args.api_url, args.api_key)
        progress(f"posting to {api.url} at {args.rate:g}/s" + (" (signed, SigV4)" if api.signs else ""))
        summary = post(stream, api.url, api.api_key, args.rate, credentials=api.credentials, region=api.region)
        print(json.dumps(summary.as_dict(), indent=2))
        return 0 if summary.sent and summary.accepted == summary.sent else 1

    writer = write_csv if args.format == "csv" else write_jsonl
    if args.output == "-":
        try:
            count = writer(stream, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's documented recipe
            return 0
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            count = writer(stream, handle)
    progress(
        f"wrote {count} transactions ({args.users} users, {days:g} days, seed {args.seed})"
        + ("" if args.output == "-" else f" to {args.output}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
