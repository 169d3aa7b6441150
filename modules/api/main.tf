# REST API (REGIONAL): POST /transactions, API key required, body validated against the JSON Schema
# model before the function runs, AWS_PROXY to process-transaction. Stage with X-Ray, JSON access
# logs, throttling and metrics; a usage plan with a quota and throttle; JSON error bodies; a 5xx
# alarm. The Lambda permission for API Gateway lives in the root module (it names both sides).

locals {
  api_name   = "fraud-api-${var.suffix}"
  stage_name = var.suffix

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
  # message per response type, the type (an enum) and the request id.
  gateway_responses = {
    BAD_REQUEST_BODY             = { status = "400", message = "Invalid request body: send a JSON transaction that matches the Transaction schema" }
    BAD_REQUEST_PARAMETERS       = { status = "400", message = "Invalid request parameters" }
    INVALID_API_KEY              = { status = null, message = "Forbidden: send a valid API key in the x-api-key header" }
    MISSING_AUTHENTICATION_TOKEN = { status = null, message = "No such resource or method: the API serves POST /transactions" }
    QUOTA_EXCEEDED               = { status = null, message = "The API key's request quota is used up for this period" }
    THROTTLED                    = { status = null, message = "Too many requests: retry with backoff" }
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
  authorization        = "NONE"
  api_key_required     = true
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
      model      = aws_api_gateway_model.transaction.schema
      validator  = [aws_api_gateway_request_validator.body.validate_request_body, aws_api_gateway_request_validator.body.validate_request_parameters]
      method     = [aws_api_gateway_method.post_transactions.api_key_required, aws_api_gateway_method.post_transactions.authorization, aws_api_gateway_method.post_transactions.request_models]
      validation = aws_api_gateway_method.post_transactions.request_validator_id
      target     = [aws_api_gateway_integration.post_transactions.type, aws_api_gateway_integration.post_transactions.uri]
      errors     = { for k, r in aws_api_gateway_gateway_response.json : k => [r.status_code, r.response_templates] }
    }))
  }

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
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is an account-level asset of the platform team; attach it with aws_wafv2_web_acl_association where one exists. API keys, the usage plan and throttling bound abuse here.
  #checkov:skip=CKV2_AWS_51:Clients authenticate with API keys over TLS; mutual TLS needs a custom domain and a trust store the platform team provides.
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

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
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
