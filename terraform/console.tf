# The fraud team's loop: the cases, labels and lists tables with the analysts' user pool (modules/cases), and the
# console's REST API with its session authorizer (modules/console), in front of the console and
# console-authorizer functions (functions.tf). docs/fraud-team.md.

module "cases" {
  source = "../modules/cases"

  deletion_protection = var.deletion_protection
  kms_key_arn         = module.security.key_arn
  mfa_configuration   = var.console_mfa_configuration
  session_minutes     = var.console_session_minutes
  suffix              = var.suffix
  tags                = local.tags
}

module "console" {
  source = "../modules/console"

  alarm_actions         = [module.messaging.ops_topic_arn]
  authorizer_invoke_arn = module.functions["console-authorizer"].invoke_arn
  console_invoke_arn    = module.functions["console"].invoke_arn
  kms_key_arn           = module.security.key_arn
  log_retention_days    = var.log_retention_days
  region                = var.region
  suffix                = var.suffix
  tags                  = local.tags
}

locals {
  # Where the alert e-mails link to (notify-team's CONSOLE_URL): a custom domain when one is set, else the
  # console stage's execute-api URL. It names the REST API's id only, which exists before any function, so
  # this reference back from the functions to the console API makes no cycle.
  console_url = coalesce(var.console_url, module.console.url)
}

resource "aws_lambda_permission" "console" {
  statement_id  = "AllowApiGatewayConsole"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["console"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${module.console.execution_arn}/*/*"
}

resource "aws_lambda_permission" "console_authorizer" {
  statement_id  = "AllowApiGatewayConsoleAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["console-authorizer"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${module.console.execution_arn}/authorizers/${module.console.authorizer_id}"
}
