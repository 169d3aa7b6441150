# REST API (REGIONAL): POST /transactions, callers authenticated with IAM (SigV4) and limited by a
# resource policy (var.authorization = "AWS_IAM", the default), an API key for metering, the body
# validated against the JSON Schema model before the function runs, AWS_PROXY to
# process-transaction. Stage with X-Ray, JSON access logs, throttling and metrics, execution logging
# off by default; a usage plan with a quota and throttle; JSON error bodies; a 5xx alarm. The Lambda
# permission for API Gateway lives in the root module (it names both sides).
#
# API keys identify a caller to a usage plan; they do not authenticate it (API Gateway developer
# guide, "Usage plans and API keys": "Don't use API keys for authentication or authorization").
# With AWS_IAM, API Gateway authenticates the SigV4 signature first, evaluates the resource policy
# with the caller's IAM policies ("How API Gateway resource policies affect authorization workflow"),
# and only then checks the API key and the usage plan.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  api_name   = "fraud-api-${var.suffix}"
  stage_name = var.suffix

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The one method producers call, as an execute-api resource ARN (stage/METHOD/path).
  invoke_resource_arn = "${aws_api_gateway_rest_api.this.execution_arn}/${local.stage_name}/POST/transactions"
  # Producers: IAM role or user ARNs as given, 12-digit account ids as the account's root (the
  # account, delegating to its own IAM policies); none given means this account.
  invoke_principals         = length(var.invoke_principals) > 0 ? var.invoke_principals : [local.account_id]
  invoke_principal_arns     = [for p in local.invoke_principals : can(regex("^[0-9]{12}$", p)) ? "arn:${local.partition}:iam::${p}:root" : p]
  invoke_principal_patterns = [for p in local.invoke_principals : can(regex("^[0-9]{12}$", p)) ? "arn:${local.partition}:iam::${p}:*" : p]

  # API Gateway substitutes $context variables into the access log format and the gateway response
  # templates verbatim: nothing escapes a double quote or a backslash (gateway response templates are
  # not VTL, so $util.escapeJavaScript does not exist there). Both therefore name only variables whose
  # values API Gateway generates from a fixed alphabet (ids, numbers, enums, IPs, times). Free text
  # (error.message, error.validationErrorString) is left out: the validator's message quotes the
  # offending input, which would also put card data into the log and the response. The request id
  # leads an operator from a 400 to the execution log, which holds the validation detail.
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    sourceIp           = "$context.identity.sourceIp"
    apiKeyId           = "$context.identity.apiKeyId"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    protocol           = "$context.protocol"
    status             = "$context.status"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    errorType          = "$context.error.responseType"
    xrayTraceId        = "$context.xrayTraceId"
  })

  # Every error API Gateway answers itself keeps a JSON body, like the function's own errors: a fixed
  # message per response type, the type (an enum) and the request id. Each type with a fixed status says it:
  # a gateway response without status_code reads back as "" and showed a change on every plan
  # (terraform-provider-aws #48260); DEFAULT_4XX and DEFAULT_5XX keep the status of the error they stand for.
  # Authentication failures too: API Gateway's own messages for them name the caller's ARN, the
  # resource and the signature's times (ACCESS_DENIED, INVALID_SIGNATURE), which a caller that is
  # refused has no need to read back.
  gateway_responses = {
    ACCESS_DENIED                = { status = "403", message = "Forbidden: the signing identity may not post transactions to this API (resource policy or IAM policy)" }
    BAD_REQUEST_BODY             = { status = "400", message = "Invalid request body: send a JSON transaction that matches the Transaction schema" }
    BAD_REQUEST_PARAMETERS       = { status = "400", message = "Invalid request parameters" }
    EXPIRED_TOKEN                = { status = "403", message = "The security token of the signing credentials has expired: refresh the credentials and sign again" }
    INVALID_API_KEY              = { status = "403", message = "Forbidden: send a valid API key in the x-api-key header" }
    INVALID_SIGNATURE            = { status = "403", message = "The request signature is invalid or expired: sign the exact request (SigV4, service execute-api) within 5 minutes of sending it" }
    MISSING_AUTHENTICATION_TOKEN = { status = "403", message = "Missing authentication token, or no such resource: sign the request (SigV4, service execute-api) and POST to /transactions" }
    QUOTA_EXCEEDED               = { status = "429", message = "The API key's request quota is used up for this period" }
    THROTTLED                    = { status = "429", message = "Too many requests: retry with backoff" }
    DEFAULT_4XX                  = { status = null, message = "The request was refused by the API gateway" }
    DEFAULT_5XX                  = { status = null, message = "The API gateway could not process the request" }
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.api_name
  description = "Fraud detection: transaction intake (${var.suffix})"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Who may invoke (with AWS_IAM only: without authentication there is no principal to name, and the
# deny below would refuse everyone). Producers named by var.invoke_principals (roles, users or
# whole accounts) are allowed; every other principal is denied explicitly, whatever its own IAM
# policies say. A caller of this account that is not named still needs nothing more than an IAM
# policy allowing execute-api:Invoke only when its account is named (the default: this account).
data "aws_iam_policy_document" "invoke" {
  statement {
    # parliament:skip=RESOURCE_EFFECTIVELY_STAR: The resource is this API's POST /transactions on its stage; its execution ARN is known only after apply, and parliament's placeholder for execute-api's ARN format is all wildcards.
    sid       = "ProducersPostTransactions"
    effect    = "Allow"
    actions   = ["execute-api:Invoke"]
    resources = [local.invoke_resource_arn]

    principals {
      type        = "AWS"
      identifiers = local.invoke_principal_arns
    }
  }

  statement {
    sid       = "DenyEveryoneElse"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this.execution_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = local.invoke_principal_patterns
    }
  }
}

resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.authorization == "AWS_IAM" ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy      = data.aws_iam_policy_document.invoke.json
}

resource "aws_api_gateway_resource" "transactions" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "transactions"
}

resource "aws_api_gateway_model" "transaction" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "Transaction"
  description  = "A card transaction (JSON Schema draft-04)"
  content_type = "application/json"
  schema       = var.request_schema
}

resource "aws_api_gateway_request_validator" "body" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "body-${var.suffix}"
  validate_request_body       = true
  validate_request_parameters = false
}

resource "aws_api_gateway_method" "post_transactions" {
  #checkov:skip=CKV2_AWS_53:The body is validated by aws_api_gateway_request_validator.body against the Transaction model.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.transactions.id
  http_method          = "POST"
  authorization        = var.authorization
  api_key_required     = true # metering: the usage plan's quota and throttle per producer
  request_validator_id = aws_api_gateway_request_validator.body.id
  # $default covers every other Content-Type: without it a request sent as text/plain (or with no
  # type) would skip validation at the gateway.
  request_models = {
    "application/json" = aws_api_gateway_model.transaction.name
    "$default"         = aws_api_gateway_model.transaction.name
  }
}

resource "aws_api_gateway_integration" "post_transactions" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.transactions.id
  http_method             = aws_api_gateway_method.post_transactions.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.lambda_invoke_arn
}

resource "aws_api_gateway_gateway_response" "json" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  status_code   = each.value.status
  response_templates = {
    "application/json" = jsonencode({
      message    = each.value.message
      type       = "$context.error.responseType"
      request_id = "$context.requestId"
    })
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Transaction intake API definition"

  # A new deployment whenever the definition of the API changes (only what is configured here, not
  # attributes the service computes, so an unchanged API never redeploys).
  triggers = {
    redeployment = sha1(jsonencode({
      path       = aws_api_gateway_resource.transactions.path_part
      model      = var.request_schema
      validator  = [aws_api_gateway_request_validator.body.validate_request_body, aws_api_gateway_request_validator.body.validate_request_parameters]
      method     = [aws_api_gateway_method.post_transactions.api_key_required, aws_api_gateway_method.post_transactions.authorization, aws_api_gateway_method.post_transactions.request_models]
      validation = aws_api_gateway_method.post_transactions.request_validator_id
      target     = [aws_api_gateway_integration.post_transactions.type, aws_api_gateway_integration.post_transactions.uri]
      # The configuration, not what the service reads back (it writes JSON and nulls its own way): an
      # unchanged API never redeploys.
      errors = local.gateway_responses
      # A changed resource policy takes effect only with a new deployment.
      policy = var.authorization == "AWS_IAM" ? data.aws_iam_policy_document.invoke.json : null
    }))
  }

  # The triggers name the configuration of these, not the resources: deploy only once they exist.
  depends_on = [aws_api_gateway_gateway_response.json, aws_api_gateway_model.transaction, aws_api_gateway_rest_api_policy.this]

  lifecycle {
    create_before_destroy = true
  }
}

# --- Account-wide CloudWatch Logs role: moved to terraform/bootstrap -----------------------------

# These lived here behind manage_api_gateway_account. The account-level bootstrap
# (terraform/bootstrap, run by `make deploy`) owns the setting now. Forget them without destroying
# anything: destroying aws_api_gateway_account resets the account's logging role on provider 6.x,
# which would break the access logs of every API in the account. The old role stays in the account,
# and keeps serving, until the bootstrap replaces the setting (README: "Migrating").
removed {
  from = aws_api_gateway_account.this

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role_policy.cloudwatch

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role.cloudwatch

  lifecycle {
    destroy = false
  }
}

# --- Stage -------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = "/aws/apigateway/${local.api_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to this fixed name; creating it first gives it a retention and
# the key instead of an unencrypted group kept forever.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${local.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:POST /transactions is a write; responses must never be served from a cache.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is an account-level asset of the platform team; attach it with aws_wafv2_web_acl_association where one exists. IAM authentication, the resource policy, the usage plan and throttling bound abuse here.
  #checkov:skip=CKV2_AWS_51:Producers authenticate with IAM (SigV4) over TLS, limited by the resource policy; mutual TLS needs a custom domain and a trust store the platform team provides.
  #checkov:skip=CKV2_AWS_4:Execution logging is OFF by default (logging_level): at ERROR or INFO API Gateway may write the request validator's messages, which quote the rejected input (card data); the JSON access log above records every request without them.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = local.stage_name
  description          = "Transaction intake, ${var.suffix}"
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  tags = var.tags

  # Stage logging needs the account's CloudWatch Logs role (terraform/bootstrap, checked by
  # `make preflight`) and the execution log group in place first.
  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:POST /transactions is a write; responses must never be served from a cache.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  # Execution logging (var.logging_level, OFF by default) writes API Gateway's trace of each request
  # to CloudWatch Logs: at INFO a few lines per request (20 M requests a day is tens of GB), and the
  # request validator's messages, which quote the offending input, card numbers included. The access
  # log (above) records every request without either. Full request and response bodies never.
  settings {
    metrics_enabled        = true
    logging_level          = var.logging_level
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }
}

# --- Usage plan and API key --------------------------------------------------------------------

resource "aws_api_gateway_usage_plan" "this" {
  name        = "fraud-api-plan-${var.suffix}"
  description = "Quota and throttle for transaction producers"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  quota_settings {
    limit  = var.quota_limit
    period = var.quota_period
  }

  throttle_settings {
    rate_limit  = var.throttle_rate_limit
    burst_limit = var.throttle_burst_limit
  }

  tags = var.tags
}

resource "aws_api_gateway_api_key" "this" {
  name        = "fraud-api-key-${var.suffix}"
  description = "Transaction producer key"
  enabled     = true
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}

# --- 5xx alarm ---------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "server_errors" {
  alarm_name          = "api-5xx-${local.api_name}"
  alarm_description   = "More than ${var.error_rate_threshold_percent}% of ${local.api_name} requests returned a 5xx over 5 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  # 5XXError's Average is the fraction of requests that failed.
  threshold          = var.error_rate_threshold_percent / 100
  treat_missing_data = "notBreaching"
  alarm_actions      = var.alarm_actions
  ok_actions         = var.alarm_actions
  tags               = var.tags
}
