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
