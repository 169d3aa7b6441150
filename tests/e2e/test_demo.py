"""`make demo PROFILE=prod ONCE=1` from the README: the production shape deploys into the local cloud, takes the
demo's traffic and reconciles (every accepted transaction stored and scored, every alert published, nothing lost,
no call without a network path). The session prepares the demo's environment (local-prod) beside the others, so
the demo restores it instead of applying."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import DEPLOYMENTS

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow, pytest.mark.deployments("demo-prod")]


def test_the_prod_profile_demo_reconciles(deployment: Any) -> None:
    shape = DEPLOYMENTS["demo-prod"]
    command = [sys.executable, "-m", "tools.emulator.demo", "--profile", "prod", "--once", "--clock", shape.clock]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "reconciled: every accepted transaction was stored and scored" in result.stdout
    assert "restored the emulator from the previous run" in result.stderr, "the prepared deployment was used"
