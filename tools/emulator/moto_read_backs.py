"""Attributes moto stores but does not read back as AWS does, so that a plan right after an apply changes nothing.

The AWS provider reads every resource back after creating it and on each plan; where moto's answer differs from
AWS's, Terraform plans a change on every run (``tests/e2e/test_deployments.py`` checks that none is planned). Each
patch below makes moto answer what AWS answers, for the attributes this configuration sets; nothing here names a
resource of this project. Applied by ``LocalAWS`` (``install()``, idempotent).

1. SNS ``GetTopicAttributes``: moto keeps the delivery-status attributes the provider sets with
   ``SetTopicAttributes`` (``SQSSuccessFeedbackRoleArn``, ``...SampleRate``, ``...FailureFeedbackRoleArn`` for each
   protocol, ``SignatureVersion``, ``TracingConfig``) but leaves them out of its answer.
2. SQS ``GetQueueAttributes``: AWS returns ``RedrivePolicy`` as compact JSON
   (``{"deadLetterTargetArn":"arn:...","maxReceiveCount":3}``); moto writes it with spaces, which the provider
   compares as text.
3. EC2 ``DescribeSecurityGroupRules``: a rule's ``Description`` given with a prefix list or a referenced group is
   kept by moto but answered only for CIDR rules.
"""

from __future__ import annotations

import json
from typing import Any

FEEDBACK_PROTOCOLS = ("Application", "Firehose", "HTTP", "Lambda", "SQS")
FEEDBACK_ATTRIBUTES = tuple(
    f"{protocol}{suffix}"
    for protocol in FEEDBACK_PROTOCOLS
    for suffix in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")
)
TOPIC_ATTRIBUTES = (*FEEDBACK_ATTRIBUTES, "SignatureVersion", "TracingConfig")

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _topic_attributes()
    _redrive_policy()
    _rule_descriptions()


def _topic_attributes() -> None:
    from moto.core.utils import camelcase_to_underscores
    from moto.sns.responses import SNSResponse

    original = SNSResponse.get_topic_attributes

    def get_topic_attributes(self: SNSResponse) -> Any:
        answer = original(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        attributes = answer.result["Attributes"]  # type: ignore[index]  # moto types the result as object
        for name in TOPIC_ATTRIBUTES:
            value = getattr(topic, camelcase_to_underscores(name), None)
            if value is not None and name not in attributes:
                attributes[name] = str(value)
        return answer

    SNSResponse.get_topic_attributes = get_topic_attributes  # type: ignore[method-assign]


def _redrive_policy() -> None:
    from moto.sqs.models import Queue

    original = Queue.__dict__["attributes"].fget  # a property

    def attributes(self: Queue) -> dict[str, Any]:
        result = original(self)
        if "RedrivePolicy" in result and self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]


def _rule_descriptions() -> None:
    import inspect

    from moto.ec2.models.security_groups import SecurityGroupRule

    original_init = SecurityGroupRule.__init__
    signature = inspect.signature(original_init)

    def __init__(self: SecurityGroupRule, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = signature.bind(self, *args, **kwargs).arguments.get("prefix_list_id") or {}
        self._prefix_list_description = prefix_list.get("Description")  # type: ignore[attr-defined]

    def description(self: SecurityGroupRule) -> str | None:
        return (
            self.ip_range.get("Description")
            or self.source_group.get("Description")
            or getattr(self, "_prefix_list_description", None)
        )

    SecurityGroupRule.__init__ = __init__  # type: ignore[method-assign]
    SecurityGroupRule.description = property(description)  # type: ignore[assignment,method-assign]
