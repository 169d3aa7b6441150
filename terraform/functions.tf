# The four functions, one instance of modules/functions each. Sizing defaults live here; an
# environment overrides them through var.functions. Each function's IAM statements name exactly the
# resources it calls (docs/contracts.md lists the calls).

locals {
  function_defaults = {
    process-transaction = {
      handler         = "process_transaction.handler"
      description     = "Validates a transaction from POST /transactions and stores it idempotently"
      memory_mb       = 256
      timeout_seconds = 10
    }
    detect-fraud = {
      handler         = "detect_fraud.handler"
      description     = "Scores each new transaction against the user's history and queues suspicious ones as alerts"
      memory_mb       = 512
      timeout_seconds = 30
    }
    notify-team = {
      handler         = "notify_team.handler"
      description     = "Publishes queued fraud alerts (masked) to the notifications topic"
      memory_mb       = 256
      timeout_seconds = 30
    }
    analyze-patterns = {
      handler         = "analyze_patterns.handler"
      description     = "Looks across the last window of transactions for card testing, spikes and shared devices"
      memory_mb       = 1024
      timeout_seconds = 300
    }
  }

  function_settings = {
    for key, d in local.function_defaults : key => {
      memory_mb            = coalesce(try(var.functions[key].memory_mb, null), d.memory_mb)
      timeout_seconds      = coalesce(try(var.functions[key].timeout_seconds, null), d.timeout_seconds)
      reserved_concurrency = try(var.functions[key].reserved_concurrency, null)
    }
  }

  common_environment = {
    ENVIRONMENT                  = var.suffix
    POWERTOOLS_SERVICE_NAME      = "fraud-detection"
    POWERTOOLS_METRICS_NAMESPACE = "FraudDetection"
    POWERTOOLS_LOG_LEVEL         = "INFO"
  }

  time_bucket_shards      = "4"
  rules_cache_seconds     = "300"
  analysis_window_minutes = "10"

  function_environment = {
    process-transaction = {
      TABLE_NAME         = module.data.table_name
      TIME_BUCKET_SHARDS = local.time_bucket_shards
    }
    detect-fraud = {
      TABLE_NAME           = module.data.table_name
      USER_INDEX_NAME      = module.data.user_index_name
      STATE_TABLE_NAME     = module.data.state_table_name
      ALERTS_QUEUE_URL     = module.messaging.alerts_queue_url
      RULES_PARAMETER_NAME = module.data.rules_parameter_name
      RULES_CACHE_SECONDS  = local.rules_cache_seconds
    }
    notify-team = {
      STATE_TABLE_NAME = module.data.state_table_name
      TOPIC_ARN        = module.messaging.topic_arn
    }
    analyze-patterns = {
      TABLE_NAME              = module.data.table_name
      TIME_BUCKET_INDEX_NAME  = module.data.time_bucket_index_name
      TIME_BUCKET_SHARDS      = local.time_bucket_shards
      STATE_TABLE_NAME        = module.data.state_table_name
      ALERTS_QUEUE_URL        = module.messaging.alerts_queue_url
      RULES_PARAMETER_NAME    = module.data.rules_parameter_name
      RULES_CACHE_SECONDS     = local.rules_cache_seconds
      ANALYSIS_WINDOW_MINUTES = local.analysis_window_minutes
    }
  }

  # Statements shared by several functions.
  use_state_table = {
    sid       = "UseStateTable"
    actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [module.data.state_table_arn]
  }
  read_rules = {
    sid       = "ReadRulesParameter"
    actions   = ["ssm:GetParameter"]
    resources = [module.data.rules_parameter_arn]
  }
  send_alerts = {
    sid       = "SendAlerts"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.alerts_queue_arn]
  }

  function_statements = {
    process-transaction = [
      {
        # TransactWriteItems is authorised per item: two conditional Puts (transaction and claim).
        # GetItem reads the claim of a repeated id (duplicate or conflict).
        sid       = "RecordTransactions"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        resources = [module.data.table_arn]
      },
    ]
    detect-fraud = concat(
      [
        {
          sid       = "QueryUserHistory"
          actions   = ["dynamodb:Query"]
          resources = [module.data.user_index_arn]
        },
        local.use_state_table,
        local.read_rules,
        local.send_alerts,
      ],
      # Direct mode: the event source mapping reads the stream with this role and sends the records
      # it gives up on to the stream dead-letter queue.
      var.stream_consumer == "direct" ? [
        {
          sid       = "ReadTableStream"
          actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
          resources = [module.data.table_stream_arn]
        },
        {
          sid       = "SendStreamFailures"
          actions   = ["sqs:SendMessage"]
          resources = [module.messaging.stream_dlq_arn]
        },
      ] : [],
    )
    notify-team = [
      {
        sid       = "ConsumeAlerts"
        actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        resources = [module.messaging.alerts_queue_arn]
      },
      {
        sid       = "PublishNotifications"
        actions   = ["sns:Publish"]
        resources = [module.messaging.topic_arn]
      },
      local.use_state_table,
    ]
    analyze-patterns = [
      {
        sid       = "QueryTimeBuckets"
        actions   = ["dynamodb:Query"]
        resources = [module.data.time_bucket_index_arn]
      },
      local.use_state_table,
      {
        # The merchant baselines of the previous windows are read in one BatchGetItem.
        sid       = "ReadPatternBaselines"
        actions   = ["dynamodb:BatchGetItem"]
        resources = [module.data.state_table_arn]
      },
      local.read_rules,
      local.send_alerts,
    ]
  }

  vpc_config = var.enable_vpc ? {
    subnet_ids         = module.network[0].private_subnet_ids
    security_group_ids = [module.network[0].security_group_id]
  } : null
}

module "functions" {
  source   = "../modules/functions"
  for_each = local.function_defaults

  name                       = "${each.key}-${var.suffix}"
  description                = each.value.description
  handler                    = each.value.handler
  runtime                    = var.runtime
  architecture               = var.architecture
  filename                   = "${local.artifacts_dir}/${each.key}.zip"
  memory_mb                  = local.function_settings[each.key].memory_mb
  timeout_seconds            = local.function_settings[each.key].timeout_seconds
  reserved_concurrency       = local.function_settings[each.key].reserved_concurrency
  environment                = merge(local.common_environment, local.function_environment[each.key])
  policy_statements          = local.function_statements[each.key]
  kms_key_arn                = module.security.key_arn
  layers                     = var.powertools_layer_arn == null ? [] : [var.powertools_layer_arn]
  vpc_config                 = local.vpc_config
  log_retention_days         = var.log_retention_days
  on_failure_destination_arn = module.messaging.function_failures_queue_arn
  alarm_actions              = [module.messaging.ops_topic_arn]
  tags                       = local.tags
}
