"""Schedules: EventBridge Scheduler schedules and scheduled EventBridge rules.

Read from ``ListSchedules``/``GetSchedule`` and from the rules with a ``ScheduleExpression``. A
``rate(...)`` schedule fires every rate / ``schedule_time_scale`` seconds (with no scale, only when
triggered); ``cron(...)`` and ``at(...)`` run only when triggered (``LocalCloud.trigger_schedule``).
The target is invoked asynchronously; a rule's target gets the ``Scheduled Event`` envelope, a
schedule's target its ``Input`` (or ``{}``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tools.emulator.integrations.base import Context, Poller, PollingIntegration, now_iso
from tools.emulator.topology import paginate

log = logging.getLogger("emulator")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    target_arn: str
    input: str | None
    enabled: bool
    scheduled_event: bool  # True for a rule: the target gets the "Scheduled Event" envelope


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for ``cron(...)`` and ``at(...)``."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")]


def read_schedules(session: Any) -> tuple[Schedule, ...]:
    client = session.client("scheduler")
    schedules = []
    for summary in paginate(client, "list_schedules", "Schedules"):
        schedule = client.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        schedules.append(
            Schedule(
                name=schedule["Name"],
                expression=schedule["ScheduleExpression"],
                target_arn=schedule["Target"]["Arn"],
                input=schedule["Target"].get("Input"),
                enabled=schedule.get("State", "ENABLED") == "ENABLED",
                scheduled_event=False,
            )
        )
    events = session.client("events")
    for bus in paginate(events, "list_event_buses", "EventBuses"):
        for rule in paginate(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            if not rule.get("ScheduleExpression"):
                continue
            targets = paginate(events, "list_targets_by_rule", "Targets", Rule=rule["Name"], EventBusName=bus["Name"])
            for target in targets:
                schedules.append(
                    Schedule(
                        name=rule["Name"],
                        expression=rule["ScheduleExpression"],
                        target_arn=target["Arn"],
                        input=target.get("Input"),
                        enabled=rule.get("State", "ENABLED") == "ENABLED",
                        scheduled_event=True,
                    )
                )
    return tuple(schedules)


class Scheduler(Poller):
    """Fires each due ``rate(...)`` schedule; ``trigger`` runs one now."""

    def __init__(self, schedules: tuple[Schedule, ...], ctx: Context) -> None:
        super().__init__("scheduler", ctx.activity)
        self.schedules = schedules
        self.ctx = ctx
        self.time_scale = ctx.schedule_time_scale or 1.0
        started = time.monotonic()
        self._next: dict[str, float] = {}
        for schedule in schedules:
            period = rate_seconds(schedule.expression)
            if period is None:
                log.warning("schedule %s: %s is not emulated (trigger it by hand)", schedule.name, schedule.expression)
            elif schedule.enabled and ctx.schedule_time_scale is not None:
                self._next[schedule.name] = started + period / self.time_scale
        self.fired: Counter[str] = Counter()

    def poll(self) -> bool:
        now = time.monotonic()
        for schedule in self.schedules:
            due = self._next.get(schedule.name)
            if due is not None and now >= due:
                self._next[schedule.name] = due + rate_seconds(schedule.expression) / self.time_scale  # type: ignore[operator]
                self.fire(schedule)
        return False

    def fire(self, schedule: Schedule) -> None:
        topology = self.ctx.topology
        if schedule.input:
            event: Any = json.loads(schedule.input)
        elif schedule.scheduled_event:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": topology.account,
                "time": now_iso(),
                "region": topology.region,
                "resources": [f"arn:aws:events:{topology.region}:{topology.account}:rule/{schedule.name}"],
                "detail": {},
            }
        else:
            event = {}
        self.fired[schedule.name] += 1
        self.ctx.targets.send(schedule.target_arn, event)


class Schedules(PollingIntegration):
    name = "schedules"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.scheduler = Scheduler(read_schedules(ctx.session), ctx)
        self.pollers = [self.scheduler] if self.scheduler.schedules else []

    def trigger(self, target: str) -> None:
        """Run now every schedule whose name or target function matches ``target`` (a name, key or ARN)."""
        try:
            wanted = self.ctx.topology.function(target).arn if not target.startswith("arn:") else target
        except KeyError:
            wanted = target
        hits = [s for s in self.scheduler.schedules if s.name == target or s.target_arn == wanted]
        if not hits:
            raise KeyError(f"no schedule targets {target!r}")
        for schedule in hits:
            self.scheduler.fire(schedule)

    def counters(self) -> dict[str, Any]:
        return dict(self.scheduler.fired)
