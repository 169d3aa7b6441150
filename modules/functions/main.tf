# One Lambda function with everything it needs to run in production: its own role and policy, its
# own log group (retention, CMK), X-Ray, CMK-encrypted environment, optional layers and VPC,
# reserved concurrency, an on-failure destination for asynchronous invocations, an error-rate and a
# throttle alarm. The root module instantiates it once per function (for_each over a map).

data "aws_partition" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.name}"
  in_vpc         = var.vpc_config != null
  # IAM is global: the region keeps the same function name in two regions from sharing a role.
  role_name = "lambda-${var.region}-${var.name}"
  # Lambda decrypts the environment and SQS encrypts the failure records with the key, always; the
  # caller adds the services its code reaches the key through (sns, ssm, s3, dynamodb, ...).
  key_services = sort(distinct(concat(["lambda", "sqs"], tolist(var.kms_key_services))))
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
  name               = local.role_name
  description        = "Execution role of ${var.name} in ${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = length(local.role_name) <= 64
      error_message = "The role name ${local.role_name} is ${length(local.role_name)} characters; IAM allows 64. Shorten the function name (or the environment suffix)."
    }
  }
}

# Statements scoped to ARNs: the caller's, plus what every function needs.
data "aws_iam_policy_document" "scoped" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The key, only through the services that encrypt for the function: Lambda (its environment), SQS
  # (its failure destination) and those the caller names (kms:ViaService).
  statement {
    sid       = "UseKeyThroughServices"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for service in local.key_services : "${service}.${var.region}.${data.aws_partition.current.dns_suffix}"]
    }
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
      # parliament:skip=RESOURCE_STAR: Lambda creates, assigns and deletes the function's network interfaces at run time in whichever of the subnets it picks; AWS documents these permissions on "*" (AWSLambdaVPCAccessExecutionRole), and DescribeNetworkInterfaces/DescribeSubnets accept nothing else.
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
  name   = local.role_name
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

# --- Throttle alarm ----------------------------------------------------------------------------

# A throttled invocation waits (stream, queue) or is retried (async) rather than failing, so the
# error-rate alarm never sees it: reserved concurrency too low, or the account limit reached.
resource "aws_cloudwatch_metric_alarm" "throttles" {
  alarm_name          = "throttles-${var.name}"
  alarm_description   = "${var.name} was throttled over 5 minutes: raise its reserved concurrency or the account's Lambda concurrency quota (make preflight says which)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
