"""Every profile's Terraform is stable: right after an apply into the local cloud, a plan of the same
configuration changes nothing (a resource that shows a change on every plan is a configuration that does not
say what AWS keeps, e.g. a gateway response without its status code: terraform-provider-aws #48260).

The e2e session prepares each deployment once (``tools.emulator.deployments``: apply, record, plan again); this
test reads the plan kept beside the recording of that apply.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.deployments("eventbridge", "direct", "dev", "staging", "prod-eventbridge", "prod-direct"),
]


def test_a_plan_right_after_the_apply_changes_nothing(deployment: Any) -> None:
    from tools.emulator.demo import second_plan

    changes = second_plan(deployment.suffix)
    assert changes is not None, f"{deployment}: no plan was kept for its recorded apply"
    assert changes == [], f"{deployment.profile}: a second apply would change " + "; ".join(changes)
