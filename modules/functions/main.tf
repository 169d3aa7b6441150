# One Lambda function with everything it needs to run in production: its own role and policy, its
# own log group (retention, CMK), X-Ray, CMK-encrypted environment, optional layers and VPC,
# reserved concurrency, an on-failure destination for asynchronous invocations and an error-rate
# alarm. The root module instantiates it once per function (for_each over a map).

locals {
  log_group_name = "/aws/lambda/${var.name}"
  in_vpc         = var.vpc_config != null
}

# --- Log group ---------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# --- Role and policy ---------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "lambda-${var.name}"
  description        = "Execution role of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Statements scoped to ARNs: the caller's, plus what every function needs.
data "aws_iam_policy_document" "scoped" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # Environment variables are encrypted with the CMK; failure records go to a CMK-encrypted queue.
  statement {
    sid       = "UseEnvironmentAndFailureQueueKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "SendAsyncFailures"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.on_failure_destination_arn]
  }

  dynamic "statement" {
    for_each = var.policy_statements

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

# The only statements with Resource "*": these actions accept no resource ARNs.
data "aws_iam_policy_document" "unscoped" {
  #checkov:skip=CKV_AWS_356:X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC ENI actions support no resource-level permissions; "*" is the only valid resource.
  #checkov:skip=CKV_AWS_111:X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC ENI actions support no resource-level permissions; "*" is the only valid resource.
  #checkov:skip=CKV_AWS_109:X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC ENI actions support no resource-level permissions; "*" is the only valid resource.
  statement {
    sid       = "SendTraces"
    effect    = "Allow"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []

    content {
      sid    = "ManageVpcNetworkInterfaces"
      effect = "Allow"
      actions = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

data "aws_iam_policy_document" "this" {
  source_policy_documents = [
    data.aws_iam_policy_document.scoped.json,
    data.aws_iam_policy_document.unscoped.json,
  ]
}

resource "aws_iam_role_policy" "this" {
  name   = "lambda-${var.name}"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# --- Function ----------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Asynchronous failures go to an on-failure destination (aws_lambda_function_event_invoke_config), which records the error and the request, unlike a dead-letter queue.
  #checkov:skip=CKV_AWS_117:Running in a VPC is a per-environment choice (enable_vpc, on in prod); without it the function reaches only AWS APIs, over TLS.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform team owns; the zips are built deterministically and hashed (source_code_hash) instead.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  filename                       = var.filename
  source_code_hash               = filebase64sha256(var.filename)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  layers                         = var.layers

  tracing_config {
    mode = "Active"
  }

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [var.vpc_config] : []

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  # The role must be able to write logs and traces before the first invocation, and the log group
  # must exist before Lambda creates one of its own (without retention or key).
  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = var.on_failure_destination_arn
    }
  }
}

# --- Error-rate alarm --------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "error-rate-${var.name}"
  alarm_description   = "More than ${var.error_rate_threshold_percent}% of ${var.name} invocations failed over 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "error_rate"
    label       = "Error rate (%)"
    expression  = "IF(invocations > 0, 100 * errors / invocations, 0)"
    return_data = true
  }

  metric_query {
    id = "invocations"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
      stat        = "Sum"
      period      = 300
    }
  }

  tags = var.tags
}
