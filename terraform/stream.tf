# Table stream -> detect-fraud, one of two ways (var.stream_consumer):
#   eventbridge: Pipe (filter: inserted transactions, one record per event) -> bus fraud-events ->
#                rule -> detect-fraud, with a dead-letter queue at each hop
#   direct:      event source mapping with the same filter, partial batch failures, bisect on error,
#                bounded retries, records kept for the stream's whole 24 h, failures to the stream
#                dead-letter queue
# and the alarms of each routing: Pipe execution and target failures, rule failed invocations, or
# the mapping's iterator age.

locals {
  use_pipe = var.stream_consumer == "eventbridge"

  # Only inserted transactions: the claim items written beside them (kind = "claim") are dropped.
  stream_filter = jsonencode({
    eventName = ["INSERT"]
    dynamodb  = { NewImage = { kind = { S = ["transaction"] } } }
  })

  event_source      = "fraud.transactions"
  event_detail_type = "TransactionInserted"

  # DynamoDB keeps a stream record for 24 hours; the routings keep retrying a record that long, and
  # what they give up on can be read back from the stream (make replay) until it expires.
  stream_retention_seconds = 86400

  pipe_name = "fraud-stream-${var.suffix}"
  pipe_arn  = "arn:${module.security.partition}:pipes:${var.region}:${module.security.account_id}:pipe/${local.pipe_name}"
}

# --- eventbridge -------------------------------------------------------------------------------

data "aws_iam_policy_document" "pipe_assume" {
  statement {
    sid     = "PipesAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["pipes.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [module.security.account_id]
    }
  }
}

resource "aws_iam_role" "pipe" {
  count = local.use_pipe ? 1 : 0

  # IAM is global: the region keeps two regions' environments of the same suffix apart.
  name               = "pipe-fraud-stream-${var.region}-${var.suffix}"
  description        = "Lets the Pipe read the transactions stream and put events on fraud-events-${var.suffix}"
  assume_role_policy = data.aws_iam_policy_document.pipe_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "pipe" {
  # dynamodb:ListStreams is not granted: it accepts only Resource "*", and the Pipe names its stream.
  statement {
    sid       = "ReadTableStream"
    effect    = "Allow"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [module.data.table_stream_arn]
  }

  # The stream (table key) and the dead-letter queue are encrypted with the CMK: the key only through
  # those two services.
  statement {
    sid       = "UseStreamAndDeadLetterKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.security.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.${module.security.dns_suffix}", "sqs.${var.region}.${module.security.dns_suffix}"]
    }
  }

  # The Pipe's own data (its filter: which records are transactions) is encrypted with the CMK
  # (kms_key_identifier). EventBridge Pipes uses the key with the Pipe's role and the Pipe's ARN as
  # encryption context ("Encrypting EventBridge Pipes data with AWS KMS keys"); AWS's page names the
  # context key both aws:pipes:arn and aws:pipe:arn, so both are allowed, each for this Pipe only.
  statement {
    sid       = "DescribePipeKey"
    effect    = "Allow"
    actions   = ["kms:DescribeKey"]
    resources = [module.security.key_arn]
  }

  statement {
    sid       = "UsePipeKeyForThisPipe"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.security.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:pipes:arn"
      values   = [local.pipe_arn]
    }
  }

  statement {
    sid       = "UsePipeKeyForThisPipeLegacyContext"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.security.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:pipe:arn"
      values   = [local.pipe_arn]
    }
  }

  statement {
    sid       = "PutTransactionEvents"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [module.messaging.event_bus_arn]
  }

  statement {
    sid       = "SendStreamFailures"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.stream_dlq_arn]
  }
}

resource "aws_iam_role_policy" "pipe" {
  count = local.use_pipe ? 1 : 0

  name   = "pipe-fraud-stream-${var.region}-${var.suffix}"
  role   = aws_iam_role.pipe[0].id
  policy = data.aws_iam_policy_document.pipe.json
}

# Pipe errors (a target that refuses events, a record given up on) go to this group. Execution
# data (the records themselves: card data) is never included. EventBridge delivers Pipe logs as
# vended logs, which is why the name sits under /aws/vendedlogs/.
resource "aws_cloudwatch_log_group" "pipe" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  count = local.use_pipe ? 1 : 0

  name              = "/aws/vendedlogs/pipes/${local.pipe_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.security.key_arn
  tags              = local.tags
}

resource "aws_pipes_pipe" "stream" {
  count = local.use_pipe ? 1 : 0

  name          = local.pipe_name
  description   = "Inserted transactions from transactions-${var.suffix} to fraud-events-${var.suffix}, one record per event"
  role_arn      = aws_iam_role.pipe[0].arn
  source        = module.data.table_stream_arn
  target        = module.messaging.event_bus_arn
  desired_state = "RUNNING"
  # The Pipe's filter and settings at rest; the records themselves are never stored by the Pipe.
  kms_key_identifier = module.security.key_arn

  source_parameters {
    dynamodb_stream_parameters {
      starting_position             = "LATEST"
      batch_size                    = 1
      maximum_retry_attempts        = 10
      maximum_record_age_in_seconds = local.stream_retention_seconds

      dead_letter_config {
        arn = module.messaging.stream_dlq_arn
      }
    }

    filter_criteria {
      filter {
        pattern = local.stream_filter
      }
    }
  }

  target_parameters {
    eventbridge_event_bus_parameters {
      source      = local.event_source
      detail_type = local.event_detail_type
    }
  }

  log_configuration {
    level = "ERROR"

    cloudwatch_logs_log_destination {
      log_group_arn = aws_cloudwatch_log_group.pipe[0].arn
    }
  }

  tags = local.tags

  # Created in the same apply as the table, the Pipe fails with "cannot access stream" unless its
  # role policy is in place first.
  depends_on = [aws_iam_role_policy.pipe]
}

resource "aws_cloudwatch_event_rule" "transaction_inserted" {
  count = local.use_pipe ? 1 : 0

  name           = "transaction-inserted-${var.suffix}"
  description    = "Inserted transactions from the Pipe -> detect-fraud"
  event_bus_name = module.messaging.event_bus_name
  state          = "ENABLED"

  event_pattern = jsonencode({
    source        = [local.event_source]
    "detail-type" = [local.event_detail_type]
    detail        = { eventName = ["INSERT"] }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "detect_fraud" {
  count = local.use_pipe ? 1 : 0

  rule           = aws_cloudwatch_event_rule.transaction_inserted[0].name
  event_bus_name = module.messaging.event_bus_name
  target_id      = "detect-fraud"
  arn            = module.functions["detect-fraud"].function_arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = module.messaging.events_dlq_arn
  }
}

resource "aws_lambda_permission" "transaction_inserted" {
  count = local.use_pipe ? 1 : 0

  statement_id  = "AllowEventBridgeTransactionInserted"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["detect-fraud"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.transaction_inserted[0].arn
}

# --- direct ------------------------------------------------------------------------------------

resource "aws_lambda_event_source_mapping" "stream" {
  count = local.use_pipe ? 0 : 1

  event_source_arn                   = module.data.table_stream_arn
  function_name                      = module.functions["detect-fraud"].function_arn
  starting_position                  = "LATEST"
  batch_size                         = 10
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 5
  maximum_record_age_in_seconds      = local.stream_retention_seconds

  filter_criteria {
    filter {
      pattern = local.stream_filter
    }
  }

  destination_config {
    on_failure {
      destination_arn = module.messaging.stream_dlq_arn
    }
  }
}

# --- Dead-letter queue of the EventBridge rule targets -----------------------------------------

data "aws_iam_policy_document" "events_dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [module.messaging.events_dlq_arn]

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
    sid       = "RuleTargetsSendFailures"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.events_dlq_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = concat(aws_cloudwatch_event_rule.transaction_inserted[*].arn, [aws_cloudwatch_event_rule.analysis.arn, aws_cloudwatch_event_rule.subscriptions.arn, module.messaging.event_bus_arn])
    }
  }
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = module.messaging.events_dlq_url
  policy    = data.aws_iam_policy_document.events_dlq.json
}

# --- Alarms of the routing -----------------------------------------------------------------------

locals {
  # eventbridge: the Pipe (execution, target stage, timeouts) and the rule's target invocations.
  pipe_alarms = local.use_pipe ? {
    ExecutionFailed   = "Pipe executions failed (the record is retried, then sent to fraud-stream-dlq)"
    ExecutionTimeout  = "Pipe executions timed out"
    TargetStageFailed = "the Pipe could not put events on fraud-events"
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "pipe" {
  for_each = local.pipe_alarms

  alarm_name          = "pipe-${lower(each.key)}-${local.pipe_name}"
  alarm_description   = "${local.pipe_name}: ${each.value} over 5 minutes. The Pipe's log group /aws/vendedlogs/pipes/${local.pipe_name} says why."
  namespace           = "AWS/EventBridge/Pipes"
  metric_name         = each.key
  dimensions          = { PipeName = aws_pipes_pipe.stream[0].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.messaging.ops_topic_arn]
  ok_actions          = [module.messaging.ops_topic_arn]
  tags                = local.tags
}

# EventBridge sends FailedInvocations only when it is not zero; on a custom bus its dimensions are
# the bus and the rule.
resource "aws_cloudwatch_metric_alarm" "rule_failed_invocations" {
  count = local.use_pipe ? 1 : 0

  alarm_name          = "rule-failed-invocations-${aws_cloudwatch_event_rule.transaction_inserted[0].name}"
  alarm_description   = "EventBridge gave up invoking detect-fraud for inserted transactions (after its retries): the events are in ${module.messaging.events_dlq_name}; replay them (make replay)."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { EventBusName = module.messaging.event_bus_name, RuleName = aws_cloudwatch_event_rule.transaction_inserted[0].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.messaging.ops_topic_arn]
  ok_actions          = [module.messaging.ops_topic_arn]
  tags                = local.tags
}

# direct: how far behind the stream detect-fraud is (a record's age when the mapping read it).
resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  count = local.use_pipe ? 0 : 1

  alarm_name          = "iterator-age-${module.functions["detect-fraud"].function_name}"
  alarm_description   = "detect-fraud is more than ${var.stream_lag_alarm_seconds} s behind the transactions stream: it is failing, throttled or too slow; records older than 24 h are lost to the stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = module.functions["detect-fraud"].function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.stream_lag_alarm_seconds * 1000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.messaging.ops_topic_arn]
  ok_actions          = [module.messaging.ops_topic_arn]
  tags                = local.tags
}
