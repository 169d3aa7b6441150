"""The local cloud's network (tools.emulator.network): a function in a VPC reaches a service only along a path the
deployment created (gateway endpoint + route + egress to its prefix list; interface endpoint with private DNS +
security groups both ways; a default route to a NAT or internet gateway), read back with EC2 and Lambda calls."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.emulator.network import Network

REGION = "us-east-1"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


class Vpc:
    """A private VPC as modules/network builds it, made with boto3, and helpers to change it."""

    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.lam = boto3.client("lambda", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        self.table = self.ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        self.subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.42.0.0/18")["Subnet"]["SubnetId"]
        self.ec2.associate_route_table(RouteTableId=self.table, SubnetId=self.subnet)
        self.functions_sg = self._group("functions")
        self.endpoints_sg = self._group("endpoints")
        self.prefix_lists = {
            p["PrefixListName"].rsplit(".", 1)[-1]: p["PrefixListId"]
            for p in self.ec2.describe_prefix_lists()["PrefixLists"]
        }
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )["Role"]["Arn"]
        for name, vpc_config in (
            ("in-vpc", {"SubnetIds": [self.subnet], "SecurityGroupIds": [self.functions_sg]}),
            ("outside", None),
        ):
            self.lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": _zip()},
                **({"VpcConfig": vpc_config} if vpc_config else {}),
            )

    def _group(self, name: str) -> str:
        group = self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"]
        default = self.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
        egress = [r["SecurityGroupRuleId"] for r in default["SecurityGroupRules"] if r["IsEgress"]]
        if egress:  # Terraform removes the default allow-all egress rule of a group it creates
            self.ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=egress)
        return group

    def gateway_endpoint(self, service: str) -> str:
        return self.ec2.create_vpc_endpoint(
            VpcId=self.vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Gateway",
            RouteTableIds=[self.table],
        )["VpcEndpoint"]["VpcEndpointId"]

    def interface_endpoint(self, service: str, private_dns: bool = True) -> str:
        return self.ec2.create_vpc_endpoint(
            VpcId=self.vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=[self.subnet],
            SecurityGroupIds=[self.endpoints_sg],
            PrivateDnsEnabled=private_dns,
        )["VpcEndpoint"]["VpcEndpointId"]

    def egress(self, **target: Any) -> None:
        self.ec2.authorize_security_group_egress(
            GroupId=self.functions_sg,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **target}],
        )

    def endpoints_ingress_from_functions(self) -> None:
        self.ec2.authorize_security_group_ingress(
            GroupId=self.endpoints_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "UserIdGroupPairs": [{"GroupId": self.functions_sg}],
                }
            ],
        )

    def network(self) -> Network:
        return Network(boto3.Session(region_name=REGION), {"in-vpc": None, "outside": None})


@pytest.fixture
def vpc(monkeypatch: pytest.MonkeyPatch) -> Iterator[Vpc]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield Vpc()


def test_a_function_outside_a_vpc_reaches_every_service(vpc: Vpc) -> None:
    network = vpc.network()
    assert network.blocked("outside", "s3") is None and network.blocked("outside", "sqs") is None
    assert network.failures() == []


def test_without_an_endpoint_or_a_route_a_call_has_no_path_and_the_failure_names_function_and_service(vpc: Vpc) -> None:
    network = vpc.network()
    reason = network.blocked("in-vpc", "s3")
    assert reason is not None and "no gateway or interface endpoint for com.amazonaws.<region>.s3" in reason
    network.blocked("in-vpc", "s3")
    [line] = network.failures()
    assert line.startswith("in-vpc could not reach s3 (2 calls held unanswered)")


def test_a_gateway_endpoint_needs_its_route_and_an_egress_rule_to_its_prefix_list(vpc: Vpc) -> None:
    vpc.gateway_endpoint("s3")
    reason = vpc.network().blocked("in-vpc", "s3")
    assert reason is not None and "no egress rule" in reason and "s3 prefix list" in reason
    vpc.egress(PrefixListIds=[{"PrefixListId": vpc.prefix_lists["dynamodb"]}])
    assert vpc.network().blocked("in-vpc", "s3") is not None, "egress to DynamoDB's prefix list is not S3's"
    vpc.egress(PrefixListIds=[{"PrefixListId": vpc.prefix_lists["s3"]}])
    assert vpc.network().blocked("in-vpc", "s3") is None
    assert vpc.network().blocked("in-vpc", "dynamodb") is not None, "no DynamoDB endpoint"


def test_an_interface_endpoint_needs_private_dns_and_the_security_groups_both_ways(vpc: Vpc) -> None:
    vpc.interface_endpoint("sqs", private_dns=False)
    vpc.egress(UserIdGroupPairs=[{"GroupId": vpc.endpoints_sg}])
    vpc.endpoints_ingress_from_functions()
    assert "no private DNS" in (vpc.network().blocked("in-vpc", "sqs") or "")
    vpc.interface_endpoint("sns")
    assert vpc.network().blocked("in-vpc", "sns") is None
    vpc.interface_endpoint("ssm")
    assert vpc.network().blocked("in-vpc", "ssm") is None, "the same endpoint group serves every interface endpoint"


def test_an_interface_endpoint_without_the_ingress_rule_is_not_reachable(vpc: Vpc) -> None:
    vpc.interface_endpoint("sns")
    vpc.egress(UserIdGroupPairs=[{"GroupId": vpc.endpoints_sg}])
    reason = vpc.network().blocked("in-vpc", "sns")
    assert reason is not None and "security groups do not let the function reach" in reason
    vpc.endpoints_ingress_from_functions()
    assert vpc.network().blocked("in-vpc", "sns") is None


def test_a_default_route_to_an_internet_gateway_reaches_everything_egress_allows(vpc: Vpc) -> None:
    gateway = vpc.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    vpc.ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc.vpc)
    vpc.ec2.create_route(RouteTableId=vpc.table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    assert vpc.network().blocked("in-vpc", "kms") is not None, "no egress rule yet"
    vpc.egress(IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    assert vpc.network().blocked("in-vpc", "kms") is None


def test_refresh_sees_an_endpoint_removed(vpc: Vpc) -> None:
    endpoint = vpc.gateway_endpoint("s3")
    vpc.egress(PrefixListIds=[{"PrefixListId": vpc.prefix_lists["s3"]}])
    network = vpc.network()
    assert network.blocked("in-vpc", "s3") is None
    vpc.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    network.refresh()
    assert network.blocked("in-vpc", "s3") is not None
