output "hash_key_parameter_arn" {
  description = "ARN of the HMAC key parameter (for ssm:GetParameter grants)."
  value       = aws_ssm_parameter.hash_key.arn
}

output "hash_key_parameter_name" {
  description = "Name of the HMAC key parameter, <parameter_prefix>/hash-key-<suffix> (SecureString under the key)."
  value       = aws_ssm_parameter.hash_key.name
}

output "rules_parameter_arn" {
  description = "ARN of the rules parameter (for ssm:GetParameter grants)."
  value       = aws_ssm_parameter.rules.arn
}

output "rules_parameter_name" {
  description = "Name of the rules parameter, <parameter_prefix>/rules-<suffix>."
  value       = aws_ssm_parameter.rules.name
}

output "sensitive_parameter_arns" {
  description = "ARN of each SecureString parameter, by sensitive_settings key."
  value       = { for k, p in aws_ssm_parameter.sensitive : k => p.arn }
}

output "shadow_rules_parameter_arn" {
  description = "ARN of the shadow rules parameter (for ssm:GetParameter grants)."
  value       = aws_ssm_parameter.shadow_rules.arn
}

output "shadow_rules_parameter_name" {
  description = "Name of the shadow rules parameter, <parameter_prefix>/shadow-rules-<suffix> (a rules document, or null)."
  value       = aws_ssm_parameter.shadow_rules.name
}

output "state_table_arn" {
  description = "ARN of the state table fraud-state-<suffix>."
  value       = aws_dynamodb_table.state.arn
}

output "state_table_name" {
  description = "Name of the state table fraud-state-<suffix> (hash key id, TTL attribute expiration)."
  value       = aws_dynamodb_table.state.name
}

output "table_arn" {
  description = "ARN of the transactions table."
  value       = aws_dynamodb_table.transactions.arn
}

output "table_name" {
  description = "Name of the transactions table transactions-<suffix>."
  value       = aws_dynamodb_table.transactions.name
}

output "table_stream_arn" {
  description = "ARN of the transactions table's NEW_AND_OLD_IMAGES stream."
  value       = aws_dynamodb_table.transactions.stream_arn
}

output "time_bucket_index_arn" {
  description = "ARN of the time-bucket index (for dynamodb:Query grants)."
  value       = "${aws_dynamodb_table.transactions.arn}/index/${local.time_bucket_index_name}"
}

output "time_bucket_index_name" {
  description = "Name of the index on time_bucket + received_at that analyze-patterns queries, time_bucket-received_at-index."
  value       = local.time_bucket_index_name
}

output "user_index_arn" {
  description = "ARN of the per-user index (for dynamodb:Query grants)."
  value       = "${aws_dynamodb_table.transactions.arn}/index/${local.user_index_name}"
}

output "user_index_name" {
  description = "Name of the index on user_id + timestamp that detect-fraud queries."
  value       = local.user_index_name
}
