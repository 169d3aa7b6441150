# The fraud console's REST API (REGIONAL): every route goes to the console function (AWS_PROXY), and every
# route but sign-in and the static files is checked first by the console's Lambda REQUEST authorizer (the
# Cognito access token in the session cookie; API Gateway's COGNITO_USER_POOLS authorizer reads a header only,
# and the console keeps its token in an HttpOnly cookie). Stage with X-Ray, JSON access logs, error-level
# execution logs, throttling; HTML gateway responses (401 sends the browser to sign in, back to the page it
# asked for); a 5xx alarm. The Lambda permissions live in the root module (they name both sides).

locals {
  api_name        = "fraud-console-${var.suffix}"
  stage_name      = var.suffix
  identity_source = "method.request.header.Cookie" # the session cookie travels in it

  # The routes served without a session: the sign-in page and the static files its pages need. Everything
  # else, "/" and the greedy "/{proxy+}" (every other path), is CUSTOM with the authorizer. Keyed by route, so a
  # plan names each method by what it serves.
  public_methods = {
    "GET /login"         = { resource = "login", method = "GET" }
    "POST /login"        = { resource = "login", method = "POST" }
    "GET /static/{name}" = { resource = "static_file", method = "GET" }
  }
  private_methods = {
    "ANY /"         = { resource = "root", method = "ANY" }
    "ANY /{proxy+}" = { resource = "proxy", method = "ANY" }
  }
  methods = merge(
    { for k, m in local.public_methods : k => merge(m, { authorization = "NONE" }) },
    { for k, m in local.private_methods : k => merge(m, { authorization = "CUSTOM" }) },
  )
  resource_ids = {
    root        = aws_api_gateway_rest_api.this.root_resource_id
    proxy       = aws_api_gateway_resource.proxy.id
    login       = aws_api_gateway_resource.login.id
    static_file = aws_api_gateway_resource.static_file.id
  }

  # As the transaction API's: only $context values API Gateway draws from a fixed alphabet (nothing escapes a quote
  # in a log format). Who did what is in the console function's own log lines (the user of each request).
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    requestTime        = "$context.requestTime"
    sourceIp           = "$context.identity.sourceIp"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    status             = "$context.status"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    authorizerStatus   = "$context.authorizer.status"
    integrationLatency = "$context.integration.latency"
    errorType          = "$context.error.responseType"
    xrayTraceId        = "$context.xrayTraceId"
  })

  # Static HTML, no variable substituted (gateway response templates are not escaped): the 401 page's script
  # (the console's own, same origin) sends the browser to sign in with the page it asked for as next.
  page          = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>%s · Fraud console</title><link rel=\"stylesheet\" href=\"/${local.stage_name}/static/console.css\">%s</head><body><main id=\"main\"><section class=\"card narrow\"><h1>%s</h1><p>%s</p><p>%s</p></section></main></body></html>"
  signin_script = "<script src=\"/${local.stage_name}/static/console.js\" defer></script>"
  gateway_responses = {
    UNAUTHORIZED                   = { status = "401", page = format(local.page, "Sign in", local.signin_script, "Sign in", "You are not signed in, or your session ended.", "<a id=\"signin\" href=\"/${local.stage_name}/login\">Sign in to continue</a>") }
    ACCESS_DENIED                  = { status = "403", page = format(local.page, "Not allowed", "", "Not allowed", "Your account may not open this page: the console is for the analysts and admins groups, and some pages are for admins only.", "<a href=\"/${local.stage_name}/cases\">Back to the queue</a>") }
    AUTHORIZER_FAILURE             = { status = "500", page = format(local.page, "Try again", "", "Try again", "The console could not check your session just now.", "<a href=\"/${local.stage_name}/cases\">Try again</a>") }
    AUTHORIZER_CONFIGURATION_ERROR = { status = "500", page = format(local.page, "Try again", "", "Try again", "The console could not check your session just now.", "<a href=\"/${local.stage_name}/cases\">Try again</a>") }
    THROTTLED                      = { status = "429", page = format(local.page, "Slow down", "", "Slow down", "Too many requests: wait a moment and reload.", "<a href=\"/${local.stage_name}/cases\">Back to the queue</a>") }
    DEFAULT_4XX                    = { status = null, page = format(local.page, "Not found", "", "Not found", "There is no such page.", "<a href=\"/${local.stage_name}/cases\">Back to the queue</a>") }
    DEFAULT_5XX                    = { status = null, page = format(local.page, "Try again", "", "Try again", "The console could not answer just now.", "<a href=\"/${local.stage_name}/cases\">Try again</a>") }
  }
  # Header values are static strings in single quotes. No Content-Security-Policy here: its keywords need
  # single quotes, which a static value cannot hold; these pages carry no variable and load only the console's
  # own files.
  gateway_headers = {
    "gatewayresponse.header.Content-Type"           = "'text/html; charset=utf-8'"
    "gatewayresponse.header.Cache-Control"          = "'no-store'"
    "gatewayresponse.header.X-Content-Type-Options" = "'nosniff'"
    "gatewayresponse.header.X-Frame-Options"        = "'DENY'"
    "gatewayresponse.header.Referrer-Policy"        = "'no-referrer'"
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.api_name
  description = "Fraud console: cases, lists, labels and quality (${var.suffix})"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_resource" "login" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "login"
}

resource "aws_api_gateway_resource" "static" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "static"
}

resource "aws_api_gateway_resource" "static_file" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.static.id
  path_part   = "{name}"
}

resource "aws_api_gateway_authorizer" "session" {
  name                             = "session-${var.suffix}"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  authorizer_uri                   = var.authorizer_invoke_arn
  identity_source                  = local.identity_source
  authorizer_result_ttl_in_seconds = var.authorizer_cache_seconds
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:Sign-in (GET and POST /login) and the static files (GET /static/{name}) are served without a session by design; every other route is CUSTOM with the session authorizer (the plan tests assert both).
  #checkov:skip=CKV2_AWS_53:The console function validates every field it reads (forms and JSON) and answers 400 naming the field; a request model cannot describe HTML forms.
  for_each = local.methods

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.resource_ids[each.value.resource]
  http_method   = each.value.method
  authorization = each.value.authorization
  authorizer_id = each.value.authorization == "CUSTOM" ? aws_api_gateway_authorizer.session.id : null
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.methods

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.this[each.key].resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.console_invoke_arn
}

resource "aws_api_gateway_gateway_response" "html" {
  for_each = local.gateway_responses

  rest_api_id         = aws_api_gateway_rest_api.this.id
  response_type       = each.key
  status_code         = each.value.status
  response_parameters = local.gateway_headers
  # Both keys hold the page: whichever template API Gateway picks for the request, the browser gets HTML.
  response_templates = {
    "application/json" = each.value.page
    "text/html"        = each.value.page
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Fraud console API definition"

  # The configuration, not what the service reads back (it writes JSON and nulls its own way): an unchanged API
  # never redeploys, and a plan right after an apply changes nothing.
  triggers = {
    redeployment = sha1(jsonencode({
      resources  = [for r in [aws_api_gateway_resource.proxy, aws_api_gateway_resource.login, aws_api_gateway_resource.static, aws_api_gateway_resource.static_file] : r.path_part]
      methods    = local.methods
      target     = var.console_invoke_arn
      authorizer = [var.authorizer_invoke_arn, local.identity_source, var.authorizer_cache_seconds]
      errors     = local.gateway_responses
      headers    = local.gateway_headers
    }))
  }

  lifecycle {
    create_before_destroy = true
  }

  # The triggers name the configuration of these, not the resources: deploy only once they exist.
  depends_on = [
    aws_api_gateway_integration.this,
    aws_api_gateway_gateway_response.html,
    aws_api_gateway_authorizer.session,
    aws_api_gateway_resource.static_file,
  ]
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = "/aws/apigateway/${local.api_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${local.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Every page is per user and changes with each decision: responses must never be served from a cache.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is an account-level asset of the platform team; attach it with aws_wafv2_web_acl_association where one exists. The authorizer, throttling and the console's own checks bound abuse here.
  #checkov:skip=CKV2_AWS_51:Analysts authenticate with Cognito over TLS; mutual TLS needs a custom domain and a trust store the platform team provides.
  #checkov:skip=CKV2_AWS_4:Execution logging is OFF: the requests carry the session cookie and analysts' notes, which an execution log line could quote; the JSON access log records every request without them.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = local.stage_name
  description          = "Fraud console, ${var.suffix}"
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Every page is per user and changes with each decision: responses must never be served from a cache.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled = true
    # No execution log, as the transaction API: the requests carry the session cookie and analysts' notes, and
    # an execution log line can quote a request. The access log stays (only $context values of a fixed alphabet).
    logging_level          = "OFF"
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }
}

resource "aws_cloudwatch_metric_alarm" "server_errors" {
  alarm_name          = "api-5xx-${local.api_name}"
  alarm_description   = "More than 1% of ${local.api_name} requests returned a 5xx over 5 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.01
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
