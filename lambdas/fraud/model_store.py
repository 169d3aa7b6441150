"""Which model scores: the pointer document, and artifacts resolved from it without ever dropping a transaction.

The model parameter of an environment holds a pointer document, ``{"live": REF, "shadow": REF}`` with
``REF = {"key": "models/<version>.json", "sha256": "<hex>", "version": "<version id>"}`` or ``null``
(docs/model.md; ``make model`` writes it). ``ModelSlot`` turns a REF into a loaded ``fraud.model.Model``:
the artifact is fetched once per sha256 (the caller passes the fetch: detect-fraud reads S3), checked against
the hash and for features this code can compute, and kept. When a REF cannot be used (missing object, corrupt
or incompatible artifact), the slot keeps the last good model, else none (the rules score alone), and says so
(``Resolved.problem``) so the caller can count it and log it.

A fetch that fails for a reason a retry can fix (the fetch raises ``ArtifactUnavailable``: a time-out, a
throttle, a service fault) is not a missing model: with a last good model the slot keeps it, but a slot that
never loaded one raises ``ModelUnavailable`` rather than let the rules alone decide what the configured model
should have, so the platform retries the record (the caller counts ``ModelUnavailable``, which is alarmed).
A failed REF is not fetched again for ``retry_after_s``, so a broken pointer does not cost a fetch per
transaction (``TRANSIENT_RETRY_S`` after a transient failure).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fraud.model import Model, ModelError, load

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A transient fetch failure is not retried for this long: a burst of records fails fast while the outage
# lasts, and a sandbox reads the artifact again soon after it ends (before the platform's retries run out).
TRANSIENT_RETRY_S = 5.0
_KEY = re.compile(r"^[A-Za-z0-9!_.*'()/-]{1,1024}$")


class ArtifactUnavailable(RuntimeError):
    """The artifact could not be read now (a time-out, a throttle, a service fault): a retry may read it."""


class ModelUnavailable(RuntimeError):
    """A live model is configured, this sandbox has never loaded one and the artifact cannot be read now."""


class PointerError(ValueError):
    """The pointer document is not ``{"live": REF|null, "shadow": REF|null}``; the message says why."""


@dataclass(frozen=True)
class ModelRef:
    key: str
    sha256: str
    version: str


@dataclass(frozen=True)
class Pointer:
    live: ModelRef | None
    shadow: ModelRef | None


def parse_pointer(document: Any) -> Pointer:
    """The pointer in ``document`` (a parsed JSON value, or text); raises ``PointerError``."""
    if isinstance(document, (str, bytes, bytearray)):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise PointerError(f"not JSON: {error}") from None
    if document is None:
        return Pointer(None, None)
    if not isinstance(document, dict):
        raise PointerError("must be a JSON object with live and shadow")
    unknown = sorted(set(document) - {"live", "shadow"})
    if unknown:
        raise PointerError(f"unknown key {unknown[0][:40]!r}")
    return Pointer(_ref(document.get("live"), "live"), _ref(document.get("shadow"), "shadow"))


def _ref(value: Any, name: str) -> ModelRef | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"key", "sha256", "version"}:
        raise PointerError(f"{name} must be null or an object with exactly key, sha256 and version")
    key, sha256, version = value["key"], value["sha256"], value["version"]
    if not isinstance(key, str) or not _KEY.match(key):
        raise PointerError(f"{name}.key must be an S3 object key such as models/<version>.json")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise PointerError(f"{name}.sha256 must be 64 lowercase hex digits")
    if not isinstance(version, str) or not 0 < len(version) <= 100:
        raise PointerError(f"{name}.version must be a non-empty string")
    return ModelRef(key, sha256, version)


@dataclass(frozen=True)
class Resolved:
    model: Model | None  # the model to score with (None: the rules alone)
    problem: str | None = None  # why the REF asked for is not the one scoring (None: it is, or none was asked)


class ModelSlot:
    """One REF (live, or shadow) resolved to a model, keeping the last good one."""

    def __init__(self, fetch: Callable[[str], bytes], *, retry_after_s: float = 60.0, keep: int = 3) -> None:
        self._fetch = fetch
        self._retry_after_s = retry_after_s
        self._keep = keep
        self._models: dict[str, Model] = {}  # sha256 -> model, the newest last
        self._failed: dict[str, tuple[float, str, bool]] = {}  # sha256 -> (when, why, transient)
        self.last_good: Model | None = None

    def resolve(self, ref: ModelRef | None, *, clock: Callable[[], float] = time.monotonic) -> Resolved:
        if ref is None:
            return Resolved(None)
        model = self._models.get(ref.sha256)
        if model is not None:
            if model.version == ref.version:
                return Resolved(model)
            return Resolved(self.last_good, f"model {ref.version}: the artifact is version {model.version}")
        failed = self._failed.get(ref.sha256)
        if failed is not None and clock() - failed[0] < (TRANSIENT_RETRY_S if failed[2] else self._retry_after_s):
            return self._fallback(failed)
        try:
            model = load(self._fetch(ref.key), ref.sha256)
            if model.version != ref.version:
                raise ModelError(f"the artifact is version {model.version}, the pointer says {ref.version}")
        except ArtifactUnavailable as error:
            self._failed[ref.sha256] = failed = (
                clock(),
                f"model {ref.version} ({ref.key}) unavailable: {_short(error)}",
                True,
            )
            return self._fallback(failed)
        except Exception as error:  # missing, corrupt or incompatible: the caller counts it and logs why
            self._failed[ref.sha256] = failed = (
                clock(),
                f"model {ref.version} ({ref.key}) not usable: {_short(error)}",
                False,
            )
            return self._fallback(failed)
        self._failed.pop(ref.sha256, None)
        self._models[ref.sha256] = model
        while len(self._models) > self._keep:
            self._models.pop(next(iter(self._models)))
        self.last_good = model
        return Resolved(model)

    def _fallback(self, failed: tuple[float, str, bool]) -> Resolved:
        _, why, transient = failed
        if transient and self.last_good is None:
            raise ModelUnavailable(f"{why}; this sandbox has no model loaded yet: failing so the platform retries")
        return Resolved(self.last_good, why)


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
