"""Reading the rules document: typed values, checked where they are read, with the key path in every error.

``Section`` wraps one object of the document and remembers which keys were read, so ``done()`` can call every
other key unknown. Every problem raises ``ConfigError`` naming the key path (``rules.velocity.windows[1].window``)
and why. The document's own layout (which sections exist, what each holds) is decided by ``fraud.config`` (bands,
history, patterns), ``fraud.features`` (the ``features`` section) and the rule registry in ``fraud.rules``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DECISIONS = ("allow", "review", "alert")
"""The decisions, from least to most severe (the order ``max`` uses when a rule forces a band)."""


class ConfigError(ValueError):
    """An invalid rules document; the message names the key path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"invalid rules configuration: {path or '<document>'}: {reason}")


def kind(value: Any) -> str:
    """What a JSON value is, in words (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def number(
    value: Any,
    path: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    integer: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a number, got {kind(value)}")
    if not math.isfinite(value):
        raise ConfigError(path, "must be a finite number")
    if integer and value != int(value):
        raise ConfigError(path, f"must be a whole number, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise ConfigError(path, f"must be greater than {minimum}, got {value}")
        if value < minimum:
            raise ConfigError(path, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, f"must be at most {maximum}, got {value}")
    return value


def ordered(path: str, low: float, high: float, low_name: str, high_name: str) -> None:
    if not low < high:
        raise ConfigError(path, f"{low_name} ({low}) must be less than {high_name} ({high})")


class Section:
    """Reads typed values from one object of the document and remembers which keys were read."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be an object, got {kind(data)}")
        self.data = data
        self.path = path
        self._read: set[str] = set()

    def key(self, key: str) -> str:
        """The path of ``key`` in this section (``rules.velocity.weight``)."""
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        self._read.add(key)
        if key not in self.data:
            raise ConfigError(self.key(key), "is required")
        return self.data[key]

    def optional(self, key: str) -> Any:
        """The value of ``key``, or None when the key is absent or null."""
        self._read.add(key)
        return self.data.get(key)

    def section(self, key: str) -> Section:
        return Section(self.raw(key), self.key(key))

    def sections(self, key: str) -> dict[str, Section]:
        """An object of objects (``{"grocery_pos": {...}, ...}``): each member as a section, by name."""
        outer = self.section(key)
        members = {str(name): outer.section(name) for name in outer.data}
        outer.done()
        return members

    def items(self, key: str) -> list[Section]:
        """A list of objects: each as a section (``windows[0]``, ``windows[1]``, ...)."""
        raw = self.raw(key)
        if not isinstance(raw, list):
            raise ConfigError(self.key(key), f"must be a list, got {kind(raw)}")
        return [Section(member, f"{self.key(key)}[{i}]") for i, member in enumerate(raw)]

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise ConfigError(self.key(key), f"must be true or false, got {kind(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], *, optional: bool = False) -> str | None:
        value = self.optional(key) if optional else self.raw(key)
        if value is None and optional:
            return None
        if value not in choices:
            shown = repr(value[:40]) if isinstance(value, str) else kind(value)
            raise ConfigError(self.key(key), f"must be one of {', '.join(choices)}, got {shown}")
        return value

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        integer: bool = False,
    ) -> float:
        return number(
            self.raw(key),
            self.key(key),
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=exclusive_minimum,
            integer=integer,
        )

    def positive(self, key: str) -> float:
        return self.number(key, minimum=0, exclusive_minimum=True)

    def weight(self, key: str = "weight") -> float:
        return self.number(key, minimum=0, maximum=100)

    def count(self, key: str, minimum: int = 1) -> int:
        return int(self.number(key, minimum=minimum, integer=True))

    def milliseconds(self, key: str) -> int:
        """A whole, positive number of seconds, as milliseconds."""
        return int(self.number(key, minimum=0, exclusive_minimum=True, integer=True) * 1000)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._read, key=str)
        if unknown:
            raise ConfigError(self.key(str(unknown[0])), "unknown key")
