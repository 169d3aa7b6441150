# Queues, topics and the event bus of the pipeline, with their dead-letter queues and depth alarms.
#
#   detect-fraud / analyze-patterns -> fraud-alerts (redrive: fraud-alerts-dlq) -> notify-team
#   notify-team -> fraud-notifications (SNS) -> email, fraud-alert-events (SQS, downstream)
#   stream -> Pipe -> fraud-events bus (Pipe failures: fraud-stream-dlq; rule target failures: fraud-events-dlq)
#   async invocation failures of every function -> function-failures
#   CloudWatch alarms -> fraud-ops (SNS) -> email
#
# Every queue and topic refuses requests that do not use TLS (aws:SecureTransport); the alerts DLQ
# takes redrives from the alerts queue only, the other dead-letter queues from no queue at all. The
# policies that name another module's resources (EventBridge rules writing to fraud-events-dlq)
# live in the root module, with the same TLS statement.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  topic_name        = "fraud-notifications-${var.suffix}"
  alerts_queue_name = "fraud-alerts-${var.suffix}"
  # Built from the name: the DLQ names its source queue, which names the DLQ (no cycle this way).
  alerts_queue_arn = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.alerts_queue_name}"
  # SNS writes delivery status to these fixed names; creating them here gives them a retention and
  # the CMK (SNS would otherwise create them unencrypted and kept forever).
  delivery_log_groups = {
    success = "sns/${var.region}/${local.account_id}/${local.topic_name}"
    failure = "sns/${var.region}/${local.account_id}/${local.topic_name}/Failure"
  }

  # The failure destinations: where a service puts what it gave up on (not the redrive target of a
  # queue), by role.
  failure_queue_names = {
    events            = "fraud-events-dlq-${var.suffix}"  # EventBridge rule targets
    function-failures = "function-failures-${var.suffix}" # asynchronous invocations of every function
    stream            = "fraud-stream-dlq-${var.suffix}"  # the Pipe or the direct event source mapping
  }

  # Every dead-letter queue, by the role its alarms use.
  dead_letter_queues = merge(aws_sqs_queue.dead_letter, { alerts = aws_sqs_queue.alerts_dlq })

  # The queues whose whole policy lives here (fraud-events-dlq's is in the root: it names the rules).
  tls_only_queues = {
    alerts            = aws_sqs_queue.alerts
    alerts-dlq        = aws_sqs_queue.alerts_dlq
    function-failures = aws_sqs_queue.dead_letter["function-failures"]
    stream            = aws_sqs_queue.dead_letter["stream"]
  }
}

# --- Alerts ------------------------------------------------------------------------------------

resource "aws_sqs_queue" "alerts_dlq" {
  name                              = "fraud-alerts-dlq-${var.suffix}"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  # Only the alerts queue may use it as its dead-letter queue.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.alerts_queue_arn]
  })
  tags = var.tags
}

resource "aws_sqs_queue" "alerts" {
  name                              = local.alerts_queue_name
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

resource "aws_sqs_queue" "dead_letter" {
  for_each = local.failure_queue_names

  name                              = each.value
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  # Services send here directly; no queue may redrive into it.
  redrive_allow_policy = jsonencode({ redrivePermission = "denyAll" })
  tags                 = var.tags
}

moved {
  from = aws_sqs_queue.function_failures
  to   = aws_sqs_queue.dead_letter["function-failures"]
}

moved {
  from = aws_sqs_queue.stream_dlq
  to   = aws_sqs_queue.dead_letter["stream"]
}

moved {
  from = aws_sqs_queue.events_dlq
  to   = aws_sqs_queue.dead_letter["events"]
}

# --- Queue policies: TLS only ------------------------------------------------------------------

data "aws_iam_policy_document" "tls_only_queue" {
  for_each = local.tls_only_queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = local.tls_only_queues

  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.tls_only_queue[each.key].json
}

# --- Event bus ---------------------------------------------------------------------------------

# The events carry a whole transaction (user, card token, device, IP): encrypted with the CMK rather
# than EventBridge's AWS-owned key, so that the key policy and CloudTrail decide and show who reads
# them (modules/security names EventBridge in the key policy for this). An event the bus cannot
# encrypt or decrypt (the key disabled, its policy changed) goes to the events dead-letter queue
# rather than nowhere, as AWS recommends for a bus under a customer-managed key; the queue's policy
# (root module) names the bus.
resource "aws_cloudwatch_event_bus" "this" {
  name               = "fraud-events-${var.suffix}"
  kms_key_identifier = var.kms_key_arn
  tags               = var.tags

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter["events"].arn
  }
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
  # IAM is global: the region keeps two regions' environments of the same suffix apart.
  name               = "sns-delivery-status-${var.region}-${var.suffix}"
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
  name   = "sns-delivery-status-${var.region}-${var.suffix}"
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
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.alert_events.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

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

# --- Operations topic, queue depth and age alarms ---------------------------------------------------

# Alarms go to their own topic so that the downstream alert consumers on fraud-notifications only
# ever see fraud alerts.
resource "aws_sns_topic" "ops" {
  name              = "fraud-ops-${var.suffix}"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "ops_email" {
  count = var.ops_email == null ? 0 : 1

  topic_arn = aws_sns_topic.ops.arn
  protocol  = "email"
  endpoint  = var.ops_email
}

# --- Topic policies: TLS only; alarms may publish to the ops topic ------------------------------

data "aws_iam_policy_document" "notifications_topic" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "notifications" {
  arn    = aws_sns_topic.notifications.arn
  policy = data.aws_iam_policy_document.notifications_topic.json
}

data "aws_iam_policy_document" "ops_topic" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ops.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # The topic policy replaces SNS's default one, so the alarms of this account are named here.
  statement {
    sid       = "AlarmsOfThisAccountPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ops.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:*"]
    }
  }
}

resource "aws_sns_topic_policy" "ops" {
  arn    = aws_sns_topic.ops.arn
  policy = data.aws_iam_policy_document.ops_topic.json
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

# A dead letter expires after dlq_retention_seconds: alarm while half of that is still left.
resource "aws_cloudwatch_metric_alarm" "dlq_age" {
  for_each = local.dead_letter_queues

  alarm_name          = "dlq-age-${each.value.name}"
  alarm_description   = "The oldest message in ${each.value.name} is older than ${floor(var.dlq_retention_seconds / 2 / 3600)} h; it is deleted after ${floor(var.dlq_retention_seconds / 3600)} h: inspect and redrive it (make replay)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = floor(var.dlq_retention_seconds / 2)
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
  tags                = var.tags
}

# notify-team drains the alerts queue within seconds; an alert waiting longer is not reaching anyone.
resource "aws_cloudwatch_metric_alarm" "alerts_age" {
  alarm_name          = "queue-age-${aws_sqs_queue.alerts.name}"
  alarm_description   = "An alert has waited more than ${var.alerts_max_age_seconds} s in ${aws_sqs_queue.alerts.name}: notify-team is failing, throttled or disabled."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.alerts.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alerts_max_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
  tags                = var.tags
}
