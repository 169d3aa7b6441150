# POST /transactions -> process-transaction.

module "api" {
  source = "../modules/api"

  alarm_actions        = [module.messaging.ops_topic_arn]
  authorization        = var.api_authorization
  invoke_principals    = var.api_invoke_principals
  kms_key_arn          = module.security.key_arn
  lambda_invoke_arn    = module.functions["process-transaction"].invoke_arn
  log_retention_days   = var.log_retention_days
  logging_level        = var.api_logging_level
  quota_limit          = var.api_quota_limit
  quota_period         = var.api_quota_period
  request_schema       = local.request_schema
  suffix               = var.suffix
  tags                 = local.tags
  throttle_burst_limit = var.api_throttle_burst_limit
  throttle_rate_limit  = var.api_throttle_rate_limit
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGatewayPostTransactions"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["process-transaction"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${module.api.execution_arn}/*/POST/transactions"
}
