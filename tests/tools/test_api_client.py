"""The signing client's own logic (tools/api_client.py): when it signs, what it reads, what it says on bad input.

The signatures themselves are checked against the front door's verifier (test_sigv4.py) and the
emulator (tests/e2e/test_front_door_iam.py, tests/e2e/test_signed_posts.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.credentials import Credentials

from tools import api_client
from tools._cli import ToolError

OUTPUTS = {"api_url": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/transactions", "api_key_value": "key"}
CREDENTIALS = Credentials("AKIAPRODUCER0000001", "secret")


def test_it_signs_only_when_the_deployment_requires_iam():
    key_only = api_client.api_from_outputs({**OUTPUTS, "api_authorization": "NONE"}, credentials=CREDENTIALS)
    assert not key_only.signs and key_only.headers(b"{}") == {"Content-Type": "application/json", "x-api-key": "key"}

    signed = api_client.api_from_outputs(
        {**OUTPUTS, "api_authorization": "AWS_IAM", "region": "eu-west-1"}, credentials=CREDENTIALS
    )
    headers = signed.headers(b"{}", at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAPRODUCER0000001/20260301/eu-west-1/execute-api/aws4_request, "
    )
    assert headers["X-Amz-Date"] == "20260301T120000Z" and headers["x-api-key"] == "key"
    assert "x-api-key" in headers["Authorization"], "the key is signed with the rest"


def test_the_emulator_s_url_replaces_the_deployed_one():
    api = api_client.api_from_outputs(OUTPUTS, url="http://127.0.0.1:40123/prod/transactions")
    assert api.url == "http://127.0.0.1:40123/prod/transactions"


def test_without_credentials_an_iam_api_says_what_to_set(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ToolError, match="requires IAM-signed requests.*AWS_PROFILE"):
        api_client.api_from_outputs({**OUTPUTS, "api_authorization": "AWS_IAM"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"transaction_id": "a"}', [{"transaction_id": "a"}]),
        ('[{"transaction_id": "a"}, {"transaction_id": "b"}]', [{"transaction_id": "a"}, {"transaction_id": "b"}]),
        ('{"transaction_id": "a"}\n\n{"transaction_id": "b"}\n', [{"transaction_id": "a"}, {"transaction_id": "b"}]),
    ],
    ids=["object", "list", "json-lines"],
)
def test_it_reads_an_object_a_list_or_json_lines(tmp_path, text, expected):
    path = tmp_path / "t.json"
    path.write_text(text)
    assert list(api_client.read_transactions(str(path))) == expected


def test_a_line_that_is_not_json_is_named(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"transaction_id": "a"}\nnot json\n'))
    with pytest.raises(ToolError, match="-, line 2: not JSON"):
        list(api_client.read_transactions("-"))
