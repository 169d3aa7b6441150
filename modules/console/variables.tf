variable "alarm_actions" {
  description = "ARNs notified when the 5xx alarm changes state (the ops topic)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "authorizer_cache_seconds" {
  description = "How long API Gateway keeps the authorizer's answer for one Cookie header: a signed-out or expired session can still pass for this long."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.authorizer_cache_seconds >= 0 && var.authorizer_cache_seconds <= 300
    error_message = "authorizer_cache_seconds must be 0 (no cache) to 300 seconds."
  }
}

variable "authorizer_invoke_arn" {
  description = "Invoke ARN of the console-authorizer function (API Gateway's authorizer_uri)."
  type        = string
  nullable    = false
}

variable "console_invoke_arn" {
  description = "Invoke ARN of the console function (every route's AWS_PROXY integration)."
  type        = string
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the access and execution log groups."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "log_retention_days" {
  description = "Retention of the access and execution log groups, in days."
  type        = number
  default     = 7
  nullable    = false
}

variable "region" {
  description = "AWS region of the API (for its URL)."
  type        = string
  nullable    = false
}

variable "suffix" {
  description = "Environment suffix appended to every name; also the stage name."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$", var.suffix))
    error_message = "suffix must be 2-24 lowercase letters, digits or hyphens, not starting or ending with a hyphen, e.g. \"dev\" or \"pr-42\"."
  }
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "throttle_burst_limit" {
  description = "Stage burst limit (requests at once) for the console."
  type        = number
  default     = 100
  nullable    = false
}

variable "throttle_rate_limit" {
  description = "Stage rate limit (requests per second) for the console: a team's clicks, not a producer's traffic."
  type        = number
  default     = 50
  nullable    = false
}
