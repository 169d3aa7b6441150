output "alarm_name" {
  description = "Name of the error-rate alarm, error-rate-<name>."
  value       = aws_cloudwatch_metric_alarm.error_rate.alarm_name
}

output "function_arn" {
  description = "ARN of the function (for event source mappings, permissions and targets)."
  value       = aws_lambda_function.this.arn
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway uses to invoke the function (AWS_PROXY integrations)."
  value       = aws_lambda_function.this.invoke_arn
}

output "log_group_name" {
  description = "Name of the function's log group, /aws/lambda/<name>."
  value       = aws_cloudwatch_log_group.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role, lambda-<region>-<name>."
  value       = aws_iam_role.this.name
}

output "throttle_alarm_name" {
  description = "Name of the throttle alarm, throttles-<name>."
  value       = aws_cloudwatch_metric_alarm.throttles.alarm_name
}
