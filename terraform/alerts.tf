# fraud-alerts -> notify-team, in batches, retrying only the alerts that failed.

resource "aws_lambda_event_source_mapping" "alerts" {
  event_source_arn        = module.messaging.alerts_queue_arn
  function_name           = module.functions["notify-team"].function_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  lifecycle {
    precondition {
      condition     = var.alerts_visibility_timeout_seconds >= 6 * local.function_settings["notify-team"].timeout_seconds
      error_message = "alerts_visibility_timeout_seconds (${var.alerts_visibility_timeout_seconds}) must be at least 6 x notify-team's timeout (${local.function_settings["notify-team"].timeout_seconds} s) = ${6 * local.function_settings["notify-team"].timeout_seconds}; raise it or lower functions[\"notify-team\"].timeout_seconds."
    }
  }
}
