"""An environment's block and allow lists from the command line (the console edits them too).

    make lists ENV=prod                                               # show them (values masked as in alerts)
    make lists ENV=prod ARGS="add block device_id dev-9f2 --reason 'ATO ring' --expires-days 30"
    make lists ENV=prod ARGS="remove device_id dev-9f2"
    make lists ENV=prod ARGS="export lists.jsonl"                     # a list file: the backtest replays with it
    make lists ENV=prod ARGS="import lists.jsonl"                     # add or replace every entry of a file

Every change is one version (detect-fraud scores with it within ``LISTS_CACHE_SECONDS``, a minute at most, with
no redeploy) and an event on the lists' trail in the cases table (shown on the console's Lists page), by
``cli:<your AWS identity>``. A file is checked whole before anything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fraud.cases import LISTS_TRAIL, Event, event_put
from fraud.lists import FIELD_NAMES, FIELDS, LISTS, Entry, ListError, ListStore, entry, iter_lines, read_entries
from tools._cli import ToolError, progress, reading, run
from tools.cases.environment import Tables, caller, open_environment

DAY_MS = 86_400_000


def _audit(tables: Tables, who: str, action: str, e: Entry) -> list[dict[str, Any]]:
    detail = {"list": e.list, "field": e.field, "value": e.shown, "reason": e.reason}
    return [event_put(tables.cases, LISTS_TRAIL, Event(int(time.time() * 1000), who, action, detail))]


def show(store: ListStore) -> str:
    now = int(time.time() * 1000)
    rows = [f"version {store.version()}"]
    for e in sorted(store.entries(), key=lambda e: (e.list, e.field, e.value)):
        expiry = "never" if e.expires_at is None else time.strftime("%Y-%m-%d", time.gmtime(e.expires_at / 1000))
        state = "" if e.active(now) else "  (expired)"
        rows.append(
            f"{e.list:<5} {FIELD_NAMES[e.field]:<11} {e.shown:<24} expires {expiry:<10} by {e.by}: {e.reason}{state}"
        )
    return "\n".join(rows)


def add(store: ListStore, tables: Tables, who: str, args: argparse.Namespace) -> str:
    now = int(time.time() * 1000)
    expires = None if args.expires_days is None else now + args.expires_days * DAY_MS
    try:
        new = entry(args.list, args.field, args.value, reason=args.reason, by=who, at=now, expires_at=expires)
        store.put(new, replace_allow=True, audit=_audit(tables, who, "listed", new))
    except ListError as error:
        raise ToolError(str(error)) from None
    return f"{FIELD_NAMES[new.field]} {new.shown} is on the {new.list} list (version {store.version()})"


def remove(store: ListStore, tables: Tables, who: str, field: str, value: str) -> str:
    from fraud.lists import normalise

    found = next((e for e in store.entries() if e.field == field and e.value == normalise(field, value)), None)
    if found is None:
        raise ToolError(f"no entry for that {FIELD_NAMES.get(field, field)}: see make lists ENV=...")
    try:
        store.remove(found, audit=_audit(tables, who, "unlisted", found))
    except ListError as error:
        raise ToolError(str(error)) from None
    return f"removed from the {found.list} list (version {store.version()})"


def import_file(store: ListStore, tables: Tables, who: str, path: str) -> str:
    with reading(path):
        text = Path(path).read_text(encoding="utf-8")
    entries, errors = read_entries(text, name=Path(path).name)
    if errors:
        shown = "\n".join(f"  line {line}: {message}" for line, message in errors[:50])
        raise ToolError(f"{path}: {len(errors)} bad line(s), nothing was changed:\n{shown}")
    for done, e in enumerate(entries, 1):
        store.put(e, replace_allow=True, audit=_audit(tables, who, "listed", e))
        if done % 100 == 0:
            progress(f"  {done}/{len(entries)} entries")
    return f"{len(entries)} entries added or replaced (version {store.version()})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cases.lists",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="environment suffix (its Terraform outputs name the tables)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="every entry, values masked as in alerts")
    adding = commands.add_parser("add", help="put an identifier on a list (replacing its entry if it has one)")
    adding.add_argument("list", choices=LISTS)
    adding.add_argument("field", choices=FIELDS)
    adding.add_argument("value")
    adding.add_argument("--reason", required=True)
    adding.add_argument("--expires-days", type=int, help="the entry expires after this many days (default: never)")
    removing = commands.add_parser("remove", help="take an identifier off its list")
    removing.add_argument("field", choices=FIELDS)
    removing.add_argument("value")
    exporting = commands.add_parser("export", help="write every entry to a list file (JSON lines)")
    exporting.add_argument("file")
    importing = commands.add_parser("import", help="add or replace every entry of a list file")
    importing.add_argument("file")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    tables, client = open_environment(args.env)
    store = ListStore(client, tables.lists)
    who = caller(client)
    if args.command == "show":
        print(show(store))
    elif args.command == "add":
        print(add(store, tables, who, args))
    elif args.command == "remove":
        print(remove(store, tables, who, args.field, args.value))
    elif args.command == "export":
        Path(args.file).write_text("".join(line + "\n" for line in iter_lines(store.entries())), encoding="utf-8")
        print(f"{args.file}: version {store.version()}")
    else:
        print(import_file(store, tables, who, args.file))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
