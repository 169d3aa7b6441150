"""The learned risk model: load a model artifact and score feature vectors with it, no third-party code.

An artifact is one JSON document written by ``tools.detection.train`` (format ``fraud-model``, version
``FORMAT_VERSION``): gradient-boosted trees exported from LightGBM, the feature names in vector order,
the category vocabulary of the categorical features, the feature spec they were computed with, the
score calibration, the review/alert thresholds and the training metadata (metrics, input hash,
library versions, version id).

``load(data, sha256=None)`` validates everything the evaluator relies on and raises ``ModelError``
(a ``ValueError``) naming what is wrong; the message never repeats the file's content. The trees are
then compiled once into one Python function: generated source built only from the parsed numbers
(thresholds and leaf values formatted with ``repr``, feature indexes and categories as ints), never
from strings of the file. Each split follows LightGBM's own prediction (``include/LightGBM/tree.h``,
``NumericalDecision`` / ``CategoricalDecision``), so ``Model.raw_score`` equals
``Booster.predict(X, raw_score=True)``:

- numerical split ``x <= threshold`` goes left. Missing type ``NaN``: NaN takes the default
  direction. ``Zero``: NaN and zero (``|x| <= kZeroThreshold``) take the default direction. ``None``:
  NaN is treated as 0.0. LightGBM's prediction input also turns every ``|x| <= kZeroThreshold``
  (1e-35 as a float32) into 0.0 before the trees see it.
- categorical split: NaN goes right; otherwise the category is ``int(x)`` (truncated toward zero),
  a negative one goes right, and it goes left when it is in the split's category set (LightGBM's
  bitset, the ``a||b||c`` threshold of ``dump_model``); a category never seen in training is in no
  set, so it goes right. ``Model.vector`` maps an unseen or missing category to NaN.
- the raw score is the sum of the trees' leaf values in tree order, from 0.0 (as ``GBDT::PredictRaw``).

The 0-100 score is a log-odds scale: ``probability = sigmoid(slope * raw + intercept)`` (Platt scaling,
fitted by the trainer on data the trees were not fitted on) and ``score = round(even_odds_score +
points_per_doubling * log2(odds))`` clamped to 0..100, so 50 is even odds and every
``points_per_doubling`` points (5 by default) double the odds of fraud.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Contribution",
    "Model",
    "ModelError",
    "load",
    "vectorizer",
]

FORMAT = "fraud-model"
FORMAT_VERSION = 1
MAX_BYTES = 64 * 1024 * 1024
MAX_TREES = 10_000
MAX_CATEGORY = 2**31 - 1  # LightGBM's categories are C ints
MISSING_TYPES = ("None", "Zero", "NaN")
# LightGBM's kZeroThreshold is the float literal 1e-35f, compared as a double.
ZERO = struct.unpack("<f", struct.pack("<f", 1e-35))[0]
NAN = math.nan
LN2 = math.log(2.0)
# Deeper trees are evaluated by walking their arrays: nested blocks that deep would pass the
# tokenizer's indentation limit (100 levels).
MAX_COMPILED_DEPTH = 60


class ModelError(ValueError):
    """The artifact is corrupt, truncated, of another format version or inconsistent."""


class Contribution(NamedTuple):
    """How much one feature moved this transaction's raw score (log-odds)."""

    feature: str
    contribution: float


class Tree(NamedTuple):
    """One tree in LightGBM's array layout: internal node ``i`` splits on ``feature[i]``; a child
    index ``c >= 0`` is an internal node, ``c < 0`` is leaf ``~c``."""

    feature: tuple[int, ...]
    threshold: tuple[float | frozenset[int], ...]  # a frozenset: categorical split (categories going left)
    missing: tuple[str, ...]
    default_left: tuple[bool, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    internal_value: tuple[float, ...]
    leaf_value: tuple[float, ...]


# -- validation ----------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> ModelError:
    return ModelError(f"invalid model artifact: {where}: {problem}")


def _reject_constant(name: str) -> Any:
    raise ModelError(f"invalid model artifact: not strict JSON ({name} is not a number)")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise _fail(where, "expected a finite number")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise _fail(where, f"expected an integer from {low} to {high}, got {value}")
    return value


def _list(value: Any, where: str, length: int | None = None) -> list:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise _fail(where, f"expected {length} entries, got {len(value)}")
    return value


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    names = _list(value, where)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or len(name) > 200:
            raise _fail(f"{where}[{i}]", "expected a non-empty string of at most 200 characters")
    if len(set(names)) != len(names):
        raise _fail(where, "names repeat")
    return tuple(names)


def _tree(doc: Any, where: str, n_features: int, categorical: frozenset[int]) -> Tree:
    doc = _object(doc, where)
    leaves = _list(doc.get("leaf_value"), f"{where}.leaf_value")
    if not leaves:
        raise _fail(f"{where}.leaf_value", "a tree needs at least one leaf")
    leaf_value = tuple(_number(v, f"{where}.leaf_value[{i}]") for i, v in enumerate(leaves))
    n = len(leaf_value) - 1  # internal nodes
    arrays = {
        key: _list(doc.get(key, [] if n == 0 else None), f"{where}.{key}", n)
        for key in ("feature", "threshold", "missing", "default_left", "left", "right", "internal_value")
    }
    feature = tuple(_int(v, f"{where}.feature[{i}]", 0, n_features - 1) for i, v in enumerate(arrays["feature"]))
    left = tuple(_int(v, f"{where}.left[{i}]", -(n + 1), n - 1) for i, v in enumerate(arrays["left"]))
    right = tuple(_int(v, f"{where}.right[{i}]", -(n + 1), n - 1) for i, v in enumerate(arrays["right"]))
    internal_value = tuple(_number(v, f"{where}.internal_value[{i}]") for i, v in enumerate(arrays["internal_value"]))
    missing = []
    for i, v in enumerate(arrays["missing"]):
        if v not in MISSING_TYPES:
            raise _fail(f"{where}.missing[{i}]", f"expected one of {', '.join(MISSING_TYPES)}")
        missing.append(v)
    default_left = []
    for i, v in enumerate(arrays["default_left"]):
        if not isinstance(v, bool):
            raise _fail(f"{where}.default_left[{i}]", "expected true or false")
        default_left.append(v)
    threshold: list[float | frozenset[int]] = []
    for i, v in enumerate(arrays["threshold"]):
        at = f"{where}.threshold[{i}]"
        if isinstance(v, list):
            if feature[i] not in categorical:
                raise _fail(at, "a categorical split on a feature that is not categorical")
            cats = [_int(c, f"{at}[{j}]", 0, MAX_CATEGORY) for j, c in enumerate(v)]
            if not cats or len(set(cats)) != len(cats):
                raise _fail(at, "expected a non-empty list of distinct categories")
            threshold.append(frozenset(cats))
        else:
            if feature[i] in categorical:
                raise _fail(at, "a numerical split on a categorical feature")
            threshold.append(_number(v, at))
    # Every internal node and every leaf is reached exactly once from the root: a tree, no cycles.
    seen_nodes, seen_leaves = set(), set()
    pending = [0] if n else []
    while pending:
        node = pending.pop()
        if node in seen_nodes:
            raise _fail(where, f"node {node} is reached twice")
        seen_nodes.add(node)
        for child in (left[node], right[node]):
            if child >= 0:
                pending.append(child)
            elif ~child in seen_leaves:
                raise _fail(where, f"leaf {~child} is reached twice")
            else:
                seen_leaves.add(~child)
    if n and (len(seen_nodes) != n or len(seen_leaves) != n + 1):
        raise _fail(where, "some nodes or leaves are not reachable from the root")
    return Tree(
        feature,
        tuple(threshold),
        tuple(missing),
        tuple(default_left),
        left,
        right,
        internal_value,
        leaf_value,
    )


# -- evaluation ----------------------------------------------------------------------------------


def goes_left(tree: Tree, node: int, x: float) -> bool:
    """LightGBM's decision at ``node`` for the feature value ``x`` (the reference the compiled code
    is tested against; also used to walk trees for contributions and for very deep trees)."""
    threshold = tree.threshold[node]
    if isinstance(threshold, frozenset):  # CategoricalDecision
        if x != x or not -1.0 < x < 2147483648.0:
            return False
        return int(x) in threshold
    if -ZERO <= x <= ZERO:
        x = 0.0  # the prediction input drops zeros (|x| <= kZeroThreshold)
    missing = tree.missing[node]
    if x != x and missing != "NaN":
        x = 0.0
    if (missing == "Zero" and x == 0.0) or (missing == "NaN" and x != x):
        return tree.default_left[node]
    return x <= threshold


def leaf_of(tree: Tree, x: Sequence[float]) -> tuple[int, list[int]]:
    """The leaf ``x`` reaches and the internal nodes on the way."""
    path: list[int] = []
    if not tree.feature:
        return 0, path
    node = 0
    while node >= 0:
        path.append(node)
        node = tree.left[node] if goes_left(tree, node, x[tree.feature[node]]) else tree.right[node]
    return ~node, path


def _condition(tree: Tree, node: int) -> str:
    """Python source for "goes left" at ``node``, reading the local ``f<feature>``."""
    v = f"f{tree.feature[node]}"
    threshold = tree.threshold[node]
    if isinstance(threshold, frozenset):
        return f"-1.0 < {v} < 2147483648.0 and int({v}) in {{{', '.join(map(repr, sorted(threshold)))}}}"
    t, z = repr(threshold), repr(ZERO)
    tiny = f"-{z} <= {v} <= {z}"
    missing, default_left = tree.missing[node], tree.default_left[node]
    # "not v > t" is "v <= t" that also sends NaN left. The shorter forms below drop a test whenever
    # the threshold's side of zero already decides it.
    if missing == "Zero":  # NaN and zero (|v| <= ZERO) take the default direction
        if default_left:
            return f"not {v} > {t}" if threshold >= ZERO else f"(not {v} > {t} or {tiny})"
        return f"{v} <= {t}" if threshold < -ZERO else f"({v} <= {t} and not {tiny})"
    nan_left = default_left if missing == "NaN" else threshold >= 0.0  # missing None: NaN is 0.0
    if -ZERO <= threshold <= ZERO:  # a tiny value counts as 0.0, which matters only here
        if threshold >= 0.0:
            return f"(not {v} > {t} or {tiny})" if nan_left else f"({v} <= {t} or {tiny})"
        compare = f"({v} <= {t} and not {tiny})"  # False for NaN
        return f"({v} != {v} or {compare})" if nan_left else compare
    return f"not {v} > {t}" if nan_left else f"{v} <= {t}"


def _depth(tree: Tree) -> int:
    depth, pending = 0, [(0, 1)] if tree.feature else []
    while pending:
        node, d = pending.pop()
        depth = max(depth, d)
        pending += [(child, d + 1) for child in (tree.left[node], tree.right[node]) if child >= 0]
    return depth


def _value(tree: Tree, node: int) -> float:
    return tree.internal_value[node] if node >= 0 else tree.leaf_value[~node]


def _emit(tree: Tree, node: int, indent: int, lines: list[str], attribute: bool) -> None:
    """The nested ifs of one tree: at a leaf ``s += leaf value``; with ``attribute``, every branch
    instead credits ``c[feature] += value(child) - value(node)`` (Saabas attribution)."""
    pad = "    " * indent
    if node < 0:
        if not attribute:
            lines.append(f"{pad}s += {tree.leaf_value[~node]!r}")
        return
    for keyword, child in ((f"if {_condition(tree, node)}:", tree.left[node]), ("else:", tree.right[node])):
        lines.append(pad + keyword)
        if attribute:
            lines.append(f"{pad}    c[{tree.feature[node]}] += {_value(tree, child) - _value(tree, node)!r}")
        _emit(tree, child, indent + 1, lines, attribute)


def _walker(tree: Tree) -> Callable[[Sequence[float]], float]:
    leaf_value = tree.leaf_value

    def value(x: Sequence[float]) -> float:
        return leaf_value[leaf_of(tree, x)[0]]

    return value


def attribute_by_walking(tree: Tree, x: Sequence[float], totals: list[float]) -> None:
    """Add the Saabas contributions of one tree for ``x`` to ``totals`` (the reference)."""
    if not tree.feature:
        return
    leaf, path = leaf_of(tree, x)
    for node, child in zip(path, [*path[1:], ~leaf], strict=True):
        totals[tree.feature[node]] += _value(tree, child) - _value(tree, node)


def compile_trees(trees: Sequence[Tree], n_features: int, *, attribute: bool = False) -> tuple[Callable[..., Any], str]:
    """One function for all the trees, and its source: ``raw(vector) -> float``, or with ``attribute``
    ``attribute(vector, totals)`` adding each feature's contribution to ``totals``."""
    names = ", ".join(f"f{i}" for i in range(n_features))
    head = ["def attribute(x, c):"] if attribute else ["def raw(x):", "    s = 0.0"]
    lines = [head[0], f"    ({names},) = x", *head[1:]]
    namespace: dict[str, Any] = {}
    for k, tree in enumerate(trees):
        if not tree.feature:
            if not attribute:
                lines.append(f"    s += {tree.leaf_value[0]!r}")
        elif _depth(tree) > MAX_COMPILED_DEPTH:
            namespace[f"_tree{k}"] = tree
            if attribute:
                namespace["_walk"] = attribute_by_walking
                lines.append(f"    _walk(_tree{k}, x, c)")
            else:
                namespace[f"_tree{k}"] = _walker(tree)
                lines.append(f"    s += _tree{k}(x)")
        else:
            _emit(tree, 0, 1, lines, attribute)
    lines.append("    return None" if attribute else "    return s")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<fraud.model trees>", "exec"), namespace)  # noqa: S102 - numbers only, see above
    return namespace["attribute" if attribute else "raw"], source


def vectorizer(
    feature_names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> Callable[[Mapping[str, Any]], list[float]]:
    """The function from a features mapping to the model's input vector (``Model.vector``; the trainer
    builds its training rows with the same function).

    Features are read by name in ``feature_names`` order (a feature that is absent raises KeyError:
    never a silent NaN); numeric values become floats, None becomes NaN; a categorical feature's value
    (str or None) becomes its index in the vocabulary ``categories[name]``, and NaN when it is None or
    not in the vocabulary (LightGBM sends NaN right at every categorical split, like an unseen
    category)."""
    get = operator.itemgetter(*feature_names)
    single = len(feature_names) == 1
    codes = {
        name: {value: float(code) for code, value in enumerate(vocabulary)} for name, vocabulary in categories.items()
    }
    encoders = tuple(codes.get(name) for name in feature_names)

    def vector(features: Mapping[str, Any]) -> list[float]:
        values = (get(features),) if single else get(features)
        return [
            (NAN if value is None else float(value)) if encode is None else encode.get(value, NAN)
            for value, encode in zip(values, encoders)  # noqa: B905 - same length by construction
        ]

    return vector


# -- the model -----------------------------------------------------------------------------------


class Model:
    """A validated, compiled artifact. Build it with ``load``."""

    def __init__(self, document: dict, sha256: str) -> None:
        doc = _object(document, "the document")
        if doc.get("format") != FORMAT:
            raise ModelError(f"not a fraud model artifact (format must be {FORMAT!r})")
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            shown = version if isinstance(version, int) and not isinstance(version, bool) else "missing or not a number"
            raise ModelError(
                f"model artifact format version {shown} is not supported (this code reads {FORMAT_VERSION})"
            )
        self.sha256 = sha256
        self.document = doc
        version_id = doc.get("version")
        if not isinstance(version_id, str) or not 0 < len(version_id) <= 100:
            raise _fail("version", "expected a non-empty string of at most 100 characters")
        self.version: str = version_id
        self.feature_names = _names(doc.get("features"), "features")
        categories = _object(doc.get("categories", {}), "categories")
        self.categories: dict[str, tuple[str, ...]] = {}
        for name, vocabulary in sorted(categories.items()):
            if name not in self.feature_names:
                raise _fail(f"categories.{name[:50]}", "not one of the features")
            self.categories[name] = _names(vocabulary, f"categories.{name[:50]}")
        categorical = frozenset(self.feature_names.index(name) for name in self.categories)
        trees = _list(doc.get("trees"), "trees")
        if not 0 < len(trees) <= MAX_TREES:
            raise _fail("trees", f"expected 1 to {MAX_TREES} trees, got {len(trees)}")
        self.trees = tuple(
            _tree(tree, f"trees[{k}]", len(self.feature_names), categorical) for k, tree in enumerate(trees)
        )
        self.feature_spec: Any = _object(doc.get("feature_spec"), "feature_spec")
        """The ``features`` section the model was trained with: a ``fraud.features.FeatureSpec`` once
        ``load`` has checked it (a plain dict with ``check_features=False``)."""
        calibration = _object(doc.get("calibration"), "calibration")
        self.slope = _number(calibration.get("slope"), "calibration.slope")
        self.intercept = _number(calibration.get("intercept"), "calibration.intercept")
        self.points_per_doubling = _number(calibration.get("points_per_doubling"), "calibration.points_per_doubling")
        self.even_odds_score = _number(calibration.get("even_odds_score"), "calibration.even_odds_score")
        if self.slope <= 0 or self.points_per_doubling <= 0:
            raise _fail("calibration", "slope and points_per_doubling must be positive (a higher raw score is riskier)")
        thresholds = _object(doc.get("thresholds"), "thresholds")
        self.review_threshold = _number(thresholds.get("review"), "thresholds.review")
        self.alert_threshold = _number(thresholds.get("alert"), "thresholds.alert")
        if not 0 <= self.review_threshold <= self.alert_threshold <= 100:
            raise _fail("thresholds", "expected 0 <= review <= alert <= 100")
        self._raw, self.source = compile_trees(self.trees, len(self.feature_names))
        self._n = len(self.feature_names)
        self._attribute: Callable[[Sequence[float], list[float]], None] | None = None
        self.vector = vectorizer(self.feature_names, self.categories)
        self._scale = self.points_per_doubling / LN2

    def __repr__(self) -> str:
        return f"Model(version={self.version!r}, features={self._n}, trees={len(self.trees)})"

    # -- scoring ---------------------------------------------------------------------------------

    vector: Callable[[Mapping[str, Any]], list[float]]
    """The model's input vector from a features mapping (name -> float, NaN for missing; a categorical
    feature's value is a str or None); see ``vectorizer``."""

    def raw_score(self, vector: Sequence[float]) -> float:
        """The sum of the trees' outputs (log-odds), equal to LightGBM's ``predict(raw_score=True)``."""
        if len(vector) != self._n:
            raise ValueError(f"expected a vector of {self._n} features, got {len(vector)}")
        return self._raw(vector)

    def probability(self, raw: float) -> float:
        """The calibrated probability of fraud for a raw score (at the training data's fraud rate)."""
        z = self.slope * raw + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def calibrate(self, raw: float) -> int:
        """The 0-100 score of a raw score: ``even_odds_score + points_per_doubling * log2(odds)``."""
        score = round(self.even_odds_score + self._scale * (self.slope * raw + self.intercept))
        return 0 if score < 0 else 100 if score > 100 else score

    def score(self, features: Mapping[str, Any]) -> int:
        """The calibrated 0-100 score of a features mapping."""
        return self.calibrate(self._raw(self.vector(features)))

    def decision(self, score: float) -> str:
        """``alert``, ``review`` or ``allow`` at the artifact's thresholds."""
        if score >= self.alert_threshold:
            return "alert"
        if score >= self.review_threshold:
            return "review"
        return "allow"

    def contributions(self, features: Mapping[str, Any], top: int | None = None) -> list[Contribution]:
        """Per-feature contribution to the raw score (Saabas path attribution: along each tree's
        path, the change of the node value is credited to the node's feature). The contributions
        plus ``bias`` (the sum of the roots' values) add up to the raw score. Sorted by contribution,
        largest (most suspicious) first; ``top`` of them (None: every feature that moved it)."""
        if self._attribute is None:  # compiled on first use: most invocations never explain anything
            self._attribute = compile_trees(self.trees, self._n, attribute=True)[0]
        totals = [0.0] * self._n
        self._attribute(self.vector(features), totals)
        ranked = sorted(
            (Contribution(name, total) for name, total in zip(self.feature_names, totals, strict=True) if total != 0.0),
            key=lambda c: c.contribution,
            reverse=True,
        )
        return ranked if top is None else ranked[:top]

    @property
    def bias(self) -> float:
        """The raw score before any split: the sum of the trees' root values."""
        return math.fsum(tree.internal_value[0] if tree.feature else tree.leaf_value[0] for tree in self.trees)

    def require_features(self, available: Iterable[str], categorical: Iterable[str]) -> None:
        """Raise ModelError unless every feature the model reads is ``available`` and the model treats
        exactly the ``categorical`` ones among them as categories."""
        available, categorical = set(available), set(categorical)
        unknown = [name for name in self.feature_names if name not in available]
        if unknown:
            raise ModelError(
                f"model {self.version} needs features this code does not compute: {', '.join(unknown[:10])}"
            )
        mismatched = sorted({n for n in self.feature_names if (n in categorical) != (n in self.categories)})
        if mismatched:
            raise ModelError(
                f"model {self.version} disagrees with this code on which features are categorical: "
                f"{', '.join(mismatched[:10])}"
            )


def load(data: bytes, sha256: str | None = None, *, check_features: bool = True) -> Model:
    """Validate and compile an artifact. ``sha256`` (hex), when given, must be the digest of ``data``.

    With ``check_features`` (what serving needs) the artifact must also be one this code can feed:
    its features are among ``fraud.features.FEATURE_NAMES``, categorical exactly where
    ``fraud.features.CATEGORICAL`` says, and its ``feature_spec`` is a valid ``features`` section,
    which becomes ``Model.feature_spec`` (a ``FeatureSpec``). ``check_features=False`` evaluates trees
    over any named features (the evaluator's own tests)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelError(f"a model artifact is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise ModelError(f"model artifact is {len(data):,} bytes, more than the {MAX_BYTES:,} allowed")
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != str(sha256).lower():
        raise ModelError(
            f"model artifact sha256 is {digest}, expected {str(sha256)[:64]}: corrupt or not the one named"
        )
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ModelError("model artifact is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ModelError(
            f"model artifact is not valid JSON (truncated or corrupt): {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except RecursionError:
        raise ModelError("model artifact is nested too deeply") from None
    model = Model(document, digest)
    if check_features:
        from fraud import features
        from fraud.document import ConfigError

        model.require_features(features.FEATURE_NAMES, features.CATEGORICAL)
        try:
            model.feature_spec = features.FeatureSpec.from_document(model.feature_spec)
        except ConfigError as error:
            raise ModelError(f"model {model.version} has a feature spec this code cannot compute: {error}") from None
    return model
