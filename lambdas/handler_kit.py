"""The glue every handler shares, zipped at the root of every function (tools/deploy/package.py).

- ``load_settings(Settings)``: a handler's frozen dataclass of settings, read once from the environment
  (a field ``table_name`` is the variable ``TABLE_NAME``; docs/configuration.md lists them all);
- ``client(service)``: one boto3 client per service, shared by everything in the sandbox;
- ``logger`` and ``metrics``: Powertools' Logger (JSON, with a formatter that replaces anything that
  looks like a card number, the last line of defence) and Metrics (EMF), ``count`` for a counter;
- ``entry_point``: the decorator of every handler (logging context, metrics flush, idempotency
  context, and X-Ray subsegments only when ``TRACE_SUBSEGMENTS`` asks for them);
- ``CachedDocument``: a document in Parameter Store, parsed and cached, that keeps the last valid
  version when the latest is invalid or cannot be read;
- ``Once`` and ``IdempotentSender``: a function run once per key, an alert sent once per alert id.

Nothing here runs at import beyond creating the Logger and Metrics objects: settings, clients and
documents are created on first use, so importing a handler needs no environment and stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fraud.card_numbers import scrub
from fraud.storage import json_default

if TYPE_CHECKING:
    from fraud.config import EngineConfig

T = TypeVar("T")

# --- settings ---------------------------------------------------------------------------------

_PARSERS: dict[str, Callable[[str], Any]] = {"str": str, "str | None": str, "int": int, "int | None": int}


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """An instance of the frozen dataclass ``cls``, each field read from the variable of its name in
    upper case. A field without a default is required; an empty value counts as unset; ``int`` fields
    are parsed and checked against ``metadata={"min": ...}``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        name = spec.name.upper()
        raw = environ.get(name, "")
        if raw == "":
            if spec.default is MISSING:
                raise SettingsError(f"environment variable {name} is required and not set")
            continue
        parse = _PARSERS[spec.type if isinstance(spec.type, str) else getattr(spec.type, "__name__", str(spec.type))]
        try:
            value = parse(raw)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
        minimum = spec.metadata.get("min")
        if minimum is not None and value < minimum:
            raise SettingsError(f"environment variable {name} must be at least {minimum}, got {value}")
        values[spec.name] = value
    return cls(**values)


# --- clients ----------------------------------------------------------------------------------


# Every client gives up on one AWS call within seconds. botocore's defaults (60 s to connect, 60 s to read, up to
# 5 attempts in legacy mode) outlast every function's timeout: a service that does not answer (in a VPC, one
# without an endpoint: the connection is never answered) would time the function out and recycle its sandbox
# and caches instead of failing the call, which the code and the platform's retries can handle. Inside a region
# and through an endpoint a connection takes milliseconds and these APIs answer in tens of milliseconds. Standard
# retry mode caps the attempts and adds client-side retry quotas; Parameter Store reads have a cached value to
# fall back on (``CachedDocument``), the rest propagate so the platform retries.
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0
MAX_ATTEMPTS = 3
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)


def longest_wait_s() -> float:
    """The longest one call of a kit client can wait before it raises: every attempt waits out its timeout, and
    the back-off between attempts is at most ``min(2 ** i, 20)`` seconds (botocore's standard mode)."""
    return MAX_ATTEMPTS * max(CONNECT_TIMEOUT_S, READ_TIMEOUT_S) + sum(min(2**i, 20) for i in range(MAX_ATTEMPTS - 1))


@functools.cache
def client(service: str) -> Any:
    """The sandbox's client for ``service``, from boto3's default session: the service models and
    endpoint data are loaded once, not once per client (Powertools utilities get this client too)."""
    return boto3.client(service, config=CLIENT_CONFIG)


# --- logging, metrics, tracing ----------------------------------------------------------------


def _scrubbed(value: Any) -> Any:
    """``value`` with every card number in its strings (dict keys included) replaced; numbers untouched."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {_scrubbed(key) if isinstance(key, str) else key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(item) for item in value]
    return value


def _log_default(value: Any) -> str:
    """How a value JSON cannot serialise is logged: Decimals exact, sets sorted, anything else ``str``;
    scrubbed like every other string."""
    with contextlib.suppress(TypeError):
        value = json_default(value)
    return scrub(str(value))


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with every string of the record scrubbed of card numbers.

    The handlers never log request values; this is the last line of defence for what slips through
    (an exception message, a value logged by a library), with the rule validation and alerts use
    (``fraud.card_numbers``). ``timestamp`` is the formatter's own (its date digits are not data);
    numbers (ints, floats) are left alone, as validation leaves JSON numbers alone: they are what the
    code counted or measured (scores, counts, epoch milliseconds), not text a card number was written
    into.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_default=_log_default, **kwargs)

    def serialize(self, log: Mapping[str, Any]) -> str:
        return super().serialize({key: value if key == "timestamp" else _scrubbed(value) for key, value in log.items()})


logger = Logger(logger_formatter=ScrubbingFormatter())
metrics = Metrics()


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the counter ``name`` (flushed as EMF when the invocation ends)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _enabled(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@functools.cache
def _tracer() -> Any:
    """Powertools' Tracer when ``TRACE_SUBSEGMENTS`` is set, else None.

    Lambda's Active tracing records every invocation (its Initialization, Invocation and Overhead
    subsegments) without any SDK in the function, and botocore forwards the trace header on the
    calls a function makes, so SQS and SNS carry the trace on to notify-team. The X-Ray SDK adds a
    subsegment per AWS call and for the handler, for 110-240 ms of cold start: built on the first
    invocation, and only when asked for.
    """
    if not _enabled("TRACE_SUBSEGMENTS"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


_IDEMPOTENCY_CONFIGS: weakref.WeakSet[Any] = weakref.WeakSet()
_invocation: list[Any] = [None]  # the Lambda context of the invocation running now


def entry_point(handler: Callable[..., Any] | None = None, *, correlation_id_path: str | None = None) -> Any:
    """Decorate a handler: Lambda context in the logs, metrics flushed at the end, the invocation's
    remaining time given to every ``Once`` (so a crashed attempt's record expires with it), and the
    X-Ray handler subsegment when ``TRACE_SUBSEGMENTS`` is set."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        measured = metrics.log_metrics(function)
        traced: list[Callable[..., Any]] = []

        @functools.wraps(function)
        def run(event: Any, context: Any) -> Any:
            _invocation[0] = context
            for config in list(_IDEMPOTENCY_CONFIGS):
                config.register_lambda_context(context)
            tracer = _tracer()
            if tracer is None:
                return measured(event, context)
            if not traced:
                traced.append(tracer.capture_lambda_handler(measured))
            return traced[0](event, context)

        return logger.inject_lambda_context(correlation_id_path=correlation_id_path)(run)

    return decorate(handler) if handler is not None else decorate


# --- documents in Parameter Store -------------------------------------------------------------


def reason(error: BaseException) -> str:
    """What went wrong, in one line: an AWS error's code and message, or the exception's text."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'ClientError')}: {details.get('Message', '')}".strip()
    return str(error) or type(error).__name__


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def transient(error: BaseException) -> bool:
    """Whether a retry may succeed: the SDK gave up on the connection or a time-out (BotoCoreError), or AWS
    answered a throttle or a 5xx. Anything else (missing, forbidden, invalid) a retry does not fix."""
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500 or error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


class CachedDocument(Generic[T]):
    """A document in an SSM parameter, parsed once per version and cached ``max_age`` seconds.

    ``get()`` returns ``(value, version, fell_back)``. The version is the parameter's version number
    as a string (``"default"`` when no parameter is configured: ``parse(None)`` gives the value).
    When the latest version cannot be used (``parse`` raises ``ValueError``, e.g. ``ConfigError`` for
    an invalid rules document or a value that is not JSON) or cannot be read (throttling, any AWS
    error), ``get`` keeps returning the last valid value with ``fell_back = True``, counts
    ``fallback_metric`` on every call and logs the reason once per refresh. A sandbox that never read
    a valid version looks for the newest valid one in the parameter's history
    (``ssm:GetParameterHistory``; ``history=False`` skips that); when there is none, the error is
    raised so the invocation fails and the platform retries it.
    """

    def __init__(
        self,
        parameter: str | None,
        parse: Callable[[str | None], T],
        *,
        max_age: float,
        fallback_metric: str,
        label: str,
        decrypt: bool = False,
        history: bool = True,
        optional: bool = False,
    ) -> None:
        """``optional``: a document the function can do without (a shadow): when no version can be used and
        there is nothing to fall back on, ``parse(None)`` stands in for it (counted and logged) instead of the
        error failing the invocation."""
        self.parameter = parameter
        self.parse = parse
        self.max_age = max_age
        self.fallback_metric = fallback_metric
        self.label = label
        self.decrypt = decrypt
        self.history = history
        self.optional = optional
        self.group: DocumentGroup | None = None
        self._current: tuple[T, str, bool] | None = None
        self._last_good: tuple[T, str] | None = None
        self._refresh_at = 0.0

    @property
    def due(self) -> bool:
        return self._current is None or time.monotonic() >= self._refresh_at

    def get(self) -> tuple[T, str, bool]:
        if self.due:
            if self.group is not None and self.parameter is not None:
                self.group.refresh()  # every due document of the group in one GetParameters call
            else:
                self.refreshed(self._read())
        assert self._current is not None
        if self._current[2]:
            count(self.fallback_metric)
        return self._current

    def _read(self) -> dict[str, Any] | Exception | None:
        """The parameter as GetParameter returns it, or the error reading it (None: no parameter configured)."""
        if self.parameter is None:
            return None
        try:
            return dict(client("ssm").get_parameter(Name=self.parameter, WithDecryption=self.decrypt)["Parameter"])
        except (ClientError, BotoCoreError) as error:
            return error

    def refreshed(self, parameter: dict[str, Any] | Exception | None) -> None:
        """Take a fresh read of the parameter (or the error reading it) and cache the outcome ``max_age``."""
        self._current = self._outcome(parameter)
        self._refresh_at = time.monotonic() + self.max_age

    def _outcome(self, parameter: dict[str, Any] | Exception | None) -> tuple[T, str, bool]:
        if self.parameter is None:
            if self._last_good is None:
                self._last_good = (self.parse(None), "default")
            return (*self._last_good, False)
        version = None
        try:
            if isinstance(parameter, Exception):
                raise parameter
            assert parameter is not None
            version = str(parameter["Version"])
            if self._last_good is not None and self._last_good[1] == version:
                return (*self._last_good, False)
            self._last_good = (self.parse(parameter["Value"]), version)
            return (*self._last_good, False)
        except (ClientError, BotoCoreError, ValueError) as error:
            try:
                return self._fall_back(error, version)
            except (ClientError, BotoCoreError, ValueError):
                if not self.optional:
                    raise
                logger.error(f"{self.label} unusable: going without it", extra={"parameter": self.parameter})
                return (self.parse(None), "none", True)

    def _fall_back(self, error: Exception, version: str | None) -> tuple[T, str, bool]:
        why = reason(error)
        failed = f"version {version} unusable" if version else "unreadable"
        if self._last_good is None and self.history:
            try:
                self._last_good = self._newest_valid_in_history(skip=version)
            except (ClientError, BotoCoreError) as history_error:
                logger.error(
                    f"{self.label} unusable and its history unreadable: failing so the platform retries",
                    extra={"parameter": self.parameter, "reason": why, "history_error": reason(history_error)},
                )
                raise error from history_error
            source = "the newest valid version in the parameter's history"
        else:
            source = "the last valid version"
        if self._last_good is None:
            logger.error(
                f"{self.label} unusable and no valid version to fall back on: failing so the platform retries",
                extra={"parameter": self.parameter, "reason": why, "version": version},
            )
            raise error
        logger.error(
            f"{self.label} {failed}: using version {self._last_good[1]}, {source}",
            extra={"parameter": self.parameter, "reason": why, "version": version, "used": self._last_good[1]},
        )
        return (*self._last_good, True)

    def _newest_valid_in_history(self, skip: str | None) -> tuple[T, str] | None:
        pages = (
            client("ssm")
            .get_paginator("get_parameter_history")
            .paginate(Name=self.parameter, WithDecryption=self.decrypt)
        )
        versions = sorted((p for page in pages for p in page["Parameters"]), key=lambda p: -int(p["Version"]))
        for entry in versions:
            if str(entry["Version"]) == skip:
                continue
            try:
                return self.parse(entry["Value"]), str(entry["Version"])
            except ValueError:
                continue
        return None


class DocumentGroup:
    """Documents a function reads together: when one is due, every due document of the group is read in one
    ``GetParameters`` call (at most 10 names; with decryption when one of them needs it), so a cold sandbox
    reads what it needs in one request. Parameter Store's default throughput is about 40 requests a second for
    the account and region: a scale-out of 100 sandboxes that each read three parameters one by one would be
    throttled. A name the call reports invalid (deleted) is read as ``ParameterNotFound``; a failed call is
    each document's error (each falls back on its own)."""

    MAX_NAMES = 10  # GetParameters' limit

    def __init__(self, *documents: CachedDocument[Any]) -> None:
        names = {d.parameter for d in documents if d.parameter is not None}
        if len(names) > self.MAX_NAMES:
            raise ValueError(f"a document group reads at most {self.MAX_NAMES} parameters in one call")
        self.documents = documents
        for document in documents:
            document.group = self

    def refresh(self) -> None:
        due = [d for d in self.documents if d.due]
        names = sorted({d.parameter for d in due if d.parameter is not None})
        read: dict[str, dict[str, Any] | Exception] = {}
        if names:
            try:
                response = client("ssm").get_parameters(
                    Names=names, WithDecryption=any(d.decrypt for d in due if d.parameter is not None)
                )
            except (ClientError, BotoCoreError) as error:
                read = dict.fromkeys(names, error)
            else:
                read = {p["Name"]: dict(p) for p in response.get("Parameters", [])}
        missing = ClientError({"Error": {"Code": "ParameterNotFound", "Message": "no such parameter"}}, "GetParameters")
        for document in due:
            document.refreshed(read.get(document.parameter, missing) if document.parameter is not None else None)


# --- at most once per key ---------------------------------------------------------------------


def rules_document(parameter: str | None, max_age: float) -> CachedDocument[EngineConfig]:
    """The rules document of ``parameter`` (``fraud.config``), as the functions that score read it: a
    fallback counts ``RulesFallback``, the metric the stack alarms on."""
    from fraud.config import load_config  # the functions that do not score never import the engine

    return CachedDocument(
        parameter, load_config, max_age=max_age, fallback_metric="RulesFallback", label="Rules document"
    )


class Once:
    """``function(data, **extra)`` run at most once per ``data[key]`` within ``expires_after_seconds``.

    Powertools idempotency in the state table (record ``<key_prefix>#<md5 of the key>``). Calling it
    returns ``(result, ran_now)``: the result of the first run, and whether this call ran it. A run
    that raises leaves no record, so the next call runs again; an attempt that dies mid-run leaves an
    in-progress record that expires with the invocation (``entry_point`` registers its context). A run
    whose record cannot be completed afterwards (the state table's write fails) has its in-progress
    record deleted before the error propagates: otherwise every retry until the invocation's deadline
    would fail as already in progress, and a stream record would reach its dead-letter queue unscored.
    The next call runs it again, so what it runs must bear a repeat: an alert queued twice this way
    is published once (notify-team's record per alert id), a publish repeated is the at-least-once
    of docs/configuration.md.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        key: str,
        key_prefix: str,
        table_name: str,
        expires_after_seconds: int,
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self.config = IdempotencyConfig(
            event_key_jmespath=key, raise_on_no_idempotency_key=True, expires_after_seconds=expires_after_seconds
        )
        _IDEMPOTENCY_CONFIGS.add(self.config)
        if _invocation[0] is not None:  # created during an invocation: it needs that context too
            self.config.register_lambda_context(_invocation[0])
        self._ran = False

        def run(*, data: Any, **extra: Any) -> Any:
            self._ran = True
            return function(data, **extra)

        self.persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client("dynamodb"))
        self._run = idempotent_function(
            run,
            data_keyword_argument="data",
            persistence_store=self.persistence,
            config=self.config,
            key_prefix=key_prefix,
        )

    def __call__(self, data: Any, **extra: Any) -> tuple[Any, bool]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

        self._ran = False
        try:
            result = self._run(data=data, **extra)
        except IdempotencyPersistenceLayerError as error:
            if self._ran:  # it ran, but its record is still in progress: let the next attempt run it
                try:
                    self.persistence.delete_record(data=data, exception=error)
                except Exception as failure:  # the table is failing: the record expires with the invocation
                    logger.warning("In-progress record left", extra={"error": type(failure).__name__})
            raise
        return result, self._ran


class IdempotentSender:
    """Sends each alert to an SQS queue once per ``alert_id``; ``send`` says whether it sent it now.

    ``metric`` is counted and "Alert sent" logged only for an alert really sent, so retries and
    replays count nothing twice."""

    def __init__(self, queue_url: str, *, table_name: str, key_prefix: str, expires_after_seconds: int, metric: str):
        self.queue_url = queue_url
        self.metric = metric
        self._once = Once(
            self._send,
            key="alert_id",
            key_prefix=key_prefix,
            table_name=table_name,
            expires_after_seconds=expires_after_seconds,
        )

    def _send(self, alert: dict[str, Any]) -> str:
        response = client("sqs").send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps(alert, default=json_default)
        )
        count(self.metric)
        logger.info("Alert sent", extra={"alert_id": alert["alert_id"], "message_id": response["MessageId"]})
        return str(response["MessageId"])

    def send(self, alert: dict[str, Any]) -> bool:
        return self._once(alert)[1]


def reset() -> None:
    """Forget the clients (tests start each case with fresh ones)."""
    client.cache_clear()
    _tracer.cache_clear()
