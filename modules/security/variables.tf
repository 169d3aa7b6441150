variable "deletion_window_in_days" {
  description = "Days KMS waits before deleting the key after a destroy (7 to 30). 30 by default: a deleted table's point-in-time backup (kept 35 days) and the state's history stay readable as long as KMS allows; short-lived environments take 7."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number of days from 7 to 30, e.g. 30."
  }
}

variable "project" {
  description = "Project name, used in the key alias (alias/<project>-<suffix>) and description."
  type        = string
  default     = "fraud-detection"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.project))
    error_message = "project must be 3-40 lowercase letters, digits or hyphens, starting with a letter, e.g. \"fraud-detection\"."
  }
}

variable "region" {
  description = "AWS region of the key; names the regional CloudWatch Logs principal and the kms:ViaService values."
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
  description = "Tags added to the key (merged over the provider's default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
