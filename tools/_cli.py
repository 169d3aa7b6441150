"""What every tool shares: the repository layout, user errors without tracebacks, progress lines.

Standard library only, so it runs before any virtualenv exists (``.ci/run`` asks it for the provider
mirror): ``python3 -m tools._cli provider-mirror``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DIST = BUILD / "dist"
TERRAFORM_DIR = ROOT / "terraform"
LAMBDAS = ROOT / "lambdas"
# The one declaration of the functions: key (Terraform map key, zip name, name prefix) -> handler module,
# description and default sizing. Terraform reads the same file (terraform/functions.tf).
FUNCTIONS_FILE = LAMBDAS / "functions.json"
PYPROJECT = ROOT / "pyproject.toml"
TERRAFORM_VARIABLES_FILE = TERRAFORM_DIR / "variables.tf"
POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"

# The same rule as the `suffix` variable in terraform/variables.tf.
SUFFIX_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$")
CLOCK_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAY_MS = 86_400_000


# Where a filesystem mirror of the AWS provider is looked for when TF_PLUGIN_DIR is not set: Terraform's
# implicit local mirror directories, then the shared mirror this project's CI machines carry.
MIRROR_CANDIDATES = (
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
    Path("/opt/tf-plugins"),
)


def provider_mirror(environ: Mapping[str, str] | None = None) -> str | None:
    """The provider mirror ``terraform init -plugin-dir`` should use, or None for the registry.

    ``TF_PLUGIN_DIR`` wins when set; otherwise the first candidate directory that holds the
    hashicorp/aws provider, so a machine without internet access to the registry works as is.
    """
    if explicit := (os.environ if environ is None else environ).get("TF_PLUGIN_DIR"):
        return explicit
    for candidate in MIRROR_CANDIDATES:
        if (candidate / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return str(candidate)
    return None


@functools.cache
def function_catalog() -> dict[str, dict[str, Any]]:
    """``lambdas/functions.json``: function key -> ``{"module", "description", "memory_mb", "timeout_seconds"}``."""
    return json.loads(FUNCTIONS_FILE.read_text(encoding="utf-8"))


def function_modules() -> dict[str, str]:
    """Function key -> handler module (``detect-fraud`` -> ``detect_fraud``), in declaration order."""
    return {key: spec["module"] for key, spec in function_catalog().items()}


def terraform_variables(path: Path = TERRAFORM_VARIABLES_FILE) -> frozenset[str]:
    """The names of the ``variable "..."`` blocks of a Terraform file (the root module's inputs by default)."""
    return frozenset(re.findall(r'^variable\s+"([\w-]+)"', path.read_text(encoding="utf-8"), re.M))


def powertools_release(pyproject: Path = PYPROJECT) -> str:
    """The Powertools release the functions run: the ``aws-lambda-powertools==X`` pin of the ``lambda`` extra.

    It is the one place the release is written: the tests and the emulator install it from there, and
    ``tools.deploy.tfvars`` renders it into ``powertools_release``, from which Terraform resolves the
    layer ARN of exactly that release.
    """
    extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for requirement in extras.get("lambda", []):
        match = re.fullmatch(rf"{POWERTOOLS_DISTRIBUTION}(\[[^\]]*\])?==([0-9]+\.[0-9]+\.[0-9]+)", requirement.strip())
        if match:
            return match.group(2)
    raise ToolError(f"{pyproject} pins no {POWERTOOLS_DISTRIBUTION}==X.Y.Z in its `lambda` extra")


class ToolError(Exception):
    """A problem the user can fix (missing file, bad flag, missing binary): printed without a traceback."""


@contextlib.contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """An OSError while reading ``path`` becomes a ToolError that names the file and why."""
    try:
        yield
    except OSError as error:
        raise ToolError(f"cannot read {path}: {error.strerror or error}") from None


def clock_offset_ms(time_of_day: str, wall_ms: int) -> int:
    """How far a clock pinned to ``time_of_day`` (``HH:MM``, UTC) runs behind ``wall_ms``: the most recent moment
    at or before ``wall_ms`` at that time of day, minus ``wall_ms`` (from 0 to a day, negative or zero). Traffic
    stamped ``wall + offset`` is at that hour whenever it is generated (the demo's ``--clock``, the tests)."""
    match = CLOCK_PATTERN.match(time_of_day)
    if match is None:
        raise ToolError(f"a clock is a UTC time of day such as 00:30 or 12:30, got {time_of_day!r}")
    start = wall_ms - wall_ms % DAY_MS + (int(match.group(1)) * 60 + int(match.group(2))) * 60_000
    return (start - DAY_MS if start > wall_ms else start) - wall_ms


def validate_suffix(suffix: str) -> str:
    if not SUFFIX_PATTERN.match(suffix):
        raise ToolError(
            f"invalid environment suffix {suffix!r}: use 2 to 24 lowercase letters, digits or hyphens, "
            "starting and ending with a letter or digit (e.g. dev, prod, pr-42)"
        )
    return suffix


def progress(message: str) -> None:
    """One line of progress on stderr, so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """Run a tool's ``main`` and turn user errors into a message and exit status 1."""
    try:
        return main(argv)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    """``provider-mirror``: print the mirror directory (empty when there is none); ``powertools-release``."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"provider-mirror": lambda: provider_mirror() or "", "powertools-release": powertools_release}
    if len(args) != 1 or args[0] not in commands:
        raise ToolError(f"usage: python3 -m tools._cli {{{','.join(commands)}}}")
    print(commands[args[0]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(run(_main, None))
