# Queues, topics and the event bus of the pipeline, with their dead-letter queues and depth alarms.
#
#   detect-fraud / analyze-patterns -> fraud-alerts (redrive: fraud-alerts-dlq) -> notify-team
#   notify-team -> fraud-notifications (SNS) -> email, fraud-alert-events (SQS, downstream)
#   stream -> Pipe -> fraud-events bus (Pipe failures: fraud-stream-dlq; rule target failures: fraud-events-dlq)
#   async invocation failures of every function -> function-failures
#   CloudWatch alarms -> fraud-ops (SNS) -> email
#
# The policies that name another module's resources (EventBridge rules writing to fraud-events-dlq)
# live in the root module.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  topic_name = "fraud-notifications-${var.suffix}"
  # SNS writes delivery status to these fixed names; creating them here gives them a retention and
  # the CMK (SNS would otherwise create them unencrypted and kept forever).
  delivery_log_groups = {
    success = "sns/${var.region}/${local.account_id}/${local.topic_name}"
    failure = "sns/${var.region}/${local.account_id}/${local.topic_name}/Failure"
  }

  # Every dead-letter queue, by the name its depth alarm uses.
  dead_letter_queues = {
    alerts            = aws_sqs_queue.alerts_dlq
    function-failures = aws_sqs_queue.function_failures
    stream            = aws_sqs_queue.stream_dlq
    events            = aws_sqs_queue.events_dlq
  }
}

# --- Alerts ------------------------------------------------------------------------------------

resource "aws_sqs_queue" "alerts_dlq" {
  name                              = "fraud-alerts-dlq-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "alerts" {
  name                              = "fraud-alerts-${var.suffix}"
  visibility_timeout_seconds        = var.alerts_visibility_timeout_seconds
  message_retention_seconds         = var.alerts_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.alerts_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# --- Failure destinations ----------------------------------------------------------------------

resource "aws_sqs_queue" "function_failures" {
  name                              = "function-failures-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "stream_dlq" {
  name                              = "fraud-stream-dlq-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "events_dlq" {
  name                              = "fraud-events-dlq-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

# --- Event bus ---------------------------------------------------------------------------------

resource "aws_cloudwatch_event_bus" "this" {
  name = "fraud-events-${var.suffix}"
  tags = var.tags
}

# --- Notifications topic -----------------------------------------------------------------------

data "aws_iam_policy_document" "sns_assume" {
  statement {
    sid     = "SnsWritesDeliveryStatus"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "delivery_status" {
  name               = "sns-delivery-status-${var.suffix}"
  description        = "Lets SNS log delivery status of ${local.topic_name}"
  assume_role_policy = data.aws_iam_policy_document.sns_assume.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "delivery_status" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  for_each = local.delivery_log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "delivery_status" {
  statement {
    sid       = "WriteDeliveryStatusLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = flatten([for g in aws_cloudwatch_log_group.delivery_status : [g.arn, "${g.arn}:*"]])
  }
}

resource "aws_iam_role_policy" "delivery_status" {
  name   = "sns-delivery-status-${var.suffix}"
  role   = aws_iam_role.delivery_status.id
  policy = data.aws_iam_policy_document.delivery_status.json
}

resource "aws_sns_topic" "notifications" {
  name                             = local.topic_name
  kms_master_key_id                = var.kms_key_arn
  sqs_success_feedback_role_arn    = aws_iam_role.delivery_status.arn
  sqs_failure_feedback_role_arn    = aws_iam_role.delivery_status.arn
  sqs_success_feedback_sample_rate = var.delivery_status_sample_rate
  tags                             = var.tags

  depends_on = [aws_iam_role_policy.delivery_status]
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# Downstream alert processing. raw_message_delivery = true: each message body is exactly the `sqs`
# entry notify-team publishes (the structured, masked alert JSON), without the SNS envelope.
resource "aws_sqs_queue" "alert_events" {
  name                              = "fraud-alert-events-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "alert_events" {
  statement {
    sid       = "NotificationsTopicDelivers"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.alert_events.arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.notifications.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "alert_events" {
  queue_url = aws_sqs_queue.alert_events.id
  policy    = data.aws_iam_policy_document.alert_events.json
}

resource "aws_sns_topic_subscription" "alert_events" {
  topic_arn            = aws_sns_topic.notifications.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.alert_events.arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.alert_events]
}

# --- Operations topic and dead-letter alarms ---------------------------------------------------

# Alarms go to their own topic so that the downstream alert consumers on fraud-notifications only
# ever see fraud alerts.
resource "aws_sns_topic" "ops" {
  name              = "fraud-ops-${var.suffix}"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "ops_email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.ops.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.dead_letter_queues

  alarm_name          = "dlq-depth-${each.value.name}"
  alarm_description   = "Messages are waiting in ${each.value.name}: something failed after its retries; inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
  tags                = var.tags
}
