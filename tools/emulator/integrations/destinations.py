"""Queues and topics as targets: what other integrations send to an SQS queue or an SNS topic ARN.

On-failure and on-success destinations, dead-letter queues of pipes and rule targets, and rule or
pipe targets that are queues or topics all arrive here through ``ctx.targets``. Delivery is the
service's own API (``SendMessage``, ``Publish``), so moto's SNS fan-out and SQS redrive apply.
"""

from __future__ import annotations

from typing import Any

from tools.emulator.integrations.base import Context, Integration, dumps, service_of


class QueuesAndTopics(Integration):
    name = "destinations"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._sqs = ctx.session.client("sqs")
        self._sns = ctx.session.client("sns")
        self._urls: dict[str, str] = {}
        ctx.targets.register(lambda arn: service_of(arn) == "sqs", self._to_queue)
        ctx.targets.register(lambda arn: service_of(arn) == "sns", self._to_topic)

    @property
    def deployed(self) -> bool:
        return False  # nothing of its own to run: it only delivers for the others

    def _to_queue(self, arn: str, payload: Any, **_: Any) -> None:
        url = self._urls.get(arn)
        if url is None:
            name, account = arn.split(":")[5], arn.split(":")[4]
            url = self._urls[arn] = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=payload if isinstance(payload, str) else dumps(payload))

    def _to_topic(self, arn: str, payload: Any, **_: Any) -> None:
        self._sns.publish(TopicArn=arn, Message=payload if isinstance(payload, str) else dumps(payload))

    def counters(self) -> dict[str, Any]:
        return {arn: n for arn, n in self.ctx.targets.sent.items() if service_of(arn) in ("sqs", "sns")}
