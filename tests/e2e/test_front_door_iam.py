"""The front door of an AWS_IAM method, on a small topology made with boto3 (no Terraform, seconds).

A REST API whose POST /items requires IAM (SigV4) and whose resource policy allows the role
``producer`` of this account and the account 111111111111, and denies every other principal. The
identities are moto's: a role session (assumed with STS), a user with an access key, a role session
of another account. Requests are signed by ``tools.api_client`` (botocore's SigV4Auth); what API
Gateway answers (status, ``x-amzn-ErrorType``, body) is checked for each way a request can fail.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.credentials import Credentials

from tools.api_client import Api, send, signed_headers
from tools.emulator import EndpointSession, LocalCloud, snapshot
from tools.emulator.localaws import LocalAWS

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
PARTNER_ACCOUNT = "111111111111"
HANDLER = textwrap.dedent(
    """
    import json

    def echo(event, context):
        identity = event["requestContext"]["identity"]
        return {"statusCode": 201, "body": json.dumps({"userArn": identity["userArn"], "body": event["body"]})}
    """
)
BODY = {"id": "t-1", "amount": 12.5}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    return buffer.getvalue()


def invoke_policy(resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}],
        }
    )


def credentials(answer: dict[str, Any]) -> Credentials:
    c = answer["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c.get("SessionToken"))


@pytest.fixture(scope="module")
def door(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if request.config.getoption("--target") != "local":
        pytest.skip("tests of the emulator itself")
    with LocalAWS() as aws:
        # moto's backends are per process: start from an empty account whatever other modules deployed.
        snapshot.reset(aws.gateway)
        session = EndpointSession(aws.endpoint, aws.region)
        iam, sts, gw = session.client("iam"), session.client("sts"), session.client("apigateway")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        runner = iam.create_role(RoleName="runner", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        function = session.client("lambda").create_function(
            FunctionName="echo", Runtime="python3.11", Role=runner, Handler="handler.echo", Code={"ZipFile": _zip()}
        )["FunctionArn"]
        api = gw.create_rest_api(name="iam-api")["id"]
        root = gw.get_resources(restApiId=api)["items"][0]["id"]
        items = gw.create_resource(restApiId=api, parentId=root, pathPart="items")["id"]
        gw.put_method(restApiId=api, resourceId=items, httpMethod="POST", authorizationType="AWS_IAM")
        gw.put_integration(
            restApiId=api,
            resourceId=items,
            httpMethod="POST",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{aws.region}:lambda:path/2015-03-31/functions/{function}/invocations",
        )
        execution = f"arn:aws:execute-api:{aws.region}:{ACCOUNT}:{api}"
        producer_arn = f"arn:aws:iam::{ACCOUNT}:role/producer"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Producers",
                    "Effect": "Allow",
                    "Principal": {"AWS": [producer_arn, PARTNER_ACCOUNT]},
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/v1/POST/items",  # API Gateway's shorthand for this API
                },
                {
                    "Sid": "EveryoneElse",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": f"{execution}/*",
                    "Condition": {
                        "ArnNotLike": {"aws:PrincipalArn": [producer_arn, f"arn:aws:iam::{PARTNER_ACCOUNT}:*"]}
                    },
                },
            ],
        }
        gw.update_rest_api(
            restApiId=api, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(policy)}]
        )
        gw.create_deployment(restApiId=api, stageName="v1")
        resource = f"{execution}/v1/POST/items"

        # The producer role needs no IAM policy of its own: the resource policy names it.
        iam.create_role(RoleName="producer", AssumeRolePolicyDocument=trust)
        producer = credentials(sts.assume_role(RoleArn=producer_arn, RoleSessionName="payments"))
        # A user of this account whose own policy allows the call: the resource policy still denies it.
        iam.create_user(UserName="clerk")
        iam.put_user_policy(UserName="clerk", PolicyName="invoke", PolicyDocument=invoke_policy(resource))
        clerk = credentials({"Credentials": iam.create_access_key(UserName="clerk")["AccessKey"]})
        # Another account named by the resource policy: its principals need their own IAM allow too.
        partner_arn = f"arn:aws:iam::{PARTNER_ACCOUNT}:role/partner"
        partner = credentials(sts.assume_role(RoleArn=partner_arn, RoleSessionName="partner"))
        partner_iam = session.client(
            "iam",
            aws_access_key_id=partner.access_key,
            aws_secret_access_key=partner.secret_key,
            aws_session_token=partner.token,
        )
        partner_iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust)
        partner_iam.put_role_policy(RoleName="partner", PolicyName="invoke", PolicyDocument=invoke_policy(resource))
        partner_iam.create_role(RoleName="unprivileged", AssumeRolePolicyDocument=trust)
        unprivileged = credentials(
            sts.assume_role(RoleArn=f"arn:aws:iam::{PARTNER_ACCOUNT}:role/unprivileged", RoleSessionName="nobody")
        )

        outputs = {
            "function_names": {"echo": "echo"},
            "api_id": api,
            "api_stage_name": "v1",
            "api_url": f"https://{api}.execute-api.{aws.region}.amazonaws.com/v1/items",
        }
        log_dir = tmp_path_factory.mktemp("logs")
        with LocalCloud(aws, outputs, log_dir=log_dir, schedule_time_scale=None) as cloud:
            yield {
                "url": cloud.api_url,
                "region": aws.region,
                "producer": producer,
                "clerk": clerk,
                "partner": partner,
                "unprivileged": unprivileged,
                "resource": resource,
            }


def post(
    door: dict[str, Any], who: str | None, *, at: datetime | None = None, tamper: Any = None
) -> tuple[int, str, Any]:
    """POST the body as ``who`` signs it (None: unsigned), at ``at`` (default now), changed by
    ``tamper(data, headers)`` after signing; returns the status, x-amzn-ErrorType and the answer."""
    api = Api(url=door["url"], credentials=door[who] if who else None, region=door["region"])
    data = json.dumps(BODY).encode()
    headers = api.headers(data, at=at)
    if tamper is not None:
        data, headers = tamper(data, headers)
    answer = send(api.url, data, headers)
    return answer.status, answer.headers.get("x-amzn-ErrorType", ""), answer.json()


def test_a_request_signed_by_a_producer_named_by_the_resource_policy_reaches_the_function(door):
    status, _, answer = post(door, "producer")

    assert status == 201
    assert answer["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/producer/payments"
    assert json.loads(answer["body"]) == BODY


def test_an_unsigned_request_is_missing_its_authentication_token(door):
    assert post(door, None) == (403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})


def test_a_request_whose_body_changed_after_signing_is_refused(door):
    def tamper(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return data.replace(b"12.5", b"1250.0"), headers

    status, error_type, answer = post(door, "producer", tamper=tamper)

    assert (status, error_type) == (403, "InvalidSignatureException")
    assert answer["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_a_request_whose_signed_header_changed_is_refused(door):
    def tamper(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return data, {**headers, "Content-Type": "text/plain"}

    assert post(door, "producer", tamper=tamper)[:2] == (403, "InvalidSignatureException")


def test_a_request_signed_more_than_five_minutes_ago_has_expired(door):
    status, error_type, answer = post(door, "producer", at=datetime.now(UTC) - timedelta(minutes=6))

    assert (status, error_type) == (403, "InvalidSignatureException")
    assert answer["message"].startswith("Signature expired: ")


def test_a_request_signed_with_the_wrong_secret_or_an_unknown_key_is_refused(door):
    producer = door["producer"]
    door["forged"] = Credentials(producer.access_key, "not-the-secret", producer.token)
    door["stranger"] = Credentials("AKIAUNKNOWNKEY000000", "whatever")

    assert post(door, "forged")[:2] == (403, "InvalidSignatureException")
    assert post(door, "stranger") == (
        403,
        "UnrecognizedClientException",
        {"message": "The security token included in the request is invalid."},
    )


def test_temporary_credentials_without_their_session_token_are_refused(door):
    def tamper(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return data, {k: v for k, v in headers.items() if k.lower() != "x-amz-security-token"}

    assert post(door, "producer", tamper=tamper)[:2] == (403, "UnrecognizedClientException")


def test_expired_temporary_credentials_get_the_expired_token_answer(door):
    from moto.sts.models import sts_backends

    key = door["producer"].access_key
    (session,) = [s for s in sts_backends[ACCOUNT]["aws"].assumed_roles if s.access_key_id == key]
    kept = session.expiration
    session.expiration = kept - timedelta(days=1)  # what the passing of the session's hour would do
    try:
        answer = post(door, "producer")
    finally:
        session.expiration = kept

    assert answer == (
        403,
        "ExpiredTokenException",
        {"message": "The security token included in the request is expired"},
    )


def test_a_principal_the_resource_policy_does_not_name_is_denied_whatever_its_own_policy_allows(door):
    status, error_type, answer = post(door, "clerk")

    assert (status, error_type) == (403, "AccessDeniedException")
    assert answer["message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/clerk is not authorized to perform: execute-api:Invoke on resource: "
        f"{door['resource']} with an explicit deny in a resource-based policy"
    )


def test_another_account_named_by_the_resource_policy_needs_its_principal_s_own_allow_too(door):
    assert post(door, "partner")[0] == 201
    status, error_type, answer = post(door, "unprivileged")
    assert (status, error_type) == (403, "AccessDeniedException")
    assert answer["message"].endswith("because no identity-based policy allows the execute-api:Invoke action")


def test_the_signing_helper_produces_what_the_front_door_accepts_for_any_body(door):
    # The same call the end-to-end tests and the demo make (tools.api_client.signed_headers + send).
    data = json.dumps({"id": "t-2", "amount": 1.5, "note": "caf\u00e9"}).encode()
    headers = signed_headers(
        door["url"], data, door["producer"], door["region"], headers={"Content-Type": "application/json"}
    )
    assert send(door["url"], data, headers).status == 201


def test_a_request_signed_by_curl_s_own_sigv4_is_accepted_too(door):
    import shutil
    import subprocess

    from tests.conftest import require

    curl = shutil.which("curl")
    require(curl is not None, "curl is not on PATH")
    help_text = subprocess.run([curl, "--help", "all"], capture_output=True, text=True).stdout
    require("--aws-sigv4" in help_text, "this curl cannot sign (--aws-sigv4 needs curl 7.75 or later)")
    producer = door["producer"]
    result = subprocess.run(
        [
            curl, "-s", "-X", "POST", door["url"],
            "--aws-sigv4", f"aws:amz:{door['region']}:execute-api",
            "--user", f"{producer.access_key}:{producer.secret_key}",
            "-H", f"x-amz-security-token: {producer.token}",
            "-H", "Content-Type: application/json",
            "-d", json.dumps(BODY),
            "-w", "\n%{http_code}",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "201", body
    assert json.loads(json.loads(body)["body"]) == BODY
