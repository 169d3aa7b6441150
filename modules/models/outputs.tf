output "bucket_arn" {
  description = "ARN of the model bucket (for s3:GetObject grants on <arn>/models/*); known at plan time."
  value       = "arn:${local.partition}:s3:::${aws_s3_bucket.models.bucket}"
}

output "bucket_name" {
  description = "Name of the model bucket, models-<account>-<region>-<suffix>."
  value       = aws_s3_bucket.models.bucket
}

output "default_model_key" {
  description = "Key of the uploaded default model, models/<version>.json; null without model_file."
  value       = local.default_model_key
}

output "model_parameter_arn" {
  description = "ARN of the model pointer parameter (for ssm:GetParameter grants)."
  value       = aws_ssm_parameter.pointer.arn
}

output "model_parameter_name" {
  description = "Name of the model pointer parameter, <parameter_prefix>/model-<suffix>."
  value       = aws_ssm_parameter.pointer.name
}
