"""The local cloud: runs a Terraform deployment applied into moto (see docs/local-emulator.md).

``LocalCloud`` is the entry point; ``topology`` reads what was deployed, ``runtime`` runs the
functions, ``frontdoor`` serves the REST API, ``plumbing`` moves events between services, ``faults``
injects outages, ``snapshot`` keeps the emulator's state between runs.
"""

from tools.emulator.local_cloud import EndpointSession, LocalCloud

__all__ = ["EndpointSession", "LocalCloud"]
