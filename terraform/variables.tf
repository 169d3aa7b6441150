variable "alert_email" {
  description = "Email address subscribed to the fraud notifications and the ops alarms topic; null subscribes none. The recipient must confirm the subscription mail."
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
  description = "Instruction set of every function: arm64 (the default) or x86_64. The Powertools layer must match it."
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

variable "log_retention_days" {
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "manage_api_gateway_account" {
  description = "Whether this environment owns the account-wide API Gateway CloudWatch Logs role (one per account and region). Turn it on in exactly one environment per account; API logging fails until some environment (or someone) has set it."
  type        = bool
  default     = false
  nullable    = false
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

variable "powertools_layer_arn" {
  description = "Powertools for AWS Lambda (Python) V3 layer version ARN for the runtime, architecture and region (the functions' third-party code comes from it). null: no layer (the local emulator provides Powertools itself)."
  type        = string
  default     = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:27"

  validation {
    condition     = var.powertools_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.powertools_layer_arn))
    error_message = "powertools_layer_arn must be a layer version ARN such as \"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:27\", or null for no layer."
  }

  validation {
    condition     = var.powertools_layer_arn == null || try(split(":", var.powertools_layer_arn)[3] == var.region, false)
    error_message = "powertools_layer_arn must be in the deployment region (var.region): Lambda only attaches layers from its own region. Use the ARN with your region in it."
  }

  validation {
    condition     = var.powertools_layer_arn == null || !can(regex("PowertoolsPythonV3-python[0-9]+-(arm64|x86_64)", var.powertools_layer_arn)) || try(endswith(split(":", var.powertools_layer_arn)[6], "-${var.architecture}") && strcontains(split(":", var.powertools_layer_arn)[6], "-${replace(var.runtime, ".", "")}-"), false)
    error_message = "powertools_layer_arn must be the Powertools layer built for var.runtime and var.architecture, e.g. AWSLambdaPowertoolsPythonV3-python311-arm64 for python3.11 on arm64."
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
  description = "Lambda runtime of every function."
  type        = string
  default     = "python3.11"
  nullable    = false

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be \"python3.11\" (what the code is tested with), \"python3.12\" or \"python3.13\"."
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
