"""Validate and normalise a transaction request body against ``transaction.schema.json``.

The schema file is the one definition of a transaction (API Gateway uses it as the request model).
Here every property is validated with its own compiled sub-schema so that the caller learns about
*every* bad field at once (a compiled fastjsonschema validator stops at the first error); ``required``
and ``additionalProperties`` are checked from the same file. A few rules the schema cannot express
are checked in code: ``multipleOf`` (on exact decimals for amounts), timestamps in the future, card numbers sent as
``card_id``, control characters, and real IP address syntax.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import ipaddress
import json
import pathlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

SCHEMA_PATH: pathlib.Path = pathlib.Path(__file__).resolve().with_name("transaction.schema.json")

MAX_FUTURE_MS = 5 * 60 * 1000
"""How far in the future a timestamp may be (clock skew between client and server)."""

_CENTS = Decimal("0.01")
_MIN_DEGREES = Decimal("1E-100")  # a smaller non-zero coordinate is noise, and DynamoDB stores >= 1E-130
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CARD_SEPARATORS = re.compile(r"[ -]")


class ValidationFailed(Exception):
    """The body is not a valid transaction. ``errors`` has one entry per bad field."""

    def __init__(self, errors: list[dict], status_code: int = 400) -> None:
        self.errors = errors
        self.status_code = status_code
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@functools.cache
def schema() -> dict:
    """The transaction schema (parsed once)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator(path: tuple[str, ...]) -> Callable[[Any], Any]:
    """The compiled validator of one property (``("location", "lat")``), compiled on first use."""
    import fastjsonschema  # bundled by the Powertools layer; imported lazily to keep import cheap

    definition = _definition(path)
    sub = {k: v for k, v in definition.items() if k not in ("multipleOf", "properties", "required")}
    if "properties" in definition:  # an object: its members are validated one by one
        sub.pop("additionalProperties", None)
    sub["$schema"] = schema()["$schema"]
    return fastjsonschema.compile(sub)


def _definition(path: tuple[str, ...]) -> dict:
    definition = schema()
    for name in path:
        definition = definition["properties"][name]
    return definition


def _describe(exc: Any, definition: dict) -> str:
    """A readable message for a fastjsonschema error."""
    rule, value = exc.rule, exc.rule_definition
    if rule == "type":
        return f"must be of type {value}"
    if rule == "minimum":
        return f"must be greater than {value}" if definition.get("exclusiveMinimum") else f"must be at least {value}"
    if rule == "maximum":
        return f"must be at most {value}"
    if rule == "minLength":
        return f"must be at least {value} characters long"
    if rule == "maxLength":
        return f"must be at most {value} characters long"
    if rule == "pattern":
        return f"must match pattern {value}"
    if rule == "enum":
        return "must be one of: " + ", ".join(map(str, value))
    if rule == "not":
        return "must not be a card number; send the card token"
    message = exc.message
    return message.split(" ", 1)[1] if message.startswith("data") and " " in message else message


def _object_errors(path: tuple[str, ...], data: dict, now_ms: int) -> list[dict]:
    """Every error of an object: missing and unknown members, then each member on its own."""
    definition = _definition(path)
    properties = definition["properties"]
    prefix = "".join(f"{p}." for p in path)
    errors = [{"field": prefix + name, "message": "is required"} for name in definition["required"] if name not in data]
    errors += [
        {"field": prefix + (name or '""'), "message": "unknown field"} for name in data if name not in properties
    ]
    for name, value in data.items():
        if name in properties:
            errors += _value_errors((*path, name), value, now_ms)
    return errors


def _value_errors(path: tuple[str, ...], value: Any, now_ms: int) -> list[dict]:
    import fastjsonschema

    field = ".".join(path)
    definition = _definition(path)
    try:
        _validator(path)(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        return [{"field": field, "message": _describe(exc, definition)}]
    except (TypeError, ArithmeticError):  # e.g. a number the schema cannot compare
        return [{"field": field, "message": "must be a finite number"}]
    if "properties" in definition:
        return _object_errors(path, value, now_ms)
    multiple = definition.get("multipleOf")
    if multiple is not None and definition.get("type") == "integer" and value % multiple:
        return [{"field": field, "message": f"must be a multiple of {multiple}"}]
    message = _extra_error(path[-1], value, now_ms)
    return [{"field": field, "message": message}] if message else []


def _looks_like_card_number(value: str) -> bool:
    digits = _CARD_SEPARATORS.sub("", value)
    if not (13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _extra_error(name: str, value: Any, now_ms: int) -> str | None:
    """Checks the schema cannot express; ``value`` already passed its sub-schema."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            return "must not contain control characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text"
    if name == "amount":
        try:
            if Decimal(value) % _CENTS != 0:
                return "must have at most 2 decimal places"
        except decimal.InvalidOperation:
            return "must have at most 2 decimal places"
    elif name in ("lat", "lon") and value != 0 and abs(Decimal(value)) < _MIN_DEGREES:
        # DynamoDB cannot store a number this small (the write would fail: a 500, not a 400).
        return f"must be 0 or at least {_MIN_DEGREES} in magnitude"
    elif name == "timestamp" and value > now_ms + MAX_FUTURE_MS:
        return "must not be more than 5 minutes in the future"
    elif name == "card_id" and _looks_like_card_number(value):
        return "looks like a card number: never send a card number, send the token"
    elif name == "ip_address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return "must be a valid IPv4 or IPv6 address"
    return None


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _parse(body: str | bytes | None, max_body_bytes: int) -> Any:
    if body is None or body == "" or body == b"":
        raise ValidationFailed([{"field": "body", "message": "request body is required"}])
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if len(raw) > max_body_bytes:
        raise ValidationFailed(
            [{"field": "body", "message": f"must be at most {max_body_bytes} bytes, got {len(raw)}"}], 413
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([{"field": "body", "message": "must be UTF-8 encoded JSON"}]) from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ValidationFailed([{"field": "body", "message": f"malformed JSON: {reason}"}]) from None


def _normalise(data: dict) -> dict:
    txn = dict(data)
    txn["amount"] = Decimal(data["amount"]).quantize(_CENTS)
    txn["currency"] = data["currency"].upper()
    txn["timestamp"] = int(data["timestamp"])
    if "country" in data:
        txn["country"] = data["country"].upper()
    if "location" in data:
        # normalize() so 40.70 and 40.7 are the same location (and the same body hash).
        txn["location"] = {k: _plain(Decimal(data["location"][k])) for k in ("lat", "lon")}
    return txn


def _plain(value: Decimal) -> Decimal:
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def validate_transaction(body: str | bytes | None, *, now_ms: int, max_body_bytes: int = 16_384) -> dict:
    """Parse and validate a request body; return the normalised transaction.

    Raises ``ValidationFailed`` (and nothing else) listing every bad field: ``status_code`` is 413 for
    an oversize body and 400 otherwise.
    """
    data = _parse(body, max_body_bytes)
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    errors = _object_errors((), data, now_ms)
    if errors:
        raise ValidationFailed(errors)
    return _normalise(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(txn: dict) -> str:
    """Sorted keys, no whitespace, Decimals as their string (``912.40``)."""
    return json.dumps(txn, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def body_hash(txn: dict) -> str:
    """sha256 hex digest of the canonical JSON of a normalised transaction."""
    return hashlib.sha256(canonical_json(txn).encode("utf-8")).hexdigest()
