# Account bootstrap: what one account and region need once, before any environment deploys, and that
# no environment owns. Today that is API Gateway's CloudWatch Logs role: a stage with access or
# execution logging is rejected ("CloudWatch Logs role ARN must be set in account settings to enable
# logging") until the account's API Gateway settings name a role API Gateway can assume.
#
# `make deploy` checks the setting first (tools/deploy/preflight.py) and applies this root when the
# setting is missing or names a role that no longer exists; `make bootstrap` applies it on its own.
# Its state is per account and region (build/account-<id>-<region>/), so destroying an environment
# never touches it. Destroying it: provider 5.x leaves the setting pointing at the deleted role,
# provider 6.x resets it; either way every REST API of the region loses logging, so do not.

locals {
  tags = {
    Environment = "account"
    Project     = var.project
    CostCenter  = var.cost_center
  }
  # IAM is global, the setting is per region: one role per region.
  role_name = "apigateway-cloudwatch-${var.region}"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "ApiGatewayAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  name               = local.role_name
  description        = "Lets API Gateway write execution and access logs for every REST API of the account in ${var.region}"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

# What AWS's AmazonAPIGatewayPushToCloudWatchLogs grants, scoped to this account's log groups in
# this region (API Gateway creates and writes the groups of every REST API of the account).
data "aws_iam_policy_document" "apigateway_cloudwatch" {
  statement {
    sid    = "WriteApiGatewayLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:FilterLogEvents",
      "logs:GetLogEvents",
      "logs:PutLogEvents",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*",
      "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*:log-stream:*",
    ]
  }

  # API Gateway looks its log groups up before it creates one; the action takes no resource ARN.
  statement {
    #checkov:skip=CKV_AWS_356:logs:DescribeLogGroups supports no resource-level permissions; "*" is the only resource it accepts.
    # parliament:skip=RESOURCE_STAR: logs:DescribeLogGroups supports no resource-level permissions; "*" is the only resource it accepts.
    sid       = "FindLogGroups"
    effect    = "Allow"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "apigateway_cloudwatch" {
  name   = local.role_name
  role   = aws_iam_role.apigateway_cloudwatch.id
  policy = data.aws_iam_policy_document.apigateway_cloudwatch.json
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch.arn

  depends_on = [aws_iam_role_policy.apigateway_cloudwatch]
}
