"""The one benchmark entry point (``make bench``), in sections.

    python -m tools.bench                      # the default sections: imports, engine
    python -m tools.bench emulator             # the local cloud (see tools/emulator/bench.py)
    python -m tools.bench all --json           # every section, one JSON object

Sections (``SECTIONS``; to add one: a ``run(args) -> dict`` and a ``report(dict) -> str``, optionally
an ``add_arguments(parser)``, and one ``Section`` line):

- ``imports``: ``python -X importtime -c "import <module>"`` in a fresh interpreter with ``lambdas/``
  on PYTHONPATH; the cumulative time of the module's top-level import line, best of ``--repeat`` runs.
- ``engine``: a seeded synthetic stream scored through ``InMemoryHistoryStore`` + ``Engine.assess``
  (with ``record`` after each, as the backtest does), transactions per CPU second (one core;
  wall-clock rate too, which drops when the machine is busy).
- ``emulator``: the local cloud end to end, per stream routing and table size, with the per-hop
  breakdown (``tools.emulator.bench``; takes minutes, so only when asked for).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from tools._cli import LAMBDAS, ROOT, function_modules, run

HANDLERS = tuple(function_modules().values())
CATEGORIES = (
    "grocery_pos",
    "gas_transport",
    "shopping_net",
    "shopping_pos",
    "food_dining",
    "misc_net",
    "entertainment",
    "health_fitness",
    "home",
    "kids_pets",
    "personal_care",
    "travel",
)
COUNTRIES = ("US", "US", "US", "US", "CA", "GB", "FR", "DE", "MX")


def import_time_ms(module: str, repeat: int = 3) -> float:
    """Best cumulative import time of ``module`` in a fresh interpreter, in milliseconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(LAMBDAS), os.environ.get("PYTHONPATH")]))}
    best = math.inf
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"import {module} failed: {tail[0]}")
        for line in proc.stderr.splitlines():
            # "import time: self [us] | cumulative | imported package"; the top level has no indent
            parts = line.split("|")
            if len(parts) == 3 and parts[2].rstrip() == f" {module}":
                best = min(best, int(parts[1]) / 1000)
    if best == math.inf:
        raise RuntimeError(f"no importtime line for {module}")
    return best


def synthetic_stream(n: int, users: int = 2_000, seed: int = 7) -> list[dict]:
    """``n`` time-ordered transactions of ``users`` users with per-user habits (and some noise)."""
    rng = random.Random(seed)
    profiles = []
    for u in range(users):
        profiles.append(
            {
                "user_id": f"u{u}",
                "scale": math.exp(rng.gauss(3.8, 0.6)),
                "categories": rng.sample(CATEGORIES, 4),
                "country": rng.choice(COUNTRIES),
                "devices": [f"dev-{u}-{i}" for i in range(rng.randint(1, 3))],
                "home": (rng.uniform(25, 48), rng.uniform(-122, -70)),
                "hours": rng.sample(range(24), 10),
            }
        )
    ts = 1_700_000_000_000
    mean_gap_ms = 86_400_000 / (3 * users)  # about 3 transactions per user and day, like card data
    stream = []
    for i in range(n):
        p = profiles[rng.randrange(users)]
        ts += int(rng.expovariate(1 / mean_gap_ms)) + 1
        lat, lon = p["home"]
        stream.append(
            {
                "transaction_id": f"t{i}",
                "user_id": p["user_id"],
                "amount": round(p["scale"] * math.exp(rng.gauss(0, 0.7)), 2) or 0.01,
                "currency": "USD",
                "merchant_id": f"m{rng.randrange(5_000)}",
                "merchant_category": rng.choice(p["categories"]) if rng.random() < 0.9 else rng.choice(CATEGORIES),
                "timestamp": ts,
                "local_hour": rng.choice(p["hours"]),
                "country": p["country"] if rng.random() < 0.98 else rng.choice(COUNTRIES),
                "device_id": rng.choice(p["devices"]) if rng.random() < 0.97 else f"dev-x{i}",
                "location": {"lat": lat + rng.gauss(0, 0.3), "lon": lon + rng.gauss(0, 0.3)},
                "channel": "online",
            }
        )
    return stream


def engine_throughput(n: int = 200_000) -> dict:
    sys.path.insert(0, str(LAMBDAS))
    from fraud.config import load_config
    from fraud.engine import Engine
    from fraud.history import InMemoryHistoryStore, Item

    stream = synthetic_stream(n)
    config = load_config()
    engine = Engine(config)
    store = InMemoryHistoryStore(config)
    decisions = {"allow": 0, "review": 0, "alert": 0}
    started, cpu_started = time.perf_counter(), time.process_time()
    for txn in stream:
        item = Item(txn)  # converted once, used by the store and the engine
        assessment = engine.assess(item, store.history_for(item))
        store.record(item)
        decisions[assessment.decision] += 1
    cpu = time.process_time() - cpu_started
    elapsed = time.perf_counter() - started
    # CPU time is the per-core cost; wall time also counts whatever else the machine is doing.
    return {
        "transactions": n,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(elapsed, 3),
        "per_second": round(n / cpu),
        "per_wall_second": round(n / elapsed),
        "decisions": decisions,
    }


def imports_section(args: argparse.Namespace) -> dict:
    imports: dict[str, float | None] = {}
    notes = []
    for module in ("fraud", "fraud.validation", "fraud.engine", *HANDLERS):
        if "." not in module and module != "fraud" and not (LAMBDAS / f"{module}.py").exists():
            imports[module] = None
            notes.append(f"{module}: lambdas/{module}.py does not exist yet, skipped")
            continue
        try:
            imports[module] = import_time_ms(module, args.repeat)
        except RuntimeError as exc:
            imports[module] = None
            notes.append(str(exc))
    return {"import_ms": imports, "notes": notes, "repeat": args.repeat}


def imports_report(result: dict) -> str:
    lines = [f"import time (fresh interpreter, best of {result['repeat']}):"]
    for module, ms in result["import_ms"].items():
        lines.append(f"  {module:22s} {'-' if ms is None else f'{ms:8.1f} ms'}")
    lines.extend(f"  note: {note}" for note in result["notes"])
    return "\n".join(lines)


def engine_section(args: argparse.Namespace) -> dict:
    return engine_throughput(args.transactions)


def engine_report(throughput: dict) -> str:
    return (
        f"engine: {throughput['transactions']:,} transactions in {throughput['cpu_seconds']} CPU s"
        f" = {throughput['per_second']:,} transactions/s per core"
        f" ({throughput['per_wall_second']:,}/s wall clock); decisions {throughput['decisions']}"
    )


def _emulator_run(args: argparse.Namespace) -> dict:
    from tools.emulator import bench

    return bench.run(args)


def _emulator_report(result: dict) -> str:
    from tools.emulator import bench

    return bench.report(result)


def _emulator_arguments(parser: argparse.ArgumentParser) -> None:
    from tools.emulator import bench

    bench.add_arguments(parser)


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: Callable[[argparse.Namespace], dict]
    report: Callable[[dict], str]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    default: bool = True  # part of a plain `python -m tools.bench`


SECTIONS = (
    Section("imports", "handler import times", imports_section, imports_report),
    Section("engine", "fraud engine throughput", engine_section, engine_report),
    Section(
        "emulator",
        "the local cloud end to end (minutes)",
        _emulator_run,
        _emulator_report,
        _emulator_arguments,
        default=False,
    ),
)


def _parser() -> argparse.ArgumentParser:
    names = [section.name for section in SECTIONS]
    defaults = [section.name for section in SECTIONS if section.default]
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__.split("\n\n")[0],
        epilog="sections: " + "; ".join(f"{s.name} ({s.help})" for s in SECTIONS),
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"sections to run: {', '.join(names)} or all (default: {', '.join(defaults)})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="imports: fresh interpreters per measurement")
    parser.add_argument("--engine-transactions", type=int, default=200_000, help="engine: size of the synthetic stream")
    for section in SECTIONS:
        if section.add_arguments is not None:
            section.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    by_name = {section.name: section for section in SECTIONS}
    wanted = args.sections or [s.name for s in SECTIONS if s.default]
    if "all" in wanted:
        wanted = list(by_name)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(by_name)} or all")
    results = {}
    for name in wanted:
        results[name] = by_name[name].run(args)
        if not args.json:
            print(by_name[name].report(results[name]), flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
