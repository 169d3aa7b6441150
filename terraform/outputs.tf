output "alert_subscription_queue_url" {
  description = "URL of fraud-alert-events-<suffix>, the SQS subscription of the notifications topic (raw message delivery: each body is the structured alert JSON)."
  value       = module.messaging.alert_subscription_queue_url
}

output "alerts_dlq_url" {
  description = "URL of fraud-alerts-dlq-<suffix>."
  value       = module.messaging.alerts_dlq_url
}

output "alerts_queue_url" {
  description = "URL of fraud-alerts-<suffix>."
  value       = module.messaging.alerts_queue_url
}

output "api_authorization" {
  description = "How POST /transactions authenticates producers: AWS_IAM (sign with SigV4, service execute-api: python -m tools.api_client) or NONE (the API key alone)."
  value       = module.api.authorization
}

output "api_id" {
  description = "Id of the REST API."
  value       = module.api.api_id
}

output "api_invoke_resource_arn" {
  description = "The execute-api ARN of POST /transactions: the Resource of a producer's IAM policy allowing execute-api:Invoke."
  value       = module.api.invoke_resource_arn
}

output "api_key_id" {
  description = "Id of the API key bound to the usage plan."
  value       = module.api.api_key_id
}

output "api_key_value" {
  description = "Value of the API key; send it as the x-api-key header."
  value       = module.api.api_key_value
  sensitive   = true
}

output "api_stage_name" {
  description = "Name of the API stage (the suffix)."
  value       = module.api.stage_name
}

output "api_url" {
  description = "URL clients POST transactions to (<stage URL>/transactions)."
  value       = module.api.transactions_url
}

output "cases_table_name" {
  description = "Name of the cases table, fraud-cases-<suffix> (cases and their audit trails)."
  value       = module.cases.cases_table_name
}

output "console_api_id" {
  description = "Id of the console's REST API."
  value       = module.console.api_id
}

output "console_stage_name" {
  description = "Name of the console's stage (the suffix)."
  value       = module.console.stage_name
}

output "console_url" {
  description = "Base URL of the fraud console (the alert e-mails link to <console_url>/cases/<alert id>)."
  value       = local.console_url
}

output "dashboard_name" {
  description = "Name of the environment's CloudWatch dashboard, fraud-pipeline-<suffix>."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "event_bus_name" {
  description = "Name of the custom event bus fraud-events-<suffix> (used when stream_consumer is eventbridge)."
  value       = module.messaging.event_bus_name
}

output "exports_bucket_name" {
  description = "Name of the exports bucket, exports-<account>-<region>-<suffix>: table exports with their labels, feature tables, job code (docs/training-at-scale.md)."
  value       = module.training.bucket_name
}

output "function_names" {
  description = "Deployed function name by function key."
  value       = { for k, f in module.functions : k => f.function_name }
}

output "hash_key_parameter_name" {
  description = "Name of the HMAC key parameter, /<project>/<suffix>/hash-key-<suffix> (SecureString under the CMK, random, created by Terraform)."
  value       = module.data.hash_key_parameter_name
}

output "kms_key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = module.security.key_arn
}

output "labels_table_name" {
  description = "Name of the labels table, fraud-labels-<suffix> (hash transaction_id, range source): the labels contract, docs/labels.md."
  value       = module.cases.labels_table_name
}

output "lists_table_name" {
  description = "Name of the block and allow lists table, fraud-lists-<suffix>."
  value       = module.cases.lists_table_name
}

output "model_bucket_name" {
  description = "Name of the model bucket, models-<account>-<region>-<suffix> (artifacts as models/<version>.json)."
  value       = module.models.bucket_name
}

output "model_parameter_name" {
  description = "Name of the model pointer parameter, /<project>/<suffix>/model-<suffix> ({\"live\", \"shadow\"})."
  value       = module.models.model_parameter_name
}

output "ops_topic_arn" {
  description = "ARN of the ops topic fraud-ops-<suffix>, where every alarm goes."
  value       = module.messaging.ops_topic_arn
}

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "rules_parameter_name" {
  description = "Name of the rules parameter, /<project>/<suffix>/rules-<suffix>."
  value       = module.data.rules_parameter_name
}

output "shadow_rules_parameter_name" {
  description = "Name of the shadow rules parameter, /<project>/<suffix>/shadow-rules-<suffix> (a rules document, or null)."
  value       = module.data.shadow_rules_parameter_name
}

output "state_table_name" {
  description = "Name of the state table fraud-state-<suffix>."
  value       = module.data.state_table_name
}

output "stream_consumer" {
  description = "How detect-fraud consumes the table stream: eventbridge or direct."
  value       = var.stream_consumer
}

output "suffix" {
  description = "Environment suffix."
  value       = var.suffix
}

output "table_name" {
  description = "Name of the transactions table transactions-<suffix>."
  value       = module.data.table_name
}

output "table_stream_arn" {
  description = "ARN of the transactions table stream."
  value       = module.data.table_stream_arn
}

output "topic_arn" {
  description = "ARN of the notifications topic fraud-notifications-<suffix>."
  value       = module.messaging.topic_arn
}

output "training_emr_application_id" {
  description = "Id of the EMR Serverless application of the training feature job; null unless enable_training_emr."
  value       = module.training.emr_application_id
}

output "training_job_role_arn" {
  description = "ARN of the role the training feature job runs as on EMR Serverless; null unless enable_training_emr."
  value       = module.training.job_role_arn
}

output "training_operator_policy_arn" {
  description = "ARN of the managed policy a data team's role needs for make export and the EMR feature job."
  value       = module.training.operator_policy_arn
}

output "user_pool_client_id" {
  description = "Id of the console's app client in the analysts' user pool."
  value       = module.cases.user_pool_client_id
}

output "user_pool_id" {
  description = "Id of the analysts' user pool (groups analysts and admins)."
  value       = module.cases.user_pool_id
}
