"""Shared test policy.

A test that needs something a user's machine may lack (the terraform binary) skips there with a
reason, but in CI (``CI`` set) a missing prerequisite fails the run: nothing skips silently in CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


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
