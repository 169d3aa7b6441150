output "api_id" {
  description = "Id of the console's REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "authorizer_id" {
  description = "Id of the session authorizer."
  value       = aws_api_gateway_authorizer.session.id
}

output "execution_arn" {
  description = "Execution ARN of the console's REST API (for the Lambda permissions)."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the console's stage (the suffix)."
  value       = local.stage_name
}

output "url" {
  description = "Base URL of the console, https://<api id>.execute-api.<region>.amazonaws.com/<suffix> (known before the stage exists, so the alert e-mails can link to it without a cycle)."
  value       = "https://${aws_api_gateway_rest_api.this.id}.execute-api.${var.region}.amazonaws.com/${local.stage_name}"
}
