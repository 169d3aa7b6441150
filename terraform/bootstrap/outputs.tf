output "cloudwatch_role_arn" {
  description = "ARN of the role API Gateway writes logs with, apigateway-cloudwatch-<region>."
  value       = aws_iam_role.apigateway_cloudwatch.arn
}

output "region" {
  description = "The region whose API Gateway account settings name the role."
  value       = var.region
}
