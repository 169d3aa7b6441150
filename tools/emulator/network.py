"""What a function in a VPC can reach: AWS's routing rules, evaluated on the deployment read back from moto.

A function deployed with a VPC configuration (subnets and security groups) reaches an AWS API only along a
path the deployment created, as on AWS in private subnets:

- a **gateway endpoint** of the service (S3, DynamoDB) in the function's VPC, on the route table of the
  function's subnet, and an egress rule of one of the function's security groups allowing TCP 443 to the
  service's prefix list (or to ``0.0.0.0/0``);
- an **interface endpoint** of the service in the VPC with private DNS (so the SDK's default host name
  resolves to it), an egress rule allowing TCP 443 to one of the endpoint's security groups (or a CIDR that
  covers the VPC), and an ingress rule of one of the endpoint's groups allowing TCP 443 from one of the
  function's groups (or a CIDR that covers the VPC);
- a **default route** (``0.0.0.0/0``) to a NAT or internet gateway, and egress TCP 443 to ``0.0.0.0/0``.

Anything else has no route: on AWS the connection is never answered and the SDK's own timeouts decide what
happens (botocore waits 60 s to connect by default, longer than most functions live). ``Network.blocked``
says why a call has no path; the moto gateway then holds the call unanswered (``tools.emulator.gateway``).
A function without a VPC configuration reaches every service (Lambda's own network). Endpoint policies are
not evaluated; everything is read with EC2 and Lambda API calls (``refresh`` reads it again after a change).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tools.emulator.topology import paginate

log = logging.getLogger("emulator")

HTTPS = 443
ANYWHERE = "0.0.0.0/0"
GATEWAY_SERVICES = ("s3", "dynamodb")  # the services AWS offers gateway endpoints for


@dataclass(frozen=True)
class Rule:
    """One security group rule, as much of it as matters for TCP 443."""

    protocol: str
    from_port: int
    to_port: int
    cidr: str | None
    prefix_list: str | None
    group: str | None

    def allows_https(self) -> bool:
        if self.protocol == "-1":
            return True
        return self.protocol in ("tcp", "6") and self.from_port <= HTTPS <= self.to_port


@dataclass(frozen=True)
class Endpoint:
    id: str
    vpc: str
    service: str  # the endpoint's service suffix: com.amazonaws.<region>.<service>
    type: str  # Gateway | Interface
    route_tables: tuple[str, ...]
    groups: tuple[str, ...]
    private_dns: bool


@dataclass(frozen=True)
class Placement:
    """Where a function's network interfaces are: its VPC, subnets, route tables and security groups."""

    vpc: str
    vpc_cidrs: tuple[str, ...]
    route_tables: tuple[str, ...]
    groups: tuple[str, ...]


def _covers(cidr: str | None, network: str) -> bool:
    if not cidr:
        return False
    try:
        return ipaddress.ip_network(network, strict=False).subnet_of(ipaddress.ip_network(cidr, strict=False))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


class Network:
    """The routing rules of the deployment's VPCs for the functions of a topology; ``blocked`` answers per call."""

    def __init__(self, session: Any, functions: dict[str, Any]) -> None:
        """``functions``: deployed name -> anything with ``name`` (the topology's FunctionSpec)."""
        self.session = session
        self.function_names = tuple(functions)
        self._lock = threading.Lock()
        self._verdicts: dict[tuple[str, str], str | None] = {}
        self.unreachable: Counter[tuple[str, str]] = Counter()  # (function, service) -> calls held
        self.reasons: dict[tuple[str, str], str] = {}
        self._tables: dict[str, dict[str, Any]] = {}
        self.refresh()

    # -- reading the deployment ------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the functions' VPC configurations and the VPCs' endpoints, routes and security groups again."""
        lam = self.session.client("lambda")
        placements: dict[str, Placement] = {}
        configs = {name: lam.get_function_configuration(FunctionName=name) for name in self.function_names}
        in_vpc = {n: c["VpcConfig"] for n, c in configs.items() if (c.get("VpcConfig") or {}).get("SubnetIds")}
        endpoints: list[Endpoint] = []
        rules: dict[str, tuple[list[Rule], list[Rule]]] = {}
        prefix_lists: dict[str, str] = {}
        tables: list[dict[str, Any]] = []
        if in_vpc:
            ec2 = self.session.client("ec2")
            subnets = {s["SubnetId"]: s for s in paginate(ec2, "describe_subnets", "Subnets")}
            tables = paginate(ec2, "describe_route_tables", "RouteTables")
            vpcs = {v["VpcId"]: v for v in paginate(ec2, "describe_vpcs", "Vpcs")}
            for name, config in in_vpc.items():
                subnet_ids = [s for s in config["SubnetIds"] if s in subnets]
                vpc = subnets[subnet_ids[0]]["VpcId"] if subnet_ids else ""
                placements[name] = Placement(
                    vpc=vpc,
                    vpc_cidrs=tuple(a["CidrBlock"] for a in vpcs.get(vpc, {}).get("CidrBlockAssociationSet", []))
                    or ((vpcs[vpc]["CidrBlock"],) if vpc in vpcs else ()),
                    route_tables=tuple(sorted({self._route_table(tables, vpc, s) for s in subnet_ids} - {""})),
                    groups=tuple(config.get("SecurityGroupIds") or ()),
                )
            for raw in paginate(ec2, "describe_vpc_endpoints", "VpcEndpoints"):
                if raw.get("State", "available").lower() not in ("available", "pending"):
                    continue
                endpoints.append(
                    Endpoint(
                        id=raw["VpcEndpointId"],
                        vpc=raw["VpcId"],
                        service=raw["ServiceName"].rsplit(".", 1)[-1],
                        type=raw.get("VpcEndpointType", "Gateway"),
                        route_tables=tuple(raw.get("RouteTableIds") or ()),
                        groups=tuple(g["GroupId"] for g in raw.get("Groups") or ()),
                        private_dns=bool(raw.get("PrivateDnsEnabled")),
                    )
                )
            for raw in paginate(ec2, "describe_security_group_rules", "SecurityGroupRules"):
                ingress, egress = rules.setdefault(raw["GroupId"], ([], []))
                (egress if raw.get("IsEgress") else ingress).append(
                    Rule(
                        protocol=str(raw.get("IpProtocol", "-1")),
                        from_port=int(raw.get("FromPort", -1)),
                        to_port=int(raw.get("ToPort", -1)),
                        cidr=raw.get("CidrIpv4"),
                        prefix_list=raw.get("PrefixListId"),
                        group=(raw.get("ReferencedGroupInfo") or {}).get("GroupId"),
                    )
                )
            prefix_lists = {
                p["PrefixListName"].rsplit(".", 1)[-1]: p["PrefixListId"]
                for p in paginate(ec2, "describe_prefix_lists", "PrefixLists")
            }
        with self._lock:
            self._tables = {t["RouteTableId"]: t for t in tables}
            self._placements = placements
            self._endpoints = endpoints
            self._rules = rules
            self._prefix_lists = prefix_lists
            self._verdicts.clear()

    @staticmethod
    def _route_table(tables: list[dict[str, Any]], vpc: str, subnet: str) -> str:
        """The route table of a subnet: its explicit association, else the VPC's main table."""
        main = ""
        for table in tables:
            for association in table.get("Associations") or ():
                if association.get("SubnetId") == subnet:
                    return str(table["RouteTableId"])
                if association.get("Main") and table.get("VpcId") == vpc:
                    main = str(table["RouteTableId"])
        return main

    # -- the verdict -------------------------------------------------------------------------------

    def blocked(self, function: str, service: str) -> str | None:
        """None when ``function`` can reach ``service`` (a SigV4 service name such as ``s3``), else why not.
        The first call of each pair that has no path is logged."""
        key = (function, service)
        with self._lock:
            if key not in self._verdicts:
                self._verdicts[key] = self._why_not(function, service)
            reason = self._verdicts[key]
            if reason is not None:
                self.unreachable[key] += 1
                first = key not in self.reasons
                self.reasons[key] = reason
        if reason is not None and first:
            log.warning("network: %s cannot reach %s: %s", function, service, reason)
        return reason

    def failures(self) -> list[str]:
        """One line per (function, service) that was called without a path, with how many calls were held."""
        with self._lock:
            return [
                f"{function} could not reach {service} ({count} calls held unanswered): {self.reasons[key]}"
                for key, count in sorted(self.unreachable.items())
                for function, service in [key]
            ]

    def forget_failures(self) -> None:
        """Start counting calls without a path afresh (after a test broke the network on purpose and mended it)."""
        with self._lock:
            self.unreachable.clear()
            self.reasons.clear()

    def _why_not(self, function: str, service: str) -> str | None:
        placement = self._placements.get(function)
        if placement is None:
            return None  # not in a VPC: Lambda's own network reaches every public endpoint
        where = f"{placement.vpc} has"
        if service in GATEWAY_SERVICES:
            if self._through_gateway(placement, service):
                return None
            gateway = self._endpoints_of(placement, service, "Gateway")
            if gateway and not any(set(e.route_tables) & set(placement.route_tables) for e in gateway):
                return f"the gateway endpoint {gateway[0].id} is not on the route table of the function's subnets"
            if gateway:
                return f"no egress rule of {', '.join(placement.groups)} allows TCP 443 to the {service} prefix list"
        interface = self._endpoints_of(placement, service, "Interface")
        if interface:
            if self._through_interface(placement, interface):
                return None
            if not any(e.private_dns for e in interface):
                return f"the interface endpoint {interface[0].id} has no private DNS: the SDK's host name is not it"
            groups = ", ".join(interface[0].groups) or "none"
            return (
                f"the security groups do not let the function reach the interface endpoint {interface[0].id} on "
                f"TCP 443 (egress of {', '.join(placement.groups)}, ingress of {groups})"
            )
        if self._through_internet(placement):
            return None
        kind = "gateway or interface" if service in GATEWAY_SERVICES else "interface"
        return (
            f"{where} no {kind} endpoint for com.amazonaws.<region>.{service} and no route to a NAT or internet gateway"
        )

    def _endpoints_of(self, placement: Placement, service: str, kind: str) -> list[Endpoint]:
        return [e for e in self._endpoints if e.vpc == placement.vpc and e.service == service and e.type == kind]

    def _https_rules(self, groups: tuple[str, ...], egress: bool) -> list[Rule]:
        return [rule for group in groups for rule in self._rules.get(group, ([], []))[egress] if rule.allows_https()]

    def _egress(self, placement: Placement) -> list[Rule]:
        return self._https_rules(placement.groups, egress=True)

    def _through_gateway(self, placement: Placement, service: str) -> bool:
        endpoints = [
            e
            for e in self._endpoints
            if e.vpc == placement.vpc
            and e.service == service
            and e.type == "Gateway"
            and set(e.route_tables) & set(placement.route_tables)
        ]
        prefix_list = self._prefix_lists.get(service)
        return bool(endpoints) and any(
            (prefix_list is not None and rule.prefix_list == prefix_list) or rule.cidr == ANYWHERE
            for rule in self._egress(placement)
        )

    def _through_interface(self, placement: Placement, endpoints: list[Endpoint]) -> bool:
        egress = self._egress(placement)
        for endpoint in endpoints:
            if not endpoint.private_dns:
                continue
            out = any(
                rule.group in endpoint.groups or any(_covers(rule.cidr, cidr) for cidr in placement.vpc_cidrs)
                for rule in egress
            )
            ingress = self._https_rules(endpoint.groups, egress=False)
            into = any(
                rule.group in placement.groups or any(_covers(rule.cidr, cidr) for cidr in placement.vpc_cidrs)
                for rule in ingress
            )
            if out and into:
                return True
        return False

    def _through_internet(self, placement: Placement) -> bool:
        routed = any(
            route.get("DestinationCidrBlock") == ANYWHERE
            and (
                str(route.get("NatGatewayId", "")).startswith("nat-")
                or str(route.get("GatewayId", "")).startswith("igw-")
            )
            for table_id in placement.route_tables
            for route in self._tables.get(table_id, {}).get("Routes", [])
        )
        return routed and any(rule.cidr == ANYWHERE for rule in self._egress(placement))
