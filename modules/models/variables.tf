variable "force_destroy" {
  description = "Delete every artifact version with the bucket on destroy. Off by default: a destroy then fails while the bucket holds models; short-lived environments turn it on."
  type        = bool
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the artifacts (SSE-KMS with a bucket key)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "model_file" {
  description = "Path of the default model artifact (JSON with a top-level \"version\"), uploaded as models/<version>.json and seeded as the live model; null uploads nothing and seeds {\"live\": null, \"shadow\": null}."
  type        = string
  default     = null

  validation {
    condition     = var.model_file == null || can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", tostring(jsondecode(file(var.model_file)).version)))
    error_message = "model_file must be a readable JSON model artifact whose top-level \"version\" is 1-128 letters, digits, dots, hyphens or underscores (run `make train`), or null for no default model."
  }
}

variable "noncurrent_version_days" {
  description = "Days a deleted or replaced artifact version is kept before S3 expires it."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of days >= 1, e.g. 90."
  }
}

variable "parameter_prefix" {
  description = "Path under which the pointer parameter is created, without a trailing slash, e.g. /fraud-detection/dev."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.parameter_prefix))
    error_message = "parameter_prefix must be an absolute parameter path without a trailing slash, e.g. \"/fraud-detection/dev\"."
  }
}

variable "region" {
  description = "AWS region of the bucket; part of its name (bucket names are global)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as \"us-east-1\"."
  }
}

variable "suffix" {
  description = "Environment suffix appended to every name (e.g. dev, pr-42)."
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
