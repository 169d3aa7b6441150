output "access_log_group_name" {
  description = "Name of the stage's JSON access log group."
  value       = aws_cloudwatch_log_group.access.name
}

output "alarm_name" {
  description = "Name of the 5xx alarm."
  value       = aws_cloudwatch_metric_alarm.server_errors.alarm_name
}

output "api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_key_id" {
  description = "Id of the API key bound to the usage plan."
  value       = aws_api_gateway_api_key.this.id
}

output "api_key_value" {
  description = "Value of the API key (send it as the x-api-key header)."
  value       = aws_api_gateway_api_key.this.value
  sensitive   = true
}

output "api_name" {
  description = "Name of the REST API, fraud-api-<suffix>."
  value       = aws_api_gateway_rest_api.this.name
}

output "authorization" {
  description = "How POST /transactions authenticates callers: AWS_IAM (SigV4) or NONE (API key only)."
  value       = aws_api_gateway_method.post_transactions.authorization
}

output "execution_arn" {
  description = "Execution ARN of the REST API, for the Lambda permission's source_arn."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "invoke_resource_arn" {
  description = "The execute-api ARN of POST /transactions on this stage: the Resource of a producer's IAM policy allowing execute-api:Invoke."
  value       = local.invoke_resource_arn
}

output "invoke_url" {
  description = "Base URL of the stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "stage_name" {
  description = "Name of the stage (the environment suffix)."
  value       = aws_api_gateway_stage.this.stage_name
}

output "transactions_url" {
  description = "URL clients POST transactions to."
  value       = "${aws_api_gateway_stage.this.invoke_url}/${aws_api_gateway_resource.transactions.path_part}"
}

output "usage_plan_id" {
  description = "Id of the usage plan."
  value       = aws_api_gateway_usage_plan.this.id
}
