"""Render ``build/<suffix>/terraform.tfvars.json`` for one environment.

The values come from a profile in ``tools/deploy/profiles/<profile>.json`` (dev, staging, prod, local) and the
command-line overrides, through the jinja2 template ``tools/deploy/templates/terraform.tfvars.json.j2``. The
profile is ``--profile`` when given, otherwise the one named like the suffix (prod, staging, local),
otherwise dev, so ``--env pr-42`` renders a small, cheap dev-shaped environment.

``powertools_release`` is the ``aws-lambda-powertools`` pin of pyproject.toml (unless the profile sets it:
the local profile runs without the layer). The alert addresses are kept across renders: an address set
once (``--alert-email``, ``--ops-email``) stays in ``build/<suffix>/terraform.tfvars.json`` until a flag
replaces it, and an empty value (``--alert-email ''``) removes it.

    python -m tools.deploy.tfvars --env pr-42
    python -m tools.deploy.tfvars --env prod --alert-email fraud-team@example.com --ops-email fraud-ops@example.com
    python -m tools.deploy.tfvars --env local --stream-consumer direct --set functions.detect-fraud.memory_mb=512
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from tools._cli import BUILD, DIST, ToolError, powertools_release, progress, run, terraform_variables, validate_suffix

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "terraform.tfvars.json.j2"
DEFAULT_PROFILE = "dev"

# Inputs of the root module: the `variable` blocks of terraform/variables.tf, the one list of them.
# `suffix` and `artifacts_dir` are always rendered.
VARIABLES = terraform_variables()
# Addresses a user chose: a later render keeps them unless a flag says otherwise.
STICKY = ("alert_email", "ops_email")
STREAM_CONSUMERS = ("eventbridge", "direct")


def available_profiles() -> list[str]:
    return sorted(path.stem for path in PROFILES_DIR.glob("*.json"))


def profile_for(suffix: str, profile: str | None = None) -> str:
    """The explicit profile, else the one named like the suffix, else dev."""
    if profile is not None:
        if profile not in available_profiles():
            raise ToolError(f"unknown profile {profile!r}: choose one of {', '.join(available_profiles())}")
        return profile
    return suffix if suffix in available_profiles() else DEFAULT_PROFILE


def load_profile(name: str) -> dict[str, Any]:
    path = PROFILES_DIR / f"{name}.json"
    try:
        profile = json.loads(path.read_text())
    except FileNotFoundError:
        raise ToolError(f"unknown profile {name!r}: choose one of {', '.join(available_profiles())}") from None
    except json.JSONDecodeError as error:
        raise ToolError(f"{path} is not valid JSON: {error}") from None
    unknown = (set(profile.get("variables", {})) | set(profile.get("required_variables", []))) - VARIABLES
    if unknown:
        raise ToolError(f"{path} names unknown variable(s) {', '.join(sorted(unknown))}")
    return profile


def previous_choices(path: Path) -> dict[str, Any]:
    """The sticky values (alert addresses) of an earlier render at ``path``, if any."""
    try:
        earlier = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {name: earlier[name] for name in STICKY if earlier.get(name)}


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``key=value`` or ``a.b.c=value``: the value is JSON when it parses as JSON, else a string."""
    key, sep, raw = text.partition("=")
    path = key.strip().split(".")
    if not sep or not all(path):
        raise ToolError(f"--set {text!r}: write key=value, e.g. --set api_quota_limit=5000")
    if path[0] not in VARIABLES:
        raise ToolError(f"--set {text!r}: unknown variable {path[0]!r}; known: {', '.join(sorted(VARIABLES))}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return path, value


def assign(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set ``target[path[0]][path[1]]... = value``, creating the maps on the way."""
    for key in path[:-1]:
        node = target.setdefault(key, {})
        if not isinstance(node, dict):
            raise ToolError(f"cannot set {'.'.join(path)}: {key} is {json.dumps(node)}, not a map")
        target = node
    target[path[-1]] = value


def render(
    suffix: str,
    profile: str | None = None,
    overrides: Mapping[str, Any] | Sequence[tuple[Sequence[str], Any]] = (),
    artifacts_dir: Path = DIST,
    previous: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """The profile used and the rendered tfvars document for ``suffix``.

    ``previous`` holds earlier choices (``previous_choices``) kept unless the profile or an override
    sets them; ``overrides`` are ``{name: value}`` or ``[(path, value)]`` pairs applied over the profile
    in order (an empty alert address removes it).
    """
    validate_suffix(suffix)
    name = profile_for(suffix, profile)
    settings = load_profile(name)
    variables = {"powertools_release": powertools_release(), **copy.deepcopy(settings.get("variables", {}))}
    for sticky, value in (previous or {}).items():
        variables.setdefault(sticky, value)
    variables["tags"] = {"Profile": name, **settings.get("tags", {})}
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for path, value in items:
        assign(variables, [path] if isinstance(path, str) else list(path), value)
    for sticky in STICKY:
        if variables.get(sticky) == "":
            variables.pop(sticky)  # an empty address removes the subscription
    for fixed in ("suffix", "artifacts_dir"):
        if fixed in variables:
            raise ToolError(f"{fixed} is not an override: it comes from --env / --artifacts-dir")
    if variables.get("stream_consumer", STREAM_CONSUMERS[0]) not in STREAM_CONSUMERS:
        raise ToolError(f"stream_consumer must be one of {', '.join(STREAM_CONSUMERS)}")
    tags = variables.pop("tags")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    text = environment.get_template(TEMPLATE).render(
        suffix=suffix,
        artifacts_dir=str(Path(artifacts_dir).resolve()),
        variables=variables,
        tags=tags,
    )
    json.loads(text)  # the template must always produce JSON; a broken template fails here, not in Terraform
    return name, text


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy.tfvars",
        description=__doc__.split("\n\n")[0],
        epilog=f"profiles: {', '.join(available_profiles())}",
    )
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="environment suffix, e.g. dev, prod, pr-42")
    parser.add_argument("--profile", help="profile to use (default: named like the suffix, else dev)")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a variable; VALUE is JSON (a bare word is a string); dots reach into maps: "
        "functions.detect-fraud.memory_mb=512",
    )
    parser.add_argument("--stream-consumer", choices=STREAM_CONSUMERS, help="how detect-fraud reads the stream")
    vpc = parser.add_mutually_exclusive_group()
    vpc.add_argument(
        "--enable-vpc", dest="enable_vpc", action="store_const", const=True, help="run the functions in a VPC"
    )
    vpc.add_argument("--no-vpc", dest="enable_vpc", action="store_const", const=False, help="no VPC")
    parser.add_argument(
        "--alert-email", help="subscribe this address to the fraud alerts topic (kept for later renders; '' removes it)"
    )
    parser.add_argument(
        "--ops-email", help="subscribe this address to the ops (alarms) topic (kept for later renders; '' removes it)"
    )
    parser.add_argument("--artifacts-dir", type=Path, default=DIST, help="where the zips are (default: build/dist)")
    parser.add_argument("--output", type=Path, help="file to write (default: build/<suffix>/terraform.tfvars.json)")
    args = parser.parse_args(argv)

    overrides: list[tuple[Sequence[str], Any]] = [parse_assignment(text) for text in args.assignments]
    for name in ("stream_consumer", "enable_vpc", "alert_email", "ops_email"):
        value = getattr(args, name)
        if value is not None:
            overrides.append(([name], value))
    output = args.output or BUILD / validate_suffix(args.env) / "terraform.tfvars.json"
    previous = previous_choices(output)
    profile, text = render(args.env, args.profile, overrides, args.artifacts_dir, previous)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    rendered = json.loads(text)
    kept = [f"{name}={value}" for name, value in previous.items() if rendered.get(name) == value]
    progress(
        f"rendered {args.env} with profile {profile}" + (f" (kept {', '.join(kept)} from {output})" if kept else "")
    )
    print(output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
