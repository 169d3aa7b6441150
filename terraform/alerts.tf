# fraud-alerts -> notify-team, in batches, retrying only the alerts that failed.

locals {
  # With reserved concurrency, the SQS poller must not scale past it: a throttled batch goes back to
  # the queue and each of its receives counts towards max_receive_count, so a burst would move
  # unprocessed alerts to the dead-letter queue. Maximum concurrency (2 to 1000) caps the poller
  # instead; below 2 there is nothing to cap (0 disables the function, 1 cannot be expressed).
  notify_reserved_concurrency = local.function_settings["notify-team"].reserved_concurrency
  alerts_maximum_concurrency  = try(local.notify_reserved_concurrency >= 2, false) ? min(local.notify_reserved_concurrency, 1000) : null
}

resource "aws_lambda_event_source_mapping" "alerts" {
  event_source_arn        = module.messaging.alerts_queue_arn
  function_name           = module.functions["notify-team"].function_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = local.alerts_maximum_concurrency == null ? [] : [local.alerts_maximum_concurrency]

    content {
      maximum_concurrency = scaling_config.value
    }
  }

  lifecycle {
    precondition {
      condition     = var.alerts_visibility_timeout_seconds >= 6 * local.function_settings["notify-team"].timeout_seconds
      error_message = "alerts_visibility_timeout_seconds (${var.alerts_visibility_timeout_seconds}) must be at least 6 x notify-team's timeout (${local.function_settings["notify-team"].timeout_seconds} s) = ${6 * local.function_settings["notify-team"].timeout_seconds}; raise it or lower functions[\"notify-team\"].timeout_seconds."
    }
  }
}
