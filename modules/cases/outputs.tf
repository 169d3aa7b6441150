output "cases_status_index_arn" {
  description = "ARN of the cases table's queue index (status-rank-index)."
  value       = "${aws_dynamodb_table.cases.arn}/index/${local.status_index_name}"
}

output "cases_table_arn" {
  description = "ARN of the cases table."
  value       = aws_dynamodb_table.cases.arn
}

output "cases_table_name" {
  description = "Name of the cases table, fraud-cases-<suffix>."
  value       = aws_dynamodb_table.cases.name
}

output "labels_table_arn" {
  description = "ARN of the labels table."
  value       = aws_dynamodb_table.labels.arn
}

output "labels_table_name" {
  description = "Name of the labels table, fraud-labels-<suffix> (hash transaction_id, range source)."
  value       = aws_dynamodb_table.labels.name
}

output "lists_table_arn" {
  description = "ARN of the lists table."
  value       = aws_dynamodb_table.lists.arn
}

output "lists_table_name" {
  description = "Name of the lists table, fraud-lists-<suffix>."
  value       = aws_dynamodb_table.lists.name
}

output "user_pool_arn" {
  description = "ARN of the analysts' user pool."
  value       = aws_cognito_user_pool.analysts.arn
}

output "user_pool_client_id" {
  description = "Id of the console's app client (no secret; USER_PASSWORD_AUTH and refresh)."
  value       = aws_cognito_user_pool_client.console.id
}

output "user_pool_id" {
  description = "Id of the analysts' user pool (groups analysts and admins)."
  value       = aws_cognito_user_pool.analysts.id
}
