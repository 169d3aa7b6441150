# Table stream -> detect-fraud, one of two ways (var.stream_consumer):
#   eventbridge: Pipe (filter: inserted transactions, one record per event) -> bus fraud-events ->
#                rule -> detect-fraud, with a dead-letter queue at each hop
#   direct:      event source mapping with the same filter, partial batch failures, bisect on error,
#                bounded retries and record age, failures to the stream dead-letter queue

locals {
  use_pipe = var.stream_consumer == "eventbridge"

  # Only inserted transactions: the claim items written beside them (kind = "claim") are dropped.
  stream_filter = jsonencode({
    eventName = ["INSERT"]
    dynamodb  = { NewImage = { kind = { S = ["transaction"] } } }
  })

  event_source      = "fraud.transactions"
  event_detail_type = "TransactionInserted"
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

  name               = "pipe-fraud-stream-${var.suffix}"
  description        = "Lets the Pipe read the transactions stream and put events on fraud-events-${var.suffix}"
  assume_role_policy = data.aws_iam_policy_document.pipe_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "pipe" {
  statement {
    sid       = "ReadTableStream"
    effect    = "Allow"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [module.data.table_stream_arn]
  }

  # The stream is encrypted with the CMK; so is the dead-letter queue.
  statement {
    sid       = "UseStreamAndDeadLetterKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.security.key_arn]
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

  name   = "pipe-fraud-stream-${var.suffix}"
  role   = aws_iam_role.pipe[0].id
  policy = data.aws_iam_policy_document.pipe.json
}

resource "aws_pipes_pipe" "stream" {
  count = local.use_pipe ? 1 : 0

  name          = "fraud-stream-${var.suffix}"
  description   = "Inserted transactions from transactions-${var.suffix} to fraud-events-${var.suffix}, one record per event"
  role_arn      = aws_iam_role.pipe[0].arn
  source        = module.data.table_stream_arn
  target        = module.messaging.event_bus_arn
  desired_state = "RUNNING"

  source_parameters {
    dynamodb_stream_parameters {
      starting_position             = "LATEST"
      batch_size                    = 1
      maximum_retry_attempts        = 10
      maximum_record_age_in_seconds = 86400

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
  maximum_record_age_in_seconds      = 3600

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
      values   = concat(aws_cloudwatch_event_rule.transaction_inserted[*].arn, [aws_cloudwatch_event_rule.analysis.arn])
    }
  }
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = module.messaging.events_dlq_url
  policy    = data.aws_iam_policy_document.events_dlq.json
}
