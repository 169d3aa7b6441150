variable "alarm_actions" {
  description = "ARNs notified when the 5xx alarm changes state (e.g. an ops SNS topic)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "authorization" {
  description = "How POST /transactions authenticates callers: \"AWS_IAM\" (SigV4-signed requests, limited by the resource policy to invoke_principals) or \"NONE\" (the API key alone, which identifies a caller for the usage plan but authenticates nobody: for development only)."
  type        = string
  default     = "AWS_IAM"
  nullable    = false

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.authorization)
    error_message = "authorization must be \"AWS_IAM\" (signed requests) or \"NONE\" (API key only, development)."
  }
}

variable "error_rate_threshold_percent" {
  description = "The 5xx alarm fires when more than this percentage of requests return a 5xx over 5 minutes."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.error_rate_threshold_percent >= 0 && var.error_rate_threshold_percent <= 100
    error_message = "error_rate_threshold_percent must be a percentage from 0 to 100, e.g. 1."
  }
}

variable "invoke_principals" {
  description = "With authorization = \"AWS_IAM\": who may post transactions, as IAM role or user ARNs (the producers, e.g. the payment backend's role) or 12-digit account ids (any principal of that account whose IAM policies allow execute-api:Invoke). Everyone else is denied by the resource policy. Empty: this account."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.invoke_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+)$", p))])
    error_message = "invoke_principals must hold IAM role or user ARNs (arn:aws:iam::123456789012:role/payment-backend) or 12-digit account ids."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the access log group."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "lambda_invoke_arn" {
  description = "Invoke ARN of the function behind POST /transactions (AWS_PROXY integration)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/.+/invocations$", var.lambda_invoke_arn))
    error_message = "lambda_invoke_arn must be a Lambda invoke ARN (the function's invoke_arn attribute), not its function ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be one of ${join(", ", jsondecode(file("${path.module}/../log-retention-days.json")))}."
  }
}

variable "logging_level" {
  description = "Execution logging of the stage: \"OFF\" (the default), \"ERROR\" or \"INFO\". INFO writes several lines per request and the request validator's messages, which quote the rejected input (card data): for debugging a development environment only. The JSON access log is always on."
  type        = string
  default     = "OFF"
  nullable    = false

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.logging_level)
    error_message = "logging_level must be \"OFF\", \"ERROR\" or \"INFO\"."
  }
}

variable "quota_limit" {
  description = "Requests one API key may make per quota_period."
  type        = number
  default     = 5000000
  nullable    = false

  validation {
    condition     = var.quota_limit >= 1 && floor(var.quota_limit) == var.quota_limit
    error_message = "quota_limit must be a whole number of requests >= 1, e.g. 5000000."
  }
}

variable "quota_period" {
  description = "Period of the usage-plan quota: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"
  nullable    = false

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.quota_period)
    error_message = "quota_period must be \"DAY\", \"WEEK\" or \"MONTH\"."
  }
}

variable "request_schema" {
  description = "JSON Schema (draft-04) of the POST /transactions body, e.g. the content of lambdas/fraud/transaction.schema.json."
  type        = string
  nullable    = false

  validation {
    condition     = can(jsondecode(var.request_schema)) && can(keys(jsondecode(var.request_schema)))
    error_message = "request_schema must be a JSON Schema object, e.g. file(\"lambdas/fraud/transaction.schema.json\")."
  }
}

variable "suffix" {
  description = "Environment suffix appended to every name; also the stage name (e.g. dev, pr-42)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$", var.suffix))
    error_message = "suffix must be 2-24 lowercase letters, digits or hyphens, not starting or ending with a hyphen, e.g. \"dev\" or \"pr-42\"."
  }
}

variable "tags" {
  description = "Tags added to every resource (merged over the provider's default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "throttle_burst_limit" {
  description = "Stage and usage-plan burst limit (requests)."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.throttle_burst_limit >= 1 && floor(var.throttle_burst_limit) == var.throttle_burst_limit
    error_message = "throttle_burst_limit must be a whole number of requests >= 1, e.g. 1000."
  }
}

variable "throttle_rate_limit" {
  description = "Stage and usage-plan steady-state rate limit (requests per second)."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.throttle_rate_limit > 0
    error_message = "throttle_rate_limit must be a positive number of requests per second, e.g. 1000."
  }
}
