"""Shared test policy.

A test that needs something a user's machine may lack (the terraform binary) skips there with a
reason, but in CI (``CI`` set) a missing prerequisite fails the run: nothing skips silently in CI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


LARGE = 4096  # characters or bytes: above this, a failed == between two strings or byte strings is not diffed


def pytest_assertrepr_compare(op: str, left: Any, right: Any) -> list[str] | None:
    """A failed ``==`` between two large strings or byte strings is explained in a few lines (sizes, digests,
    the first differing offset with its surroundings) instead of pytest's diff, whose cost grows with the square
    of the size (megabytes took over 20 minutes of CPU in difflib)."""
    if op != "==" or type(left) is not type(right) or not isinstance(left, str | bytes):
        return None
    if max(len(left), len(right)) <= LARGE:
        return None
    first = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), min(len(left), len(right)))

    def around(value: str | bytes) -> str:
        return repr(value[max(0, first - 40) : first + 40])

    def digest(value: str | bytes) -> str:
        return hashlib.sha256(value if isinstance(value, bytes) else value.encode()).hexdigest()[:16]

    return [
        f"two {type(left).__name__} values of {len(left):,} and {len(right):,} differ, first at offset {first:,}",
        f"sha256 {digest(left)} != {digest(right)}",
        f"left:  ...{around(left)}...",
        f"right: ...{around(right)}...",
    ]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` on a user's machine; fail in CI, where everything must run."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    path = shutil.which("terraform")
    require(path is not None, "terraform is not on PATH; install Terraform >= 1.5 to run this test")
    return path  # type: ignore[return-value]
