# What the pipeline reports about itself (EMF metrics, namespace FraudDetection, dimension
# service=fraud-detection: docs/configuration.md), the alarms on the ones that mean "scoring is not
# what you configured", and one dashboard per environment that shows the whole pipeline at a glance.
# The alarms on AWS's own metrics live beside what they watch (modules/functions, modules/messaging,
# modules/api, stream.tf).

locals {
  metrics_namespace = local.common_environment.POWERTOOLS_METRICS_NAMESPACE
  metrics_dimension = { service = local.common_environment.POWERTOOLS_SERVICE_NAME }

  # Sum > 0 over 5 minutes -> the ops topic.
  fallback_alarms = {
    RulesFallback    = "A function scored with a rules configuration other than the latest document (the document is invalid, not JSON or unreadable: the last valid one is used). Fix the rules parameter (make rules); the function logs say what is wrong."
    ModelFallback    = "detect-fraud could not use the live model (missing, corrupt or incompatible artifact): it kept its last good model or scored with the rules alone. Check the model pointer (make model)."
    ModelUnavailable = "detect-fraud could not read the live model it is configured with (S3 timed out, throttled or failed) in a sandbox that had none loaded: those records failed and are retried, then kept in the failure queues (make replay). Check S3 and, with the VPC, its gateway endpoint."
  }

  dashboard_name = "fraud-pipeline-${var.suffix}"
  api_dimensions = ["ApiName", module.api.api_name, "Stage", module.api.stage_name]
  function_names = { for key, f in module.functions : key => f.function_name }
  dead_letters   = module.messaging.dead_letter_queue_names

  app_metric = { for name in ["Created", "Duplicate", "Conflict", "Rejected", "Scored", "Suspicious", "Alerts", "PatternAlerts", "Published", "RulesFallback", "ModelFallback", "ModelUnavailable", "ShadowDisagreements"] :
    name => [local.metrics_namespace, name, "service", local.metrics_dimension.service]
  }

  # The routings' widgets differ in shape, so one is picked by index (a conditional needs one type).
  stream_widget = [{
    title = "Stream -> detect-fraud (Pipe ${local.pipe_name}, rule transaction-inserted)"
    metrics = [
      ["AWS/EventBridge/Pipes", "EventCount", "PipeName", local.pipe_name, { stat = "Sum", label = "records piped" }],
      ["AWS/EventBridge/Pipes", "ExecutionFailed", "PipeName", local.pipe_name, { stat = "Sum" }],
      ["AWS/EventBridge/Pipes", "TargetStageFailed", "PipeName", local.pipe_name, { stat = "Sum" }],
      ["AWS/Events", "Invocations", "EventBusName", module.messaging.event_bus_name, "RuleName", "transaction-inserted-${var.suffix}", { stat = "Sum", label = "rule invocations" }],
      ["AWS/Events", "FailedInvocations", "EventBusName", module.messaging.event_bus_name, "RuleName", "transaction-inserted-${var.suffix}", { stat = "Sum", label = "rule failed invocations" }],
    ]
    }, {
    title = "Stream lag: detect-fraud iterator age (ms)"
    metrics = [
      ["AWS/Lambda", "IteratorAge", "FunctionName", local.function_names["detect-fraud"], { stat = "Maximum", label = "iterator age (max)" }],
    ]
  }][local.use_pipe ? 0 : 1]

  widgets = [
    {
      title   = "API requests and errors"
      metrics = [for name in ["Count", "4XXError", "5XXError"] : concat(["AWS/ApiGateway", name], local.api_dimensions, [{ stat = "Sum" }])]
    },
    {
      title = "API latency (ms)"
      metrics = [
        concat(["AWS/ApiGateway", "Latency"], local.api_dimensions, [{ stat = "p50" }]),
        concat(["AWS/ApiGateway", "Latency"], local.api_dimensions, [{ stat = "p99" }]),
        concat(["AWS/ApiGateway", "IntegrationLatency"], local.api_dimensions, [{ stat = "p99" }]),
      ]
    },
    {
      title   = "Transactions: stored, duplicates, conflicts, rejected"
      metrics = [for name in ["Created", "Duplicate", "Conflict", "Rejected"] : concat(local.app_metric[name], [{ stat = "Sum" }])]
    },
    {
      title   = "Scored, suspicious, alerted, published"
      metrics = [for name in ["Scored", "Suspicious", "Alerts", "PatternAlerts", "Published"] : concat(local.app_metric[name], [{ stat = "Sum" }])]
    },
    local.stream_widget,
    {
      title = "Alerts queue: depth and age of the oldest alert (s)"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", module.messaging.alerts_queue_name, { stat = "Maximum", label = "visible" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", module.messaging.alerts_queue_name, { stat = "Maximum", label = "in flight" }],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", module.messaging.alerts_queue_name, { stat = "Maximum", label = "oldest (s)", yAxis = "right" }],
      ]
    },
    {
      title   = "Dead-letter queues: messages waiting"
      metrics = [for role, name in local.dead_letters : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name, { stat = "Maximum", label = role }]]
    },
    {
      title   = "Function errors"
      metrics = [for key, name in local.function_names : ["AWS/Lambda", "Errors", "FunctionName", name, { stat = "Sum", label = key }]]
    },
    {
      title   = "Function throttles"
      metrics = [for key, name in local.function_names : ["AWS/Lambda", "Throttles", "FunctionName", name, { stat = "Sum", label = key }]]
    },
    {
      title   = "Configuration fallbacks and shadow disagreements"
      metrics = [for name in ["RulesFallback", "ModelFallback", "ModelUnavailable", "ShadowDisagreements"] : concat(local.app_metric[name], [{ stat = "Sum" }])]
    },
  ]

  # Only where an address is subscribed (a widget must show at least one metric).
  subscription_widgets = length(local.watched_topic_arns) == 0 ? [] : [{
    title = "E-mail subscribers of the topics that must reach people (confirmed, pending)"
    metrics = concat(
      [for name in keys(local.watched_topic_arns) : [local.metrics_namespace, "ConfirmedEmailSubscriptions", "service", local.metrics_dimension.service, "TopicName", name, { stat = "Minimum", label = "${name} confirmed" }]],
      [for name in keys(local.watched_topic_arns) : [local.metrics_namespace, "PendingEmailSubscriptions", "service", local.metrics_dimension.service, "TopicName", name, { stat = "Maximum", label = "${name} pending" }]],
    )
  }]
}

resource "aws_cloudwatch_metric_alarm" "fallback" {
  for_each = local.fallback_alarms

  alarm_name          = "${lower(replace(each.key, "Fallback", "-fallback"))}-${var.suffix}"
  alarm_description   = each.value
  namespace           = local.metrics_namespace
  metric_name         = each.key
  dimensions          = local.metrics_dimension
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.messaging.ops_topic_arn]
  ok_actions          = [module.messaging.ops_topic_arn]
  tags                = local.tags
}

# A topic that must reach people with no confirmed e-mail subscriber (check-subscriptions counts them
# every hour): fraud alerts or alarms are being delivered to no one by e-mail. Missing data breaches
# too: a check that stopped running proves nothing. The alarm goes to the ops topic like every other
# (when the ops topic itself has no one, its state still shows on the console, the dashboard and in
# `make subscriptions`).
resource "aws_cloudwatch_metric_alarm" "no_confirmed_subscriber" {
  for_each = local.watched_topic_arns

  alarm_name          = "no-confirmed-subscriber-${each.key}"
  alarm_description   = "${each.key} has no confirmed e-mail subscriber: SNS delivers its messages to no one by e-mail. Run `make subscriptions ENV=${var.suffix}` and confirm the pending subscription with `make confirm-subscription ENV=${var.suffix} LINK='<the link in the confirmation e-mail>'`."
  namespace           = local.metrics_namespace
  metric_name         = "ConfirmedEmailSubscriptions"
  dimensions          = merge(local.metrics_dimension, { TopicName = each.key })
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [module.messaging.ops_topic_arn]
  ok_actions          = [module.messaging.ops_topic_arn]
  tags                = local.tags
}

# Two widgets per row, in the order above: requests in, work done, what waits, what failed.
resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = local.dashboard_name

  dashboard_body = jsonencode({
    widgets = [
      for index, widget in concat(local.widgets, local.subscription_widgets) : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = widget.metrics
        }
      }
    ]
  })
}
