"""The Inputs and Outputs tables of every module README, generated from the module's ``.tf`` files.

A README holds its tables between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` (the
terraform-docs convention); everything else in it is prose written by hand. ``make docs`` rewrites
the tables; ``--check`` (the tools test session) fails when one is stale, naming the file.

    python -m tools.deploy.docs [--check]
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools._cli import ROOT, TERRAFORM_DIR, ToolError, progress, run

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
# Every directory whose README documents a Terraform module: the modules, the root and the bootstrap.
MODULE_DIRS = (
    *sorted(p.parent for p in (ROOT / "modules").glob("*/versions.tf")),
    TERRAFORM_DIR,
    TERRAFORM_DIR / "bootstrap",
)


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    type: str
    default: Any
    required: bool


@dataclass(frozen=True)
class Output:
    name: str
    description: str
    sensitive: bool


def _blocks(directory: Path, kind: str) -> Iterable[tuple[str, dict[str, Any]]]:
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            try:
                parsed = hcl2.load(handle, serialization_options=options)
            except Exception as error:  # lark's errors carry the line and column
                raise ToolError(f"{path.relative_to(ROOT)} does not parse: {error}") from None
        for block in parsed.get(kind, []):
            yield from block.items()


def _expression(text: Any) -> str:
    """A type expression as one line: ``${map(object({a = number}))}`` -> ``map(object({a = number}))``."""
    text = str(text)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return " ".join(text.split())


def read_module(directory: Path) -> tuple[list[Variable], list[Output]]:
    variables = [
        Variable(
            name=name,
            description=body.get("description", ""),
            type=_expression(body.get("type", "any")),
            default=body.get("default"),
            required="default" not in body,
        )
        for name, body in _blocks(directory, "variable")
    ]
    outputs = [
        Output(name=name, description=body.get("description", ""), sensitive=bool(body.get("sensitive", False)))
        for name, body in _blocks(directory, "output")
    ]
    return sorted(variables, key=lambda v: v.name), sorted(outputs, key=lambda o: o.name)


def _cell(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _default(variable: Variable) -> str:
    if variable.required:
        return "n/a"
    if isinstance(variable.default, str) and variable.default.startswith("${"):
        return f"`{_expression(variable.default)}`"
    return f"`{json.dumps(variable.default, separators=(', ', ': '))}`".replace("|", "\\|")


def tables(directory: Path) -> str:
    """The generated section: the Inputs table, then the Outputs table."""
    variables, outputs = read_module(directory)
    lines = [BEGIN, "## Inputs", ""]
    if variables:
        lines += ["| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
        for v in variables:
            type_ = f"`{v.type}`".replace("|", "\\|")
            lines.append(
                f"| `{v.name}` | {_cell(v.description)} | {type_} | {_default(v)} | {'yes' if v.required else 'no'} |"
            )
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|---|---|"]
        for o in outputs:
            lines.append(f"| `{o.name}` | {_cell(o.description)}{' (sensitive)' if o.sensitive else ''} |")
    else:
        lines.append("No outputs.")
    lines.append(END)
    return "\n".join(lines)


def rendered(readme: Path, section: str) -> str:
    """The README with its generated section replaced (appended when it has none yet)."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {readme.parent.name}\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section + "\n"


def stale(directories: Sequence[Path] = MODULE_DIRS) -> list[Path]:
    """The READMEs whose tables differ from what the ``.tf`` files say."""
    out = []
    for directory in directories:
        readme = directory / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        if rendered(readme, tables(directory)) != current:
            out.append(readme)
    return out


def write(directories: Sequence[Path] = MODULE_DIRS) -> list[Path]:
    changed = []
    for readme in stale(directories):
        readme.write_text(rendered(readme, tables(readme.parent)), encoding="utf-8")
        changed.append(readme)
    return changed


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail (exit 1) when a README's tables are stale")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for readme in out_of_date:
            print(f"stale: {readme.relative_to(ROOT)} (run `make docs`)")
        return 1 if out_of_date else 0
    for readme in write():
        progress(f"updated {readme.relative_to(ROOT)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
