"""EventBridge event buses and their pattern rules.

Read from ``ListEventBuses``, ``ListRules`` and ``ListTargetsByRule``. An event sent to a bus ARN
(by a pipe, whose batch comes as ``PutEvents`` requests of up to 10 entries, a destination or another
rule) is matched against every enabled rule with an event
pattern, with moto's own EventBridge matcher, and each target of a matching rule gets the event, or
the target's constant ``Input``. A Lambda target is an asynchronous invocation, accepted at once, so
EventBridge's own retry policy and dead-letter queue never come into play locally. Rules with a
schedule expression are the schedules integration's.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tools.emulator.integrations.base import Context, Integration, matches, now_iso
from tools.emulator.topology import paginate

MAX_ENTRIES = 10  # PutEvents' limit


@dataclass(frozen=True)
class RuleTarget:
    arn: str
    input: str | None


@dataclass(frozen=True)
class Rule:
    name: str
    bus: str
    pattern: str
    targets: tuple[RuleTarget, ...]


def read_pattern_rules(session: Any) -> tuple[Rule, ...]:
    events = session.client("events")
    rules = []
    for bus in paginate(events, "list_event_buses", "EventBuses"):
        for rule in paginate(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            if not rule.get("EventPattern") or rule.get("State", "ENABLED") != "ENABLED":
                continue
            targets = paginate(events, "list_targets_by_rule", "Targets", Rule=rule["Name"], EventBusName=bus["Name"])
            rules.append(
                Rule(
                    name=rule["Name"],
                    bus=bus["Name"],
                    pattern=rule["EventPattern"],
                    targets=tuple(RuleTarget(arn=t["Arn"], input=t.get("Input")) for t in targets),
                )
            )
    return tuple(rules)


def bus_name(arn: str) -> str:
    """``arn:aws:events:REGION:ACCOUNT:event-bus/NAME`` -> ``NAME``."""
    return arn.split(":event-bus/", 1)[1]


class EventBuses(Integration):
    name = "event-buses"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.rules = read_pattern_rules(ctx.session)
        self.put_count: Counter[str] = Counter()  # events (entries) per bus
        self.entries_per_request: dict[str, Counter[int]] = {}  # per bus: how many PutEvents carried n entries
        self.matched: Counter[str] = Counter()
        self._lock = threading.Lock()
        ctx.targets.register(lambda arn: ":event-bus/" in arn, self._send, self._send_entries)

    @property
    def deployed(self) -> bool:
        return bool(self.rules)

    def _send(self, arn: str, payload: Any, *, source: str = "", detail_type: str = "") -> None:
        self._send_entries(arn, [payload], source=source, detail_type=detail_type)

    def _send_entries(self, arn: str, payloads: list[Any], *, source: str = "", detail_type: str = "") -> None:
        """One ``PutEvents`` request: each entry is an event of its own, matched and delivered on its own."""
        if not 1 <= len(payloads) <= MAX_ENTRIES:
            raise ValueError(f"PutEvents takes 1 to {MAX_ENTRIES} entries, got {len(payloads)}")
        bus = bus_name(arn)
        with self._lock:  # pipes deliver from several lanes at once
            self.entries_per_request.setdefault(bus, Counter())[len(payloads)] += 1
        for payload in payloads:
            self.put(bus, source, detail_type, payload)

    def put(self, bus: str, source: str, detail_type: str, detail: Any) -> dict[str, Any]:
        """One entry of a ``PutEvents`` on ``bus``, one event: match the rules, deliver to their targets."""
        topology = self.ctx.topology
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": topology.account,
            "time": now_iso(),
            "region": topology.region,
            "resources": [],
            "detail": detail,
        }
        with self._lock:
            self.put_count[bus] += 1
        for rule in self.rules:
            if rule.bus != bus or not matches(rule.pattern, event):
                continue
            with self._lock:
                self.matched[rule.name] += 1
            for target in rule.targets:
                self.ctx.targets.send(target.arn, json.loads(target.input) if target.input else event)
        return event

    def counters(self) -> dict[str, Any]:
        return {
            "put": dict(self.put_count),
            "entries_per_request": {bus: dict(sizes) for bus, sizes in self.entries_per_request.items()},
            "matched": dict(self.matched),
        }
