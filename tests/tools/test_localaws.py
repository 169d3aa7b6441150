"""The local AWS endpoint: boto3 and Terraform reach it through the variables it hands out."""

from __future__ import annotations

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
