output "bucket_arn" {
  description = "ARN of the exports bucket; known at plan time."
  value       = local.bucket_arn
}

output "bucket_name" {
  description = "Name of the exports bucket, exports-<account>-<region>-<suffix> (exports/, features/ and jobs/ prefixes)."
  value       = aws_s3_bucket.exports.bucket
}

output "emr_application_id" {
  description = "Id of the EMR Serverless application of the feature job; null unless enable_emr."
  value       = var.enable_emr ? aws_emrserverless_application.features[0].id : null
}

output "job_role_arn" {
  description = "ARN of the role the feature job runs as on EMR Serverless; null unless enable_emr."
  value       = var.enable_emr ? aws_iam_role.job[0].arn : null
}

output "operator_policy_arn" {
  description = "ARN of the managed policy to attach to the data team's role: export the table, read the exports, submit the feature job."
  value       = aws_iam_policy.operator.arn
}
