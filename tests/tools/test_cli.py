"""The shared helpers every tool (and .ci/run, before any virtualenv) relies on."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT
from tools import _cli
from tools._cli import ToolError, clock_offset_ms


def test_the_powertools_release_is_the_one_pin_in_the_lambda_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (pin,) = [r for r in extras["lambda"] if r.startswith("aws-lambda-powertools")]
    assert pin.endswith(f"=={_cli.powertools_release()}")
    assert not [r for extra in extras.values() for r in extra if "powertools" in r and r != pin]


def test_the_tests_and_the_emulator_run_exactly_the_pinned_powertools_release():
    from importlib.metadata import version

    assert version("aws-lambda-powertools") == _cli.powertools_release()


def test_a_pyproject_without_the_pin_is_a_clear_error(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[project.optional-dependencies]\nlambda = ["boto3"]\n')
    with pytest.raises(_cli.ToolError, match="pins no aws-lambda-powertools"):
        _cli.powertools_release(pyproject)


def test_ci_finds_the_provider_mirror_with_the_standard_library_alone(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin", "TF_PLUGIN_DIR": str(mirror)}
    # -S -E: no site-packages, no PYTHON* variables: what .ci/run has before `make` creates the venv.
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-m", "tools._cli", "provider-mirror"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout.strip()) == (0, str(mirror))
    assert "tools._cli provider-mirror" in (ROOT / ".ci" / "run").read_text()


def test_an_unknown_cli_command_says_what_it_knows():
    result = subprocess.run([sys.executable, "-m", "tools._cli", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "provider-mirror" in result.stderr


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("tools.detection.backtest", "backtest"),
        ("tools.detection.train", "read_source"),
        ("tools.detection.rules", "read_document"),
        ("tools.detection.model", "read_artifact"),
        ("tools.detection.shadow", "read_file"),
    ],
)
def test_a_file_the_detection_tools_cannot_read_is_a_clear_error_naming_it(tmp_path, module, function):
    read = getattr(importlib.import_module(module), function)
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(_cli.ToolError, match=rf"^cannot read {re.escape(str(missing))}: No such file or directory$"):
        list(read(missing))  # read_file is a generator: it reads when iterated


@pytest.mark.parametrize(
    ("wall", "clock", "expected"),
    [
        ("2026-12-07T01:25:00", "00:30", "2026-12-07T00:30:00"),  # earlier today
        ("2026-12-07T00:10:00", "00:30", "2026-12-06T00:30:00"),  # not yet today: yesterday's
        ("2026-12-07T12:30:00", "12:30", "2026-12-07T12:30:00"),  # now
        ("2026-12-07T23:59:59", "12:30", "2026-12-07T12:30:00"),
    ],
)
def test_a_pinned_clock_is_the_most_recent_moment_at_that_time_of_day(wall: str, clock: str, expected: str) -> None:
    from datetime import UTC, datetime

    wall_ms = int(datetime.fromisoformat(wall).replace(tzinfo=UTC).timestamp() * 1000)
    pinned = datetime.fromtimestamp((wall_ms + clock_offset_ms(clock, wall_ms)) / 1000, UTC)
    assert pinned.strftime("%Y-%m-%dT%H:%M:%S") == expected


@pytest.mark.parametrize("clock", ["24:00", "7:30", "12:60", "noon", ""])
def test_a_malformed_clock_is_refused_with_an_example(clock: str) -> None:
    with pytest.raises(ToolError, match="such as 00:30 or 12:30"):
        clock_offset_ms(clock, 0)
