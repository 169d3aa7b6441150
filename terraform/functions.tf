# The functions, one instance of modules/functions each, from the catalog in lambdas/functions.json
# (handler, description, default sizing); an environment overrides sizing through var.functions. Each function's IAM statements name exactly the
# resources it calls (docs/contracts.md lists the calls).

locals {
  # The functions themselves (handler module, description, default sizing) are declared once, in
  # lambdas/functions.json, which tools/deploy/package.py reads too.
  function_catalog = jsondecode(file("${local.repo_root}/lambdas/functions.json"))

  function_settings = {
    for key, d in local.function_catalog : key => {
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

  # Powertools comes from its public layer, the ARN of exactly var.powertools_release for the runtime
  # and architecture (AWS publishes one parameter per release; never `latest`).
  powertools_layer_parameter = var.powertools_release == null ? null : "/aws/service/powertools/python/${var.architecture}/${var.runtime}/${var.powertools_release}"

  # The topics that must reach people: those an address is subscribed to (alert_email, ops_email).
  # check-subscriptions counts their confirmed e-mail subscribers; monitoring.tf alarms on the count.
  watched_topic_arns = merge(
    var.alert_email == null ? {} : { (module.messaging.topic_name) = module.messaging.topic_arn },
    var.ops_email == null ? {} : { (module.messaging.ops_topic_name) = module.messaging.ops_topic_arn },
  )

  time_bucket_shards      = tostring(var.time_bucket_shards)
  rules_cache_seconds     = "300"
  analysis_window_minutes = "10"

  # Statements shared by several functions.
  use_state_table = {
    sid       = "UseStateTable"
    actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [module.data.state_table_arn]
  }
  # A function reads its documents together (GetParameters, lambdas/handler_kit.py DocumentGroup), one at a
  # time elsewhere; GetParameterHistory: a sandbox that finds the latest version unusable falls back to the
  # newest valid one (CachedDocument).
  read_rules = {
    sid       = "ReadRulesParameter"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"]
    resources = [module.data.rules_parameter_arn]
  }
  # The SecureString is decrypted by SSM with the key (kms:ViaService ssm, see key_services).
  read_hash_key = {
    sid       = "ReadHashKey"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = [module.data.hash_key_parameter_arn]
  }
  send_alerts = {
    sid       = "SendAlerts"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.alerts_queue_arn]
  }

  # What each function needs beyond its catalog entry: its environment, the IAM statements of the
  # calls it makes (one per purpose) and the services it reaches the key through besides Lambda and
  # SQS (modules/functions always adds those two). A check below makes the keys match the catalog.
  function_wiring = {
    process-transaction = {
      environment = {
        TABLE_NAME                 = module.data.table_name
        TIME_BUCKET_SHARDS         = local.time_bucket_shards
        TRANSACTION_RETENTION_DAYS = tostring(var.transaction_retention_days)
      }
      key_services = ["dynamodb"]
      statements = [
        {
          # TransactWriteItems is authorised per item: three Puts (transaction and claim, both conditional,
          # and the transaction's entry in its user's recent activity; lambdas/fraud/storage.py). GetItem reads
          # the claim of a repeated id (duplicate or conflict).
          sid       = "RecordTransactions"
          actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
          resources = [module.data.table_arn]
        },
      ]
    }
    detect-fraud = {
      environment = {
        TABLE_NAME                  = module.data.table_name
        USER_INDEX_NAME             = module.data.user_index_name
        STATE_TABLE_NAME            = module.data.state_table_name
        ALERTS_QUEUE_URL            = module.messaging.alerts_queue_url
        RULES_PARAMETER_NAME        = module.data.rules_parameter_name
        RULES_CACHE_SECONDS         = local.rules_cache_seconds
        SHADOW_RULES_PARAMETER_NAME = module.data.shadow_rules_parameter_name
        MODEL_PARAMETER_NAME        = module.models.model_parameter_name
        MODEL_BUCKET                = module.models.bucket_name
        LISTS_TABLE_NAME            = module.cases.lists_table_name
        LISTS_CACHE_SECONDS         = tostring(var.lists_cache_seconds)
      }
      key_services = ["dynamodb", "s3"]
      statements = concat(
        [
          {
            sid       = "QueryUserHistory"
            actions   = ["dynamodb:Query"]
            resources = [module.data.user_index_arn]
          },
          {
            # The users' recent-activity entries, read strongly consistently from the table itself: only
            # their partitions (keys "recent#<user_id>"), never a transaction by id.
            sid       = "QueryRecentActivity"
            actions   = ["dynamodb:Query"]
            resources = [module.data.table_arn]
            conditions = [{
              test     = "ForAllValues:StringLike"
              variable = "dynamodb:LeadingKeys"
              values   = ["recent#*"]
            }]
          },
          local.use_state_table,
          local.read_rules,
          {
            # The model pointer and the shadow rules document (both String parameters).
            sid       = "ReadModelPointerAndShadowRules"
            actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"]
            resources = [module.models.model_parameter_arn, module.data.shadow_rules_parameter_arn]
          },
          {
            # Model artifacts only (SSE-KMS: decrypted through S3, see key_services).
            sid       = "ReadModelArtifacts"
            actions   = ["s3:GetObject"]
            resources = ["${module.models.bucket_arn}/models/*"]
          },
          {
            # The block and allow lists: the version counter (GetItem, every LISTS_CACHE_SECONDS) and the
            # entries (Scan, when the version changed).
            sid       = "ReadLists"
            actions   = ["dynamodb:GetItem", "dynamodb:Scan"]
            resources = [module.cases.lists_table_arn]
          },
          local.send_alerts,
        ],
        # Direct mode: the event source mapping reads the stream with this role and sends the records
        # it gives up on to the stream dead-letter queue. (dynamodb:ListStreams is not here: it
        # accepts only Resource "*", and the mapping names its stream.)
        var.stream_consumer == "direct" ? [
          {
            sid       = "ReadTableStream"
            actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
            resources = [module.data.table_stream_arn]
          },
          {
            sid       = "SendStreamFailures"
            actions   = ["sqs:SendMessage"]
            resources = [module.messaging.stream_dlq_arn]
          },
        ] : [],
      )
    }
    notify-team = {
      environment = {
        STATE_TABLE_NAME = module.data.state_table_name
        TOPIC_ARN        = module.messaging.topic_arn
        CASES_TABLE_NAME = module.cases.cases_table_name
        CONSOLE_URL      = local.console_url
      }
      key_services = ["dynamodb", "sns"]
      statements = [
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
        {
          # Every alert opens its case: the case and its "opened" event, two conditional Puts in one
          # TransactWriteItems (authorised per item).
          sid       = "OpenCases"
          actions   = ["dynamodb:PutItem"]
          resources = [module.cases.cases_table_arn]
        },
        local.use_state_table,
      ]
    }
    check-subscriptions = {
      environment = {
        WATCHED_TOPIC_ARNS = join(",", values(local.watched_topic_arns))
      }
      key_services = []
      statements = length(local.watched_topic_arns) == 0 ? [] : [
        {
          # Counts only: a pending subscription is listed as "PendingConfirmation".
          sid       = "ListWatchedTopicSubscriptions"
          actions   = ["sns:ListSubscriptionsByTopic"]
          resources = values(local.watched_topic_arns)
        },
      ]
    }
    analyze-patterns = {
      environment = {
        TABLE_NAME              = module.data.table_name
        TIME_BUCKET_INDEX_NAME  = module.data.time_bucket_index_name
        TIME_BUCKET_SHARDS      = local.time_bucket_shards
        STATE_TABLE_NAME        = module.data.state_table_name
        ALERTS_QUEUE_URL        = module.messaging.alerts_queue_url
        RULES_PARAMETER_NAME    = module.data.rules_parameter_name
        RULES_CACHE_SECONDS     = local.rules_cache_seconds
        ANALYSIS_WINDOW_MINUTES = local.analysis_window_minutes
        HASH_KEY_PARAMETER_NAME = module.data.hash_key_parameter_name
      }
      key_services = ["dynamodb", "ssm"]
      statements = [
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
        local.read_hash_key,
        local.send_alerts,
      ]
    }
    console = {
      environment = {
        CASES_TABLE_NAME    = module.cases.cases_table_name
        LABELS_TABLE_NAME   = module.cases.labels_table_name
        LISTS_TABLE_NAME    = module.cases.lists_table_name
        TABLE_NAME          = module.data.table_name
        USER_INDEX_NAME     = module.data.user_index_name
        USER_POOL_CLIENT_ID = module.cases.user_pool_client_id
      }
      key_services = ["dynamodb"]
      # Sign-in (InitiateAuth, RespondToAuthChallenge), sign-out (GlobalSignOut) and MFA set-up are Cognito calls
      # authorised by the user's credentials or tokens, not by this role: no statement for them.
      statements = [
        {
          # Read a case and its trail (Query), open, assign, comment, decide (TransactWriteItems: Update of the
          # case, Puts of events, ConditionChecks), the reveal settings (GetItem, PutItem), which cases exist
          # (BatchGetItem, for the quality page).
          sid       = "WorkCases"
          actions   = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
          resources = [module.cases.cases_table_arn]
        },
        {
          sid       = "ReadCaseQueue"
          actions   = ["dynamodb:Query"]
          resources = [module.cases.cases_status_index_arn]
        },
        {
          # A decision writes the analyst label (PutItem, in the decision's transaction); the quality page
          # reads every label (Scan).
          sid       = "WriteAndReadLabels"
          actions   = ["dynamodb:PutItem", "dynamodb:Scan"]
          resources = [module.cases.labels_table_arn]
        },
        {
          # Entries and the version counter: a change is one TransactWriteItems (Put or Delete of the entry,
          # Update of the counter); the page reads them (Scan, GetItem).
          sid       = "EditLists"
          actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
          resources = [module.cases.lists_table_arn]
        },
        {
          # A case's transaction by id (to reveal or block one of its identifiers, the week of a chargeback's
          # transaction) and the user's recent transactions.
          sid       = "ReadTransactions"
          actions   = ["dynamodb:Query"]
          resources = [module.data.table_arn, module.data.user_index_arn]
        },
      ]
    }
    console-authorizer = {
      environment = {
        USER_POOL_ID        = module.cases.user_pool_id
        USER_POOL_CLIENT_ID = module.cases.user_pool_client_id
      }
      # It reads the user pool's public key set over HTTPS (jwks.json), which needs no permission.
      key_services = []
      statements   = []
    }
  }

  vpc_config = var.enable_vpc ? {
    subnet_ids         = module.network[0].private_subnet_ids
    security_group_ids = [module.network[0].security_group_id]
  } : null
}

data "aws_ssm_parameter" "powertools_layer" {
  count = local.powertools_layer_parameter == null ? 0 : 1

  name = local.powertools_layer_parameter
}

module "functions" {
  source   = "../modules/functions"
  for_each = local.function_catalog

  name                       = "${each.key}-${var.suffix}"
  description                = each.value.description
  handler                    = "${each.value.module}.handler"
  runtime                    = var.runtime
  architecture               = var.architecture
  filename                   = "${local.artifacts_dir}/${each.key}.zip"
  memory_mb                  = local.function_settings[each.key].memory_mb
  timeout_seconds            = local.function_settings[each.key].timeout_seconds
  reserved_concurrency       = local.function_settings[each.key].reserved_concurrency
  environment                = merge(local.common_environment, local.function_wiring[each.key].environment)
  policy_statements          = local.function_wiring[each.key].statements
  kms_key_arn                = module.security.key_arn
  kms_key_services           = local.function_wiring[each.key].key_services
  layers                     = [for layer in data.aws_ssm_parameter.powertools_layer : layer.insecure_value]
  region                     = var.region
  vpc_config                 = local.vpc_config
  log_retention_days         = var.log_retention_days
  on_failure_destination_arn = module.messaging.function_failures_queue_arn
  alarm_actions              = [module.messaging.ops_topic_arn]
  tags                       = local.tags
}

# A function in the catalog without wiring (or wiring for a function that does not exist) is a mistake
# in this file, caught at plan time with the key named.
check "function_wiring_matches_catalog" {
  assert {
    condition     = toset(keys(local.function_wiring)) == toset(keys(local.function_catalog))
    error_message = "terraform/functions.tf local.function_wiring must have exactly the keys of lambdas/functions.json (${join(", ", sort(keys(local.function_catalog)))})."
  }
}
