# analyze-patterns every 5 minutes (var.analysis_schedule_expression) and check-subscriptions every
# hour, on the default bus.

resource "aws_cloudwatch_event_rule" "analysis" {
  name                = "analyze-patterns-${var.suffix}"
  description         = "Runs analyze-patterns over the last window of transactions"
  schedule_expression = var.analysis_schedule_expression
  state               = "ENABLED"
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "analysis" {
  rule      = aws_cloudwatch_event_rule.analysis.name
  target_id = "analyze-patterns"
  arn       = module.functions["analyze-patterns"].function_arn

  # A run that cannot start within a few minutes is superseded by the next one.
  retry_policy {
    maximum_event_age_in_seconds = 240
    maximum_retry_attempts       = 2
  }

  dead_letter_config {
    arn = module.messaging.events_dlq_arn
  }
}

resource "aws_lambda_permission" "analysis" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["analyze-patterns"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.analysis.arn
}

# check-subscriptions every hour: the confirmed e-mail subscribers of the topics that must reach
# people, as metrics (monitoring.tf alarms when a topic has none).
resource "aws_cloudwatch_event_rule" "subscriptions" {
  name                = "check-subscriptions-${var.suffix}"
  description         = "Counts the confirmed e-mail subscribers of the watched topics"
  schedule_expression = "rate(1 hour)"
  state               = "ENABLED"
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "subscriptions" {
  rule      = aws_cloudwatch_event_rule.subscriptions.name
  target_id = "check-subscriptions"
  arn       = module.functions["check-subscriptions"].function_arn

  # A run that cannot start within the hour is superseded by the next one.
  retry_policy {
    maximum_event_age_in_seconds = 3000
    maximum_retry_attempts       = 2
  }

  dead_letter_config {
    arn = module.messaging.events_dlq_arn
  }
}

resource "aws_lambda_permission" "subscriptions" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["check-subscriptions"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.subscriptions.arn
}
