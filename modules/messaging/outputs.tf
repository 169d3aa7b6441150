output "alert_subscription_queue_arn" {
  description = "ARN of fraud-alert-events-<suffix>, the SQS subscription of the notifications topic."
  value       = aws_sqs_queue.alert_events.arn
}

output "alert_subscription_queue_url" {
  description = "URL of fraud-alert-events-<suffix>. Raw message delivery is on: each body is the structured alert JSON."
  value       = aws_sqs_queue.alert_events.id
}

output "alerts_dlq_arn" {
  description = "ARN of fraud-alerts-dlq-<suffix>."
  value       = aws_sqs_queue.alerts_dlq.arn
}

output "alerts_dlq_url" {
  description = "URL of fraud-alerts-dlq-<suffix>."
  value       = aws_sqs_queue.alerts_dlq.id
}

output "alerts_queue_arn" {
  description = "ARN of the alerts queue fraud-alerts-<suffix>."
  value       = aws_sqs_queue.alerts.arn
}

output "alerts_queue_name" {
  description = "Name of the alerts queue fraud-alerts-<suffix>."
  value       = aws_sqs_queue.alerts.name
}

output "alerts_queue_url" {
  description = "URL of the alerts queue fraud-alerts-<suffix>."
  value       = aws_sqs_queue.alerts.id
}

output "dead_letter_queue_names" {
  description = "Name of each dead-letter queue, by role (alerts, events, function-failures, stream)."
  value       = { for k, q in local.dead_letter_queues : k => q.name }
}

output "dlq_alarm_names" {
  description = "Depth and age alarm names of each dead-letter queue, by queue role (alerts, events, function-failures, stream)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.dlq_depth : k => [a.alarm_name, aws_cloudwatch_metric_alarm.dlq_age[k].alarm_name] }
}

output "event_bus_arn" {
  description = "ARN of the custom event bus fraud-events-<suffix>."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "event_bus_name" {
  description = "Name of the custom event bus fraud-events-<suffix>."
  value       = aws_cloudwatch_event_bus.this.name
}

output "events_dlq_arn" {
  description = "ARN of fraud-events-dlq-<suffix>, the dead-letter queue of the EventBridge rule targets."
  value       = aws_sqs_queue.dead_letter["events"].arn
}

output "events_dlq_name" {
  description = "Name of fraud-events-dlq-<suffix>."
  value       = aws_sqs_queue.dead_letter["events"].name
}

output "events_dlq_url" {
  description = "URL of fraud-events-dlq-<suffix> (the root attaches its queue policy)."
  value       = aws_sqs_queue.dead_letter["events"].id
}

output "function_failures_queue_arn" {
  description = "ARN of function-failures-<suffix>, the on-failure destination of asynchronous invocations."
  value       = aws_sqs_queue.dead_letter["function-failures"].arn
}

output "ops_topic_arn" {
  description = "ARN of fraud-ops-<suffix>, where every alarm of the stack sends its notifications."
  value       = aws_sns_topic.ops.arn
}

output "ops_topic_name" {
  description = "Name of the ops topic fraud-ops-<suffix>."
  value       = aws_sns_topic.ops.name
}

output "stream_dlq_arn" {
  description = "ARN of fraud-stream-dlq-<suffix>, where the Pipe (or the direct event source mapping) sends stream records it gave up on."
  value       = aws_sqs_queue.dead_letter["stream"].arn
}

output "topic_arn" {
  description = "ARN of the notifications topic fraud-notifications-<suffix>."
  value       = aws_sns_topic.notifications.arn
}

output "topic_name" {
  description = "Name of the notifications topic fraud-notifications-<suffix>."
  value       = aws_sns_topic.notifications.name
}
