"""Validate a rules document and put it into an environment's SSM parameter, without a redeploy.

    make rules ENV=dev FILE=my-rules.json
    python -m tools.detection.rules --env dev --file my-rules.json
    python -m tools.detection.rules --parameter-name /fraud-detection/dev/rules-dev --file my-rules.json
    python -m tools.detection.rules --file my-rules.json --check      # validate only

The document may be full or partial: the functions merge it over ``lambdas/fraud/rules.default.json``.
It is validated exactly as the functions will (``fraud.config.load_config``) before anything is sent; an
invalid document exits non-zero naming the bad key. The parameter name comes from the Terraform output
``rules_parameter_name`` of the environment, or from ``--parameter-name``. detect-fraud and
analyze-patterns read the parameter through a cache, so the new rules apply within
``RULES_CACHE_SECONDS`` (300 s by default). Try a document first with
``python -m tools.detection.backtest PATH --config my-rules.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from fraud.config import ConfigError, load_config
from tools._cli import ToolError, progress, reading, run


def read_document(path: str | Path) -> str:
    """The document of ``path``, validated, as compact JSON (what the parameter will hold)."""
    with reading(path):
        text = Path(path).read_text(encoding="utf-8")
    try:
        load_config(text)
    except ConfigError as error:
        raise ToolError(f"{path}: {error}; nothing was uploaded") from None
    return json.dumps(json.loads(text), separators=(",", ":"))


def parameter_name_for(suffix: str) -> str:
    """The ``rules_parameter_name`` output of environment ``suffix``."""
    from tools.deploy.tf import Stack  # needs terraform; only the --env path pays for it

    name = Stack(suffix).outputs().get("rules_parameter_name")
    if not name:
        raise ToolError(
            f"environment {suffix} has no output rules_parameter_name: deploy it first "
            f"(make deploy ENV={suffix}) or pass --parameter-name"
        )
    return name


def put(name: str, value: str, ssm_client=None) -> int:
    """Overwrite the String parameter ``name`` with ``value``; returns the new version."""
    if ssm_client is None:
        import boto3

        ssm_client = boto3.client("ssm")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        # Intelligent-Tiering: standard up to 4 KB, advanced above, and never a failed downgrade of a
        # parameter Terraform created in the advanced tier.
        answer = ssm_client.put_parameter(
            Name=name, Value=value, Type="String", Overwrite=True, Tier="Intelligent-Tiering"
        )
    except ClientError as error:
        raise ToolError(f"could not put {name}: {error.response['Error'].get('Message', error)}") from None
    except BotoCoreError as error:
        raise ToolError(f"could not put {name}: {error}") from None
    return answer["Version"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.rules",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--file", required=True, help="the rules document (JSON, full or partial)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--env", help="environment suffix: the parameter is its rules_parameter_name output")
    target.add_argument("--parameter-name", help="the SSM parameter to overwrite")
    parser.add_argument("--check", action="store_true", help="validate the document and stop")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    value = read_document(args.file)
    if args.check:
        print(f"{args.file}: valid rules document")
        return 0
    if not (args.env or args.parameter_name):
        raise ToolError("say where to put the document: --env SUFFIX or --parameter-name NAME")
    name = args.parameter_name or parameter_name_for(args.env)
    version = put(name, value)
    progress("functions pick it up within their rules cache time (RULES_CACHE_SECONDS, 300 s by default)")
    print(f"{name}: version {version}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
