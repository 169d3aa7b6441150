"""LightGBM booster -> the trees of a model artifact (``lambdas/fraud/model.py`` reads them).

``trees_from_dump(booster.dump_model(num_iteration=...))`` turns LightGBM's JSON dump into one
compact object per tree in LightGBM's own array layout: for internal node ``i`` (its ``split_index``)
``feature[i]``, ``threshold[i]`` (a number, or the sorted list of categories that go left for a
categorical split, from the dump's ``"a||b||c"``), ``missing[i]`` (``None``/``Zero``/``NaN``),
``default_left[i]``, ``left[i]`` / ``right[i]`` (a child ``c >= 0`` is internal node ``c``, ``c < 0``
is leaf ``~c``) and ``internal_value[i]`` (the node's output as a leaf, for contributions); and
``leaf_value`` by ``leaf_index``. The dump prints doubles with 17 significant digits, so every number
survives the round trip exactly.
"""

from __future__ import annotations

from typing import Any


class ExportError(ValueError):
    """The booster is of a kind the evaluator does not serve."""


def _check(dump: dict) -> None:
    objective = str(dump.get("objective", ""))
    if not objective.startswith("binary"):
        raise ExportError(f"only binary models are served, this one is {objective.split()[0] if objective else '?'}")
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("num_class", 1) != 1:
        raise ExportError("only one tree per iteration is served")


def tree_arrays(structure: dict, num_leaves: int) -> dict[str, Any]:
    """One tree of the dump (its ``tree_structure``) as the artifact's arrays."""
    if num_leaves == 1:
        return {"leaf_value": [float(structure["leaf_value"])]}
    n = num_leaves - 1
    arrays: dict[str, list] = {
        key: [None] * n
        for key in ("feature", "threshold", "missing", "default_left", "left", "right", "internal_value")
    }
    leaf_value: list[float | None] = [None] * num_leaves

    def index(node: dict) -> int:
        return node["split_index"] if "split_index" in node else ~node["leaf_index"]

    pending = [structure]
    while pending:
        node = pending.pop()
        if "split_index" not in node:
            if "leaf_coeff" in node:
                raise ExportError("linear trees are not served")
            leaf_value[node["leaf_index"]] = float(node["leaf_value"])
            continue
        i = node["split_index"]
        if node["decision_type"] == "==":
            threshold: Any = sorted(int(c) for c in str(node["threshold"]).split("||"))
        elif node["decision_type"] == "<=":
            threshold = float(node["threshold"])
        else:
            raise ExportError(f"unknown decision type {node['decision_type']!r}")
        arrays["feature"][i] = int(node["split_feature"])
        arrays["threshold"][i] = threshold
        arrays["missing"][i] = str(node["missing_type"])
        arrays["default_left"][i] = bool(node["default_left"])
        arrays["left"][i] = index(node["left_child"])
        arrays["right"][i] = index(node["right_child"])
        arrays["internal_value"][i] = float(node["internal_value"])
        pending += [node["left_child"], node["right_child"]]
    if any(v is None for v in leaf_value) or any(v is None for values in arrays.values() for v in values):
        raise ExportError("the dump's node or leaf indexes are not contiguous")
    return {**arrays, "leaf_value": leaf_value}


def trees_from_dump(dump: dict) -> list[dict[str, Any]]:
    """Every tree of ``Booster.dump_model()`` (use ``num_iteration=`` for the best iteration)."""
    _check(dump)
    return [tree_arrays(tree["tree_structure"], int(tree["num_leaves"])) for tree in dump["tree_info"]]
