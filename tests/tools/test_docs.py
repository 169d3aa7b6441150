"""Module README tables are generated from the .tf files, and a stale one fails here."""

from __future__ import annotations

import shutil

from tests.conftest import ROOT
from tools.deploy import docs


def test_every_module_readme_matches_its_variables_and_outputs():
    stale = [p.relative_to(ROOT).as_posix() for p in docs.stale()]
    assert stale == [], f"run `make docs` (python -m tools.deploy.docs): {stale}"


def test_every_module_root_and_the_bootstrap_have_a_generated_section():
    names = {d.relative_to(ROOT).as_posix() for d in docs.MODULE_DIRS}
    assert {"modules/api", "modules/models", "terraform", "terraform/bootstrap"} <= names
    for directory in docs.MODULE_DIRS:
        text = (directory / "README.md").read_text()
        assert text.count(docs.BEGIN) == 1 and text.count(docs.END) == 1, directory


def test_a_changed_variable_makes_the_readme_stale_until_it_is_regenerated(tmp_path):
    module = shutil.copytree(ROOT / "modules" / "security", tmp_path / "security")
    assert docs.stale([module]) == []
    variables = module / "variables.tf"
    variables.write_text(
        variables.read_text()
        + '\nvariable "alias_prefix" {\n  description = "Prefix of the <alias> | name."\n  type        = string\n'
        '  default     = "alias/x"\n}\n'
    )
    assert docs.stale([module]) == [module / "README.md"]
    assert docs.write([module]) == [module / "README.md"]
    assert docs.stale([module]) == []
    text = (module / "README.md").read_text()
    row = '| `alias_prefix` | Prefix of the &lt;alias&gt; \\| name. | `string` | `"alias/x"` | no |'
    assert row in text
    assert text.index("# security") < text.index(docs.BEGIN), "the hand-written part stays in front"


def test_required_inputs_sensitive_outputs_and_complex_types_are_shown():
    section = docs.tables(ROOT / "terraform")
    assert "| `suffix` |" in section and "| n/a | yes |" in section.split("| `suffix` |")[1].splitlines()[0]
    assert "| `api_key_value` | Value of the API key; send it as the x-api-key header. (sensitive) |" in section
    functions_type = "map(object({memory_mb = optional(number), timeout_seconds = optional(number), "
    assert f"`{functions_type}reserved_concurrency = optional(number)}}))`" in section
