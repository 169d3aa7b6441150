# analyze-patterns every 5 minutes (var.analysis_schedule_expression), on the default bus.

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
