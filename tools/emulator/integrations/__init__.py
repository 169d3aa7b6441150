"""The emulator's integrations: each AWS feature the local cloud runs, one file each, registered here.

``LocalCloud`` creates them in this order (deliverers before the integrations that send to them),
starts those that have something deployed, and stops them in reverse order. To add one: write
``tools/emulator/integrations/<name>.py`` with an ``Integration`` subclass (see ``base``) and add it
to ``INTEGRATIONS``.
"""

from __future__ import annotations

from tools.emulator.integrations.async_invoke import AsyncInvocations
from tools.emulator.integrations.base import Context, Integration
from tools.emulator.integrations.destinations import QueuesAndTopics
from tools.emulator.integrations.event_buses import EventBuses
from tools.emulator.integrations.function_logs import FunctionLogs
from tools.emulator.integrations.pipes import StreamPipes
from tools.emulator.integrations.queue_mappings import QueueMappings
from tools.emulator.integrations.rest_api import RestApis
from tools.emulator.integrations.schedules import Schedules
from tools.emulator.integrations.stream_mappings import StreamMappings

INTEGRATIONS: tuple[type[Integration], ...] = (
    QueuesAndTopics,
    AsyncInvocations,
    EventBuses,
    StreamPipes,
    StreamMappings,
    QueueMappings,
    Schedules,
    RestApis,
    FunctionLogs,
)

__all__ = ["INTEGRATIONS", "Context", "Integration"]
