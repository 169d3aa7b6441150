"""Label-based quality of an environment, per week: precision of each rule and model (confirmed / decided
alerts), recall where chargebacks and disputes exist (``fraud.quality``; the console's Quality page shows the
same figures).

    make quality ENV=prod
    python -m tools.cases.quality --env prod --weeks 12 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from fraud.cases import CaseStore
from fraud.labels import LabelStore
from fraud.quality import gather, render, report, weekly
from fraud.storage import TransactionStore
from tools._cli import run
from tools.cases.environment import open_environment

WEEK_MS = 7 * 86_400_000


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cases.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment suffix (its Terraform outputs name the tables)")
    parser.add_argument("--weeks", type=int, default=12, help="how many weeks back (default 12)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    tables, client = open_environment(args.env)
    since = int(time.time() * 1000) - args.weeks * WEEK_MS
    weeks = weekly(
        gather(
            CaseStore(client, tables.cases),
            LabelStore(client, tables.labels),
            TransactionStore(client, tables.transactions),
            since_ms=since,
        )
    )
    print(json.dumps(report(weeks), indent=2) if args.json else render(weeks))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
