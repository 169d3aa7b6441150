"""Who signed a request, and may they invoke: IAM identities from moto, resource policies of REST APIs.

``lookup(access_key)`` finds the secret of an access key in moto's IAM and STS backends (an IAM
user's active key, or the temporary credentials of an assumed role, with their session token and
expiry): IAM has no API that returns a secret, so this reads moto's in-process backends. The caller
it describes (``Caller``) carries what IAM's policy evaluation needs: the ARN that signed, the
``aws:PrincipalArn`` (the user, or the role of a session) and the account.

``authorize`` decides an ``execute-api:Invoke`` the way API Gateway documents it for IAM
authorization with a resource policy ("How API Gateway resource policies affect authorization
workflow", table B): an explicit deny in either policy denies; in the API's own account an allow in
either the caller's IAM policies or the resource policy allows; from another account both must
allow. A resource-policy allow that names an account (its root, or its id) delegates to that
account's IAM policies, so it allows only with them. Identity policies are evaluated by moto's own
``moto.iam.access_control.IAMPolicy`` (actions and resources; moto's evaluator does not treat
conditions in identity policies as IAM does, so a producer's policy should not need them); the
resource policy by ``ResourcePolicy`` below, with the condition operators and keys API Gateway
resource policies commonly use.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.emulator.sigv4 import Secret

INVOKE = "execute-api:Invoke"


@dataclass(frozen=True)
class Caller:
    """An authenticated IAM principal."""

    arn: str  # what signed: arn:aws:iam::<account>:user/<name> or arn:aws:sts::<account>:assumed-role/<role>/<session>
    principal_arn: str  # aws:PrincipalArn: the user, or the role of a session
    account: str
    user_id: str  # the principal id API Gateway reports as the caller (AIDA..., or AROA...:<session>)
    policies: Callable[[], list[Any]] = field(compare=False, repr=False)  # identity policies, as moto keeps them


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _policies_of(collect: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    """moto's policy collection, or none for a principal moto has no IAM entity for (moto lets a
    session assume a role that does not exist)."""

    def policies() -> list[Any]:
        from moto.iam.exceptions import NotFoundException

        try:
            return collect()
        except NotFoundException:
            return []

    return policies


def lookup(access_key: str) -> Secret | None:
    """The secret of an access key moto issued, with the ``Caller`` it authenticates as ``identity``."""
    from moto.iam.access_control import AssumedRoleAccessKey, IAMUserAccessKey
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for partition, backend in list(sts_backends[account].items()):
            for session in list(backend.assumed_roles):
                if session.access_key_id != access_key:
                    continue
                role_arn = session.role_arn
                role_key = AssumedRoleAccessKey(
                    account, partition, access_key, {"X-Amz-Security-Token": session.session_token}
                )
                caller = Caller(
                    session.arn,
                    role_arn,
                    role_arn.split(":")[4] or account,
                    session.user_id,
                    _policies_of(role_key.collect_policies),
                )
                return Secret(session.secret_access_key, session.session_token, _aware(session.expiration), caller)
    for account in list(iam_backends.keys()):
        for partition, iam_backend in list(iam_backends[account].items()):
            for user in list(iam_backend.users.values()):
                for user_key in user.access_keys:
                    if user_key.access_key_id == access_key and user_key.status == "Active":
                        policies = _policies_of(IAMUserAccessKey(account, partition, access_key, {}).collect_policies)
                        caller = Caller(user.arn, user.arn, account, user.id, policies)
                        return Secret(user_key.secret_access_key, identity=caller)
    return None


def identity_decision(caller: Caller, action: str, resource: str) -> str | None:
    """``"deny"``, ``"allow"`` or None (no statement applies) from the caller's own IAM policies."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    for policy in caller.policies():
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return "deny"
        allowed = allowed or result == PermissionResult.PERMITTED
    return "allow" if allowed else None


# --- resource policies ----------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _ip_in(network: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


# Condition operators: how one policy value matches one request value. The Not forms are the
# negation over all values; a key the request lacks makes a Not form true and the others false
# (IfExists: true), as IAM evaluates them.
_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _glob(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": lambda p, v: _glob(p, v),
    "IpAddress": lambda p, v: _ip_in(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NotIpAddress": "IpAddress",
}
# What a request to the front door can tell about itself.
CONTEXT_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "aws:sourceip", "aws:securetransport"})


class PolicyError(ValueError):
    """A resource policy the emulator cannot evaluate faithfully (it says what, rather than guess)."""


def _check_condition(operator: str, block: Mapping[str, Any]) -> None:
    base = operator.removesuffix("IfExists")
    if base not in _MATCHERS and base not in _NEGATED:
        raise PolicyError(f"condition operator {operator} is not emulated")
    for key in block:
        if key.lower() not in CONTEXT_KEYS:
            raise PolicyError(f"condition key {key} is not emulated (known: {', '.join(sorted(CONTEXT_KEYS))})")


def _condition_holds(operator: str, block: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in _NEGATED
    matcher = _MATCHERS[_NEGATED.get(base, base)]
    for key, wanted in block.items():
        value = context.get(key.lower())
        if value is None:
            if not (if_exists or negated):
                return False
            continue
        hit = any(matcher(str(p), value) for p in _as_list(wanted))
        if hit == negated:
            return False
    return True


@dataclass(frozen=True)
class ResourcePolicy:
    """A REST API's resource policy, ready to evaluate ``execute-api:Invoke`` requests."""

    statements: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, text: str | None, api_arn: str) -> ResourcePolicy | None:
        """The policy ``GetRestApi`` returns (None: no policy): JSON-escaped, as API Gateway answers it
        (or plain JSON). ``execute-api:/...`` resources are expanded to ``<api_arn>/...`` as API Gateway
        does when it saves a policy."""
        if not text:
            return None
        try:
            document = json.loads(text)
        except ValueError:
            document = json.loads(json.loads(f'"{text}"'))
        statements = []
        for statement in _as_list(document.get("Statement")):
            if "NotPrincipal" in statement:
                raise PolicyError("NotPrincipal in a resource policy is not emulated")
            for operator, block in (statement.get("Condition") or {}).items():
                _check_condition(operator, block)
            expanded = dict(statement)
            for element in ("Resource", "NotResource"):
                if element in statement:
                    expanded[element] = [
                        api_arn + r.removeprefix("execute-api:") if r.startswith("execute-api:/") else r
                        for r in _as_list(statement[element])
                    ]
            statements.append(expanded)
        return cls(tuple(statements))

    def decision(self, caller: Caller | None, resource: str, source_ip: str) -> str | None:
        """``"deny"`` (an explicit deny), ``"allow"`` (an allow naming the caller or everyone),
        ``"account"`` (an allow naming only the caller's account: its IAM policies decide), or None."""
        context = {"aws:sourceip": source_ip, "aws:securetransport": "true"}
        if caller is not None:
            context |= {"aws:principalarn": caller.principal_arn, "aws:principalaccount": caller.account}
        result = None
        for statement in self.statements:
            applies = self._principal(statement, caller)
            if applies is None or not self._action(statement) or not self._resource(statement, resource):
                continue
            if not all(
                _condition_holds(op, block, context) for op, block in (statement.get("Condition") or {}).items()
            ):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            if result != "allow":
                result = applies
        return result

    @staticmethod
    def _principal(statement: Mapping[str, Any], caller: Caller | None) -> str | None:
        principal = statement.get("Principal")
        if principal == "*":
            return "allow"
        aws = _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
        if "*" in aws:
            return "allow"
        if caller is None:
            return None
        if caller.principal_arn in aws or caller.arn in aws:
            return "allow"
        if caller.account in aws or f"arn:aws:iam::{caller.account}:root" in aws:
            return "account"
        return None

    @staticmethod
    def _action(statement: Mapping[str, Any]) -> bool:
        if "NotAction" in statement:
            return not any(_glob(a, INVOKE, ignore_case=True) for a in _as_list(statement["NotAction"]))
        return any(_glob(a, INVOKE, ignore_case=True) for a in _as_list(statement.get("Action")))

    @staticmethod
    def _resource(statement: Mapping[str, Any], resource: str) -> bool:
        if "NotResource" in statement:
            return not any(_glob(r, resource) for r in statement["NotResource"])
        return any(_glob(r, resource) for r in _as_list(statement.get("Resource")))


def authorize(
    caller: Caller, resource: str, policy: ResourcePolicy | None, api_account: str, source_ip: str
) -> str | None:
    """None if ``caller`` may invoke ``resource``, else why not (AWS's reason, for the 403's message)."""
    by_resource = policy.decision(caller, resource, source_ip) if policy is not None else None
    if by_resource == "deny":
        return "with an explicit deny in a resource-based policy"
    by_identity = identity_decision(caller, INVOKE, resource)
    if by_identity == "deny":
        return "with an explicit deny in an identity-based policy"
    if by_resource == "allow" and caller.account == api_account:
        return None
    if by_identity == "allow" and (caller.account == api_account or by_resource in ("allow", "account")):
        return None
    if caller.account != api_account and by_resource is None:
        return "because no resource-based policy allows the execute-api:Invoke action"
    return "because no identity-based policy allows the execute-api:Invoke action"


def create_invoker(session: Any, role_name: str, resource_arn: str, *, duration_s: int = 43200) -> Any:
    """Make a role that may ``execute-api:Invoke`` ``resource_arn`` (its own IAM policy says so), in the
    emulator's account, and return botocore credentials of a session of it (what a producer's code
    gets from its role). The role is created once; later calls start a new session."""
    from botocore.credentials import Credentials

    iam_client = session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": []}
    try:
        arn = iam_client.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam_client.exceptions.EntityAlreadyExistsException:
        arn = iam_client.get_role(RoleName=role_name)["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": INVOKE, "Resource": resource_arn}]}
    iam_client.put_role_policy(RoleName=role_name, PolicyName="invoke", PolicyDocument=json.dumps(policy))
    answer = session.client("sts").assume_role(RoleArn=arn, RoleSessionName=role_name, DurationSeconds=duration_s)
    c = answer["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
