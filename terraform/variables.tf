variable "alert_email" {
  description = "Email address subscribed to the fraud notifications topic (fraud alerts); null subscribes none. The recipient must confirm the subscription mail. make plan|deploy ALERT_EMAIL=... sets it; staging and prod refuse to deploy without it."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address such as \"fraud-team@example.com\", or null for no email subscription."
  }
}

variable "alerts_visibility_timeout_seconds" {
  description = "Visibility timeout of fraud-alerts-<suffix>; must be at least 6 times notify-team's timeout (checked at plan time)."
  type        = number
  default     = 360
  nullable    = false

  validation {
    condition     = var.alerts_visibility_timeout_seconds >= 0 && var.alerts_visibility_timeout_seconds <= 43200 && floor(var.alerts_visibility_timeout_seconds) == var.alerts_visibility_timeout_seconds
    error_message = "alerts_visibility_timeout_seconds must be a whole number of seconds from 0 to 43200, e.g. 360."
  }
}

variable "analysis_schedule_expression" {
  description = "When analyze-patterns runs: an EventBridge rate() or cron() expression."
  type        = string
  default     = "rate(5 minutes)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.analysis_schedule_expression))
    error_message = "analysis_schedule_expression must be a rate() or cron() expression, e.g. \"rate(5 minutes)\" or \"cron(0/5 * * * ? *)\"."
  }
}

variable "api_authorization" {
  description = "How POST /transactions authenticates producers: \"AWS_IAM\" (the default: SigV4-signed requests, limited by the API's resource policy to api_invoke_principals) or \"NONE\" (the API key alone, which meters a caller but authenticates nobody; the dev and local profiles). python -m tools.api_client signs."
  type        = string
  default     = "AWS_IAM"
  nullable    = false

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.api_authorization)
    error_message = "api_authorization must be \"AWS_IAM\" (signed requests) or \"NONE\" (API key only, development)."
  }
}

variable "api_invoke_principals" {
  description = "With api_authorization = \"AWS_IAM\": who may post transactions, as IAM role or user ARNs (e.g. the payment backend's role, which then needs no IAM policy of its own for the API) or 12-digit account ids (any principal of that account whose IAM policies allow execute-api:Invoke on the api_invoke_resource_arn output). The resource policy denies everyone else. Empty (the default): this account. Roles must exist before the deploy (API Gateway refuses a policy that names an unknown principal)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.api_invoke_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+)$", p))])
    error_message = "api_invoke_principals must hold IAM role or user ARNs (arn:aws:iam::123456789012:role/payment-backend) or 12-digit account ids."
  }
}

variable "api_logging_level" {
  description = "Execution logging of the API stage: \"OFF\" (the default), \"ERROR\" or \"INFO\". INFO writes several lines per request (tens of GB a day at 20 M requests) and the request validator's messages, which quote the rejected input (card data): for debugging a development environment only. The JSON access log is always on."
  type        = string
  default     = "OFF"
  nullable    = false

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_logging_level)
    error_message = "api_logging_level must be \"OFF\", \"ERROR\" or \"INFO\"."
  }
}

variable "api_quota_limit" {
  description = "Requests one API key may make per api_quota_period."
  type        = number
  default     = 5000000
  nullable    = false

  validation {
    condition     = var.api_quota_limit >= 1 && floor(var.api_quota_limit) == var.api_quota_limit
    error_message = "api_quota_limit must be a whole number of requests >= 1, e.g. 5000000."
  }
}

variable "api_quota_period" {
  description = "Period of the API usage-plan quota: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"
  nullable    = false

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.api_quota_period)
    error_message = "api_quota_period must be \"DAY\", \"WEEK\" or \"MONTH\"."
  }
}

variable "api_throttle_burst_limit" {
  description = "API stage and usage-plan burst limit (requests)."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.api_throttle_burst_limit >= 1 && floor(var.api_throttle_burst_limit) == var.api_throttle_burst_limit
    error_message = "api_throttle_burst_limit must be a whole number of requests >= 1, e.g. 1000."
  }
}

variable "api_throttle_rate_limit" {
  description = "API stage and usage-plan steady-state rate (requests per second)."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.api_throttle_rate_limit > 0
    error_message = "api_throttle_rate_limit must be a positive number of requests per second, e.g. 1000."
  }
}

variable "architecture" {
  description = "Instruction set of every function: arm64 (the default) or x86_64. The Powertools layer follows it."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "artifacts_dir" {
  description = "Directory holding <function key>.zip for each function (built by `make package`); relative paths are relative to this root module."
  type        = string
  default     = "../build/dist"
  nullable    = false

  validation {
    condition     = length(trimspace(var.artifacts_dir)) > 0
    error_message = "artifacts_dir must be a directory path such as \"../build/dist\"."
  }
}

variable "console_mfa_configuration" {
  description = "MFA of the analysts' user pool: OPTIONAL (each analyst may turn on an authenticator app in the console) or ON (required; the first sign-in sets it up)."
  type        = string
  default     = "OPTIONAL"
  nullable    = false

  validation {
    condition     = contains(["OPTIONAL", "ON"], var.console_mfa_configuration)
    error_message = "console_mfa_configuration must be \"OPTIONAL\" or \"ON\"."
  }
}

variable "console_session_minutes" {
  description = "Lifetime of a console session's access token in minutes (5-60); the sign-in itself lasts 12 hours through the refresh token."
  type        = number
  default     = 15
  nullable    = false

  validation {
    condition     = var.console_session_minutes >= 5 && var.console_session_minutes <= 60 && floor(var.console_session_minutes) == var.console_session_minutes
    error_message = "console_session_minutes must be a whole number from 5 to 60."
  }
}

variable "console_url" {
  description = "Base URL the alert e-mails link cases under (a custom domain of the console, e.g. https://fraud.example.com); null: the console stage's execute-api URL."
  type        = string
  default     = null

  validation {
    condition     = var.console_url == null || can(regex("^https://[^/\\s]+(/[^\\s]*)?[^/]$", var.console_url))
    error_message = "console_url must be an https:// URL without a trailing slash, e.g. https://fraud.example.com, or null."
  }
}

variable "cost_center" {
  description = "Value of the CostCenter tag on every resource."
  type        = string
  default     = "fraud-platform"
  nullable    = false

  validation {
    condition     = length(var.cost_center) >= 1 && length(var.cost_center) <= 256
    error_message = "cost_center must be 1-256 characters, e.g. \"fraud-platform\"."
  }
}

variable "deletion_protection" {
  description = "Keep the environment's data through a destroy: deletion protection on both tables, and the model bucket is not force-destroyed (a destroy fails while it holds artifact versions). On by default; the dev and local profiles turn it off. To really destroy a protected environment, deploy it once with deletion_protection = false first (terraform/README.md, \"Destroying an environment\")."
  type        = bool
  default     = true
  nullable    = false
}

variable "dlq_retention_seconds" {
  description = "How long every dead-letter queue keeps a message, in seconds (default 14 days, the SQS maximum)."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be from 60 to 1209600 (14 days), e.g. 1209600."
  }
}

variable "enable_vpc" {
  description = "Run the functions in private subnets (two zones, no NAT) with VPC endpoints for every AWS API they call."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_training_emr" {
  description = "Create the EMR Serverless application and job role of the training feature job (docs/training-at-scale.md); off: the job runs in Spark's local mode only."
  type        = bool
  default     = false
  nullable    = false
}

variable "functions" {
  description = "Per-function overrides of memory_mb, timeout_seconds and reserved_concurrency, by function key (a key of lambdas/functions.json, e.g. detect-fraud). Unset values take the catalog's defaults; reserved_concurrency null = unreserved."
  type = map(object({
    memory_mb            = optional(number)
    timeout_seconds      = optional(number)
    reserved_concurrency = optional(number)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.functions) : contains(keys(jsondecode(file("${path.module}/../lambdas/functions.json"))), k)])
    error_message = "functions keys must be function keys of lambdas/functions.json: ${join(", ", keys(jsondecode(file("${path.module}/../lambdas/functions.json"))))}."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.memory_mb == null || try(f.memory_mb >= 128 && f.memory_mb <= 10240 && floor(f.memory_mb) == f.memory_mb, false)])
    error_message = "functions[*].memory_mb must be a whole number of MB from 128 to 10240, e.g. 512."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds == null || try(f.timeout_seconds >= 1 && f.timeout_seconds <= 900 && floor(f.timeout_seconds) == f.timeout_seconds, false)])
    error_message = "functions[*].timeout_seconds must be a whole number of seconds from 1 to 900, e.g. 30."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.reserved_concurrency == null || try(f.reserved_concurrency >= 0 && floor(f.reserved_concurrency) == f.reserved_concurrency, false)])
    error_message = "functions[*].reserved_concurrency must be a whole number >= 0, or null for unreserved (small accounts cannot reserve at all)."
  }
}

variable "kms_deletion_window_days" {
  description = "Days KMS waits before deleting the environment's key after a destroy (7 to 30). 30 by default: DynamoDB keeps a deleted table's point-in-time backup 35 days, encrypted with this key; cancel the key's deletion (aws kms cancel-key-deletion) to restore from it later. The dev and local profiles take 7."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number of days from 7 to 30, e.g. 30."
  }
}

variable "lists_cache_seconds" {
  description = "How often detect-fraud checks the version of the block and allow lists, in seconds: a list change scores within this time, without a redeploy."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.lists_cache_seconds >= 0 && var.lists_cache_seconds <= 60 && floor(var.lists_cache_seconds) == var.lists_cache_seconds
    error_message = "lists_cache_seconds must be a whole number from 0 to 60 (a list change must score within a minute)."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../modules/log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be one of ${join(", ", jsondecode(file("${path.module}/../modules/log-retention-days.json")))}."
  }
}

variable "max_receive_count" {
  description = "Receives of one alert before fraud-alerts-<suffix> moves it to fraud-alerts-dlq-<suffix>."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000, e.g. 3."
  }
}

variable "model_file" {
  description = "Default model artifact uploaded to the model bucket as models/<version>.json and seeded as the live model (relative paths are relative to this root module); null: no model, the pointer is seeded {\"live\": null, \"shadow\": null} and detect-fraud scores with the rules alone. Later models go live with `make model`, not Terraform."
  type        = string
  default     = "../models/default.json"

  validation {
    condition     = var.model_file == null || can(jsondecode(file(startswith(coalesce(var.model_file, "/"), "/") ? var.model_file : "${path.module}/${var.model_file}")).version)
    error_message = "model_file must be a readable JSON model artifact with a top-level \"version\" (make train writes models/default.json), or null to deploy without a model."
  }
}

variable "ops_email" {
  description = "Email address subscribed to the ops topic, where every alarm goes; null subscribes none. The recipient must confirm the subscription mail. make plan|deploy OPS_EMAIL=... sets it; staging and prod refuse to deploy without it."
  type        = string
  default     = null

  validation {
    condition     = var.ops_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.ops_email))
    error_message = "ops_email must be an email address such as \"fraud-ops@example.com\", or null for no email subscription."
  }
}

variable "peak_transactions_per_second" {
  description = "The intake this environment is sized for, in transactions per second: sustained (the busiest hour, what scoring must keep up with) and burst (what the API admits at once, e.g. its throttle's burst: what the intake, the table and the time-bucket index must take). time_bucket_shards is checked against the burst; the capacity of every hop: docs/architecture.md, Capacity."
  type = object({
    sustained = number
    burst     = number
  })
  default  = { sustained = 50, burst = 1000 }
  nullable = false

  validation {
    condition     = var.peak_transactions_per_second.sustained >= 1 && floor(var.peak_transactions_per_second.sustained) == var.peak_transactions_per_second.sustained && var.peak_transactions_per_second.burst >= var.peak_transactions_per_second.sustained && floor(var.peak_transactions_per_second.burst) == var.peak_transactions_per_second.burst
    error_message = "peak_transactions_per_second must be whole numbers with 1 <= sustained <= burst, e.g. { sustained = 1000, burst = 2500 }."
  }
}

variable "powertools_release" {
  description = "Powertools for AWS Lambda (Python) release the functions run, e.g. 3.37.0; its layer ARN is read from the public parameter /aws/service/powertools/python/<architecture>/<runtime>/<release>. tools.deploy.tfvars renders it from the aws-lambda-powertools pin in pyproject.toml (the one place it is written). null: no layer (the local emulator runs the project's own Powertools, the same pinned release)."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_release == null || can(regex("^3\\.[0-9]+\\.[0-9]+$", var.powertools_release))
    error_message = "powertools_release must be a Powertools V3 release such as \"3.37.0\" (never \"latest\": the deployed code must be the tested code), or null for no layer."
  }
}

variable "project" {
  description = "Project name: the Project tag, the KMS alias and the parameter path (/<project>/<suffix>/...)."
  type        = string
  default     = "fraud-detection"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.project))
    error_message = "project must be 3-40 lowercase letters, digits or hyphens, starting with a letter, e.g. \"fraud-detection\"."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as \"us-east-1\"."
  }
}

variable "rules_document" {
  description = "JSON rules document the rules parameter is seeded with; null seeds it from lambdas/fraud/rules.default.json. Later changes are made with `make rules`, not Terraform."
  type        = string
  default     = null

  validation {
    condition     = var.rules_document == null || can(keys(jsondecode(var.rules_document)))
    error_message = "rules_document must be a JSON object (a full or partial rules document), or null to use lambdas/fraud/rules.default.json."
  }
}

variable "runtime" {
  description = "Lambda runtime of every function: python3.11 (supported until 2027-06-30), python3.12 or python3.13. The Powertools layer follows it."
  type        = string
  default     = "python3.11"
  nullable    = false

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be \"python3.11\" (what the code is tested with), \"python3.12\" or \"python3.13\"; the Powertools layer follows it."
  }
}

variable "sensitive_settings" {
  description = "Secrets stored as SecureString parameters under the CMK, one per key: /<project>/<suffix>/<key>-<suffix>."
  type        = map(string)
  default     = {}
  nullable    = false
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.sensitive_settings) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", k))])
    error_message = "sensitive_settings keys must be 1-63 lowercase letters, digits, hyphens or underscores, e.g. \"webhook-token\"."
  }
}

variable "stream_parallelization_factor" {
  description = "Batches of one stream shard processed at once (1-10; records of one item stay in order), per routing: eventbridge (the Pipe, whose batch is one PutEvents of 10 entries) and direct (the event source mapping, whose batch is one detect-fraud invocation). Size it for the sustained peak per stream shard (docs/architecture.md, Capacity)."
  type = object({
    eventbridge = number
    direct      = number
  })
  default  = { eventbridge = 1, direct = 1 }
  nullable = false

  validation {
    condition     = alltrue([for factor in values(var.stream_parallelization_factor) : factor >= 1 && factor <= 10 && floor(factor) == factor])
    error_message = "stream_parallelization_factor values must be whole numbers from 1 to 10 (AWS's range), e.g. { eventbridge = 2, direct = 6 }."
  }
}

variable "stream_consumer" {
  description = "How detect-fraud consumes the table stream: \"eventbridge\" (Pipe -> custom bus -> rule) or \"direct\" (event source mapping)."
  type        = string
  default     = "eventbridge"
  nullable    = false

  validation {
    condition     = contains(["eventbridge", "direct"], var.stream_consumer)
    error_message = "stream_consumer must be \"eventbridge\" or \"direct\"."
  }
}

variable "stream_lag_alarm_seconds" {
  description = "The stream-lag alarms fire when detect-fraud scores a transaction more than this long after its stream record was written (StreamLag, both routings), or, with stream_consumer = \"direct\", when the mapping reads that far behind the stream (IteratorAge)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.stream_lag_alarm_seconds >= 1 && var.stream_lag_alarm_seconds < 86400
    error_message = "stream_lag_alarm_seconds must be from 1 to 86399 seconds (the stream keeps records 24 h), e.g. 300."
  }
}

variable "suffix" {
  description = "Environment suffix: ends every resource name and is the Environment tag, e.g. dev, prod, pr-42."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$", var.suffix))
    error_message = "suffix must be 2-24 lowercase letters, digits or hyphens, not starting or ending with a hyphen, e.g. \"dev\" or \"pr-42\"."
  }
}

variable "tags" {
  description = "Extra tags for every resource. Environment, Project and CostCenter are always set from suffix, project and cost_center."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k in keys(var.tags) : !contains(["Environment", "Project", "CostCenter"], k)])
    error_message = "tags must not set Environment, Project or CostCenter; set suffix, project and cost_center instead."
  }
}

variable "time_bucket_shards" {
  description = "Keys per minute of the time-bucket index (the index analyze-patterns reads): each takes at most about 1,000 writes per second (one partition key value), and the sizing keeps it at 500 (half: keys of one minute can share a partition, and the hash spreads unevenly), so shards x 500 must cover peak_transactions_per_second.burst. analyze-patterns queries minutes x shards buckets per run. A change is safe at any time: process-transaction writes with the new count, analyze-patterns reads the larger of the new and the former count for 24 h."
  type        = number
  default     = 4
  nullable    = false

  validation {
    condition     = var.time_bucket_shards >= 1 && var.time_bucket_shards <= 64 && floor(var.time_bucket_shards) == var.time_bucket_shards
    error_message = "time_bucket_shards must be a whole number from 1 to 64, e.g. 4."
  }

  validation {
    condition     = var.time_bucket_shards * 500 >= var.peak_transactions_per_second.burst
    error_message = "time_bucket_shards (${var.time_bucket_shards}) takes ${var.time_bucket_shards * 500} transactions per second at 500 per key, less than peak_transactions_per_second.burst (${var.peak_transactions_per_second.burst}): set time_bucket_shards to at least ${ceil(var.peak_transactions_per_second.burst / 500)}."
  }
}

variable "training_emr_max_vcpu" {
  description = "Most vCPUs the training feature job may use at once on EMR Serverless (with enable_training_emr)."
  type        = number
  default     = 64
  nullable    = false
}

variable "transaction_retention_days" {
  description = "Days a stored transaction is kept before DynamoDB's TTL deletes it (process-transaction writes expires_at = received_at + this). Card data is kept only as long as scoring and disputes need it; at least the history window of the rules document (history.window_days)."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.transaction_retention_days >= 1 && var.transaction_retention_days <= 3650 && floor(var.transaction_retention_days) == var.transaction_retention_days
    error_message = "transaction_retention_days must be a whole number of days from 1 to 3650, e.g. 90."
  }

  validation {
    condition     = var.transaction_retention_days >= try(jsondecode(var.rules_document != null ? var.rules_document : file("${path.module}/../lambdas/fraud/rules.default.json")).history.window_days, 30)
    error_message = "transaction_retention_days (${var.transaction_retention_days}) must be at least the rules document's history.window_days (${try(jsondecode(var.rules_document != null ? var.rules_document : file("${path.module}/../lambdas/fraud/rules.default.json")).history.window_days, 30)}): detect-fraud scores each transaction against that much of the user's history."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC when enable_vpc is on (/16 to /24)."
  type        = string
  default     = "10.42.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 CIDR from /16 to /24, e.g. \"10.42.0.0/16\"."
  }
}
