"""The model pointer and the slot that resolves it: a missing, corrupt or incompatible artifact never stops scoring."""

from __future__ import annotations

import hashlib
import json

import pytest

from fraud.model_store import (
    TRANSIENT_RETRY_S,
    ArtifactUnavailable,
    ModelRef,
    ModelSlot,
    ModelUnavailable,
    Pointer,
    PointerError,
    parse_pointer,
)
from tests.conftest import ROOT

DEFAULT = (ROOT / "models" / "default.json").read_bytes()
VERSION = json.loads(DEFAULT)["version"]


def ref(data: bytes = DEFAULT, version: str = VERSION, key: str | None = None) -> ModelRef:
    return ModelRef(key or f"models/{version}.json", hashlib.sha256(data).hexdigest(), version)


class Bucket:
    """The artifacts by key, counting fetches; a key holding an exception raises it."""

    def __init__(self, objects: dict[str, bytes | Exception]) -> None:
        self.objects = objects
        self.fetches = 0

    def __call__(self, key: str) -> bytes:
        self.fetches += 1
        found = self.objects[key]
        if isinstance(found, Exception):
            raise found
        return found


def test_a_pointer_names_a_live_and_a_shadow_model_or_none():
    live = {"key": "models/a.json", "sha256": "a" * 64, "version": "a"}
    assert parse_pointer(json.dumps({"live": live, "shadow": None})) == Pointer(ModelRef(**live), None)
    assert parse_pointer("null") == Pointer(None, None)
    assert parse_pointer({"live": None, "shadow": None}) == Pointer(None, None)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{nope", "not JSON"),
        ("[]", "JSON object"),
        ({"live": None, "canary": None}, "unknown key"),
        ({"live": {"key": "models/a.json", "sha256": "a" * 64}}, "exactly key, sha256 and version"),
        ({"live": {"key": "models/a.json", "sha256": "xyz", "version": "a"}}, "64 lowercase hex"),
        ({"live": {"key": "../../etc passwd", "sha256": "a" * 64, "version": "a"}}, "S3 object key"),
        ({"shadow": {"key": "m.json", "sha256": "a" * 64, "version": ""}}, "non-empty string"),
    ],
)
def test_a_bad_pointer_says_why(document, reason):
    with pytest.raises(PointerError, match=reason):
        parse_pointer(document)


def test_a_model_is_fetched_once_and_kept():
    bucket = Bucket({f"models/{VERSION}.json": DEFAULT})
    slot = ModelSlot(bucket)
    first, second = slot.resolve(ref()), slot.resolve(ref())
    assert first.model is second.model and first.model.version == VERSION
    assert first.problem is None and bucket.fetches == 1


def test_no_model_configured_scores_with_the_rules_alone():
    assert ModelSlot(Bucket({})).resolve(None).model is None


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda: ModelRef("models/missing.json", "1" * 64, VERSION), id="missing-object"),
        pytest.param(lambda: ModelRef(f"models/{VERSION}.json", "0" * 64, VERSION), id="wrong-hash"),
        pytest.param(lambda: ref(b'{"format": "fraud-model"', version="bad", key="models/bad.json"), id="corrupt"),
        pytest.param(lambda: ref(version="other"), id="version-mismatch"),
        pytest.param(lambda: ModelRef("models/faulty.json", "2" * 64, VERSION), id="fetch-fault"),
    ],
)
def test_an_unusable_model_keeps_the_last_good_one_and_says_why(broken):
    bucket = Bucket(
        {
            f"models/{VERSION}.json": DEFAULT,
            "models/other.json": DEFAULT,
            "models/bad.json": b'{"format": "fraud-model"',
            "models/missing.json": KeyError("NoSuchKey"),
            "models/faulty.json": ConnectionError("endpoint unreachable"),
        }
    )
    slot = ModelSlot(bucket)
    good = slot.resolve(ref()).model
    resolved = slot.resolve(broken())
    assert resolved.model is good and resolved.problem
    assert ModelSlot(bucket).resolve(broken()).model is None  # a fresh sandbox: the rules alone


def test_a_failed_model_is_not_fetched_again_until_the_retry_time():
    bucket = Bucket({"models/faulty.json": ConnectionError("down")})
    slot = ModelSlot(bucket, retry_after_s=60)
    faulty = ModelRef("models/faulty.json", "2" * 64, VERSION)
    now = [0.0]
    for _ in range(5):
        assert slot.resolve(faulty, clock=lambda: now[0]).problem
    assert bucket.fetches == 1
    now[0] = 61.0
    slot.resolve(faulty, clock=lambda: now[0])
    assert bucket.fetches == 2


def test_an_artifact_that_cannot_be_read_now_fails_a_sandbox_that_has_no_model_and_keeps_a_loaded_one():
    """A time-out or a throttle is not a missing model: a sandbox that never loaded the live model fails (the
    platform retries) rather than score with the rules alone; one that has a model keeps it."""
    bucket = Bucket({f"models/{VERSION}.json": DEFAULT, "models/slow.json": ArtifactUnavailable("read timed out")})
    slow = ModelRef("models/slow.json", "3" * 64, VERSION)
    with pytest.raises(ModelUnavailable, match="read timed out"):
        ModelSlot(bucket).resolve(slow)
    warm = ModelSlot(bucket)
    good = warm.resolve(ref()).model
    resolved = warm.resolve(slow)
    assert resolved.model is good and "unavailable" in (resolved.problem or "")


def test_after_a_transient_failure_the_artifact_is_read_again_soon():
    bucket = Bucket({f"models/{VERSION}.json": ArtifactUnavailable("throttled")})
    slot = ModelSlot(bucket, retry_after_s=60)
    now = [0.0]
    for _ in range(3):
        with pytest.raises(ModelUnavailable):
            slot.resolve(ref(), clock=lambda: now[0])
    assert bucket.fetches == 1, "a burst fails fast while the outage lasts"
    bucket.objects[f"models/{VERSION}.json"] = DEFAULT
    now[0] = TRANSIENT_RETRY_S + 0.1
    assert slot.resolve(ref(), clock=lambda: now[0]).model is not None
    assert bucket.fetches == 2
