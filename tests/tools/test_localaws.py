"""The local AWS endpoint: boto3 and Terraform reach it through the variables it hands out."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from tools.emulator.localaws import LocalAWS


def test_serves_aws_apis_at_the_endpoint_its_environment_names():
    with LocalAWS() as aws:
        env = aws.env()
        assert env["AWS_ENDPOINT_URL"] == aws.endpoint and aws.endpoint.startswith("http://127.0.0.1:")
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "test"
        sqs = boto3.client(
            "sqs",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        url = sqs.create_queue(QueueName="fraud-alerts-t1")["QueueUrl"]
        assert url.endswith("/fraud-alerts-t1")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        sqs.list_queues()


def test_two_servers_listen_on_different_ports():
    with LocalAWS() as first, LocalAWS() as second:
        assert first.endpoint != second.endpoint


def test_env_outside_the_with_block_is_an_error():
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        LocalAWS().env()


def client(aws: LocalAWS, service: str):
    return boto3.client(
        service, endpoint_url=aws.endpoint, region_name=aws.region, aws_access_key_id="t", aws_secret_access_key="t"
    )


def test_serves_the_powertools_layer_parameter_of_the_pinned_release_for_every_runtime_and_architecture():
    from tools._cli import powertools_release

    with LocalAWS() as aws:
        ssm = client(aws, "ssm")
        names = aws.seed_public_parameters()  # idempotent: a second seeding adds nothing
        assert len(names) == 6
        for name in names:
            assert name.endswith(f"/{powertools_release()}")
            (version,) = [p["Version"] for p in ssm.get_parameter_history(Name=name)["Parameters"]]
            assert version == 1
        value = ssm.get_parameter(Name=f"/aws/service/powertools/python/x86_64/python3.13/{powertools_release()}")
        assert value["Parameter"]["Value"].endswith(":layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:0")


def test_a_queue_reads_back_the_redrive_allow_policy_it_was_given():
    import json

    with LocalAWS() as aws:
        sqs = client(aws, "sqs")
        allow = json.dumps({"redrivePermission": "denyAll"})
        url = sqs.create_queue(QueueName="dlq-t1", Attributes={"RedriveAllowPolicy": allow})["QueueUrl"]
        assert (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["RedriveAllowPolicy"] == allow
        )


def test_a_rest_api_s_resource_policy_reads_back_json_escaped_as_api_gateway_answers_it():
    import json

    from tools.emulator.iam import ResourcePolicy

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}],
    }
    with LocalAWS() as aws:
        gw = client(aws, "apigateway")
        api = gw.create_rest_api(name="policy-t1")["id"]
        gw.update_rest_api(
            restApiId=api, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(policy)}]
        )
        stored = gw.get_rest_api(restApiId=api)["policy"]
    # What the AWS provider unquotes (terraform-provider-aws flattenAPIPolicy): the document, quotes escaped.
    assert stored == json.dumps(json.dumps(policy))[1:-1]
    assert json.loads(json.loads(f'"{stored}"')) == policy
    parsed = ResourcePolicy.parse(stored, "arn:aws:execute-api:us-east-1:123456789012:abc")
    assert parsed is not None and parsed.statements[0]["Effect"] == "Deny"


def test_a_tls_only_bucket_policy_lets_the_emulators_requests_through_and_other_denies_still_apply():
    import json

    with LocalAWS() as aws:
        s3 = client(aws, "s3")
        s3.create_bucket(Bucket="models-t1")
        deny = {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::models-t1", "arn:aws:s3:::models-t1/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        s3.put_bucket_policy(Bucket="models-t1", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
        s3.put_object(Bucket="models-t1", Key="models/v1.json", Body=b"{}")
        assert s3.get_object(Bucket="models-t1", Key="models/v1.json")["Body"].read() == b"{}"
        unconditional = {key: value for key, value in deny.items() if key != "Condition"}
        s3.put_bucket_policy(
            Bucket="models-t1", Policy=json.dumps({"Version": "2012-10-17", "Statement": [unconditional]})
        )
        with pytest.raises(botocore.exceptions.ClientError, match="Forbidden"):
            s3.put_object(Bucket="models-t1", Key="models/v2.json", Body=b"{}")


def test_a_client_keeps_one_connection_open_for_many_calls():
    """werkzeug's server closes every connection; the emulator's handler keeps it (one TCP connection
    and one server thread per client, not per call)."""
    with LocalAWS() as aws:
        ports: list[int] = []
        moto = aws.gateway.app

        def spy(environ, start_response):
            ports.append(environ["REMOTE_PORT"])
            return moto(environ, start_response)

        aws.gateway.app = spy
        sqs = boto3.client(
            "sqs",
            endpoint_url=aws.endpoint,
            region_name=aws.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        url = sqs.create_queue(QueueName="kept-alive")["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName="missing")
        sqs.list_queues()

        assert len(received) == 5
        assert len(ports) == 9 and len(set(ports)) == 1, f"one connection, not {len(set(ports))}"


def test_the_emulators_own_clients_reach_moto_in_process_with_the_same_answers():
    from tools.emulator.local_cloud import EndpointSession

    with LocalAWS() as aws:
        remote_ports: list[int] = []
        moto = aws.gateway.app

        def spy(environ, start_response):
            remote_ports.append(environ["REMOTE_PORT"])
            return moto(environ, start_response)

        aws.gateway.app = spy
        in_process = EndpointSession(aws.endpoint, aws.region).client("sqs")
        over_http = EndpointSession(aws.endpoint, aws.region, in_process=False).client("sqs")

        url = in_process.create_queue(QueueName="in-process")["QueueUrl"]
        in_process.send_message(QueueUrl=url, MessageBody="hello")
        [message] = over_http.receive_message(QueueUrl=url)["Messages"]
        with pytest.raises(in_process.exceptions.QueueDoesNotExist):
            in_process.get_queue_url(QueueName="missing")

        assert url == over_http.get_queue_url(QueueName="in-process")["QueueUrl"], "the same queue URL"
        assert message["Body"] == "hello"
        assert remote_ports[:2] == [0, 0] and remote_ports[2] != 0, "in process: no socket; over HTTP: one"


def test_moto_reads_back_what_aws_reads_back_for_the_attributes_terraform_sets():
    """tools/emulator/moto_read_backs.py: without these, a plan right after an apply changes the topic, the queue
    and the security group rules on every run (tests/e2e/test_deployments.py)."""
    import json

    with LocalAWS() as aws:
        sns, sqs, ec2 = client(aws, "sns"), client(aws, "sqs"), client(aws, "ec2")
        topic = sns.create_topic(Name="t")["TopicArn"]
        role = "arn:aws:iam::123456789012:role/delivery-status"
        sns.set_topic_attributes(TopicArn=topic, AttributeName="SQSSuccessFeedbackRoleArn", AttributeValue=role)
        sns.set_topic_attributes(TopicArn=topic, AttributeName="SQSSuccessFeedbackSampleRate", AttributeValue="100")
        attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        assert attributes["SQSSuccessFeedbackRoleArn"] == role and attributes["SQSSuccessFeedbackSampleRate"] == "100"

        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}, separators=(",", ":"))
        queue = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": policy})["QueueUrl"]
        assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]["RedrivePolicy"] == policy

        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
        prefix_list = ec2.describe_prefix_lists()["PrefixLists"][0]["PrefixListId"]
        ec2.authorize_security_group_egress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "PrefixListIds": [{"PrefixListId": prefix_list, "Description": "HTTPS to s3"}],
                }
            ],
        )
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
        [rule] = [r for r in rules["SecurityGroupRules"] if r.get("PrefixListId") == prefix_list]
        assert rule["Description"] == "HTTPS to s3"


def test_a_json_request_reaches_moto_with_its_body_and_no_form_parsing(monkeypatch: pytest.MonkeyPatch):
    from werkzeug.formparser import FormDataParser

    parsed: list[str | None] = []
    parse = FormDataParser.parse

    def counting(self, stream, mimetype, *args, **kwargs):
        parsed.append(mimetype)
        return parse(self, stream, mimetype, *args, **kwargs)

    monkeypatch.setattr(FormDataParser, "parse", counting)
    with LocalAWS() as aws:
        dynamodb = client(aws, "dynamodb")
        dynamodb.create_table(
            TableName="json-bodies",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        stored = {"id": {"S": "a"}, "note": {"S": "é & = ?"}, "n": {"N": "1.5"}}
        dynamodb.put_item(TableName="json-bodies", Item=stored)
        assert dynamodb.get_item(TableName="json-bodies", Key={"id": {"S": "a"}})["Item"] == stored
        assert not parsed, "a DynamoDB (JSON) body went through the form parser"
        client(aws, "sns").create_topic(Name="form-encoded")  # the query protocol: a form, parsed as before
        assert "application/x-www-form-urlencoded" in parsed


def test_logs_json_requests_reach_moto_s_handler_without_flask_and_sqs_still_through_it(
    monkeypatch: pytest.MonkeyPatch,
):
    import flask

    through_flask: list[str] = []
    full_dispatch = flask.Flask.full_dispatch_request

    def counting(self):
        through_flask.append(flask.request.headers.get("X-Amz-Target", "?"))
        return full_dispatch(self)

    monkeypatch.setattr(flask.Flask, "full_dispatch_request", counting)
    with LocalAWS() as aws:
        sqs, logs = client(aws, "sqs"), client(aws, "logs")
        url = sqs.create_queue(QueueName="direct", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        sqs.send_message(
            QueueUrl=url, MessageBody="hello", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
        )
        [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName="missing")
        logs.create_log_group(logGroupName="/direct")
        logs.create_log_stream(logGroupName="/direct", logStreamName="s")
        logs.put_log_events(
            logGroupName="/direct",
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}],
        )
        events = logs.get_log_events(logGroupName="/direct", logStreamName="s")["events"]
        with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName="/direct")

    assert message["Body"] == "hello" and message["MessageAttributes"]["k"]["StringValue"] == "v"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert [e["message"] for e in events] == ["m"]
    assert not [t for t in through_flask if t.startswith("Logs_")], through_flask
    assert "AmazonSQS.ReceiveMessage" in through_flask, "SQS stays on Flask's path (see gateway.DIRECT_TARGETS)"


def test_while_a_local_cloud_runs_what_survives_a_full_collection_is_frozen_and_let_go_now_and_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from tools.emulator import local_cloud

    long_lived = local_cloud.LongLived()
    clock = [1000.0]
    monkeypatch.setattr(local_cloud.time, "monotonic", lambda: clock[0])
    gc.unfreeze()
    long_lived.acquire()
    long_lived.acquire()  # a second local cloud in the process: still one callback
    try:
        assert gc.callbacks.count(long_lived) == 1
        kept = [[n] for n in range(1000)]
        gc.collect()
        assert gc.get_freeze_count() >= len(kept), "the survivors of a full collection are frozen"
        gc.collect(1)
        assert gc.get_freeze_count() >= len(kept), "a younger collection changes nothing"
        clock[0] += long_lived.THAW_S
        gc.collect()
        assert gc.get_freeze_count() == 0, "every THAW_S the frozen objects are let go"
        gc.collect()
        assert gc.get_freeze_count() >= len(kept), "and frozen again after the full collection that follows"
        long_lived.release()
        assert long_lived in gc.callbacks, "the other local cloud still runs"
    finally:
        long_lived.release()
        gc.unfreeze()
    assert long_lived not in gc.callbacks


def test_the_sandboxes_run_on_the_interpreter_they_are_given(tmp_path: Path) -> None:
    import io
    import sys
    import zipfile

    from tools.emulator.runtime import LambdaRuntime
    from tools.emulator.topology import FunctionSpec, Topology

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        source = "import os\n\n\ndef handler(event, context):\n    return os.environ.get('WRAPPED')\n"
        archive.writestr("probe.py", source)
    wrapper = tmp_path / "python"  # an interpreter that says it ran
    wrapper.write_text(f'#!/bin/sh\nWRAPPED=yes exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:probe"
    spec = FunctionSpec("probe", arn, "probe.handler", "python3.12", 10, 128, {}, code.getvalue())
    topology = Topology("eu-west-1", "123456789012", {}, {"probe": spec})
    for python, expected in ((str(wrapper), "yes"), (None, None)):
        runtime = LambdaRuntime(topology, {}, tmp_path / "logs", max_sandboxes=1, python=python)
        try:
            assert runtime.invoke("probe", {}).result == expected
        finally:
            runtime.close()
