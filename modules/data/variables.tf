variable "deletion_protection" {
  description = "Deletion protection on both tables: DeleteTable (and so terraform destroy) fails until it is turned off. On by default; short-lived environments turn it off."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts both tables and the SecureString parameters (the HMAC key and the sensitive settings)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "parameter_prefix" {
  description = "Path under which the parameters are created, without a trailing slash, e.g. /fraud-detection/dev."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.parameter_prefix))
    error_message = "parameter_prefix must be an absolute parameter path without a trailing slash, e.g. \"/fraud-detection/dev\"."
  }
}

variable "rules_document" {
  description = "JSON rules document the rules parameter is seeded with. Terraform ignores later changes to the stored value, so `make rules` can update it without a redeploy."
  type        = string
  nullable    = false

  validation {
    condition     = can(jsondecode(var.rules_document)) && can(keys(jsondecode(var.rules_document)))
    error_message = "rules_document must be a JSON object, e.g. the content of lambdas/fraud/rules.default.json."
  }
}

variable "sensitive_settings" {
  description = "Secrets stored as SecureString parameters under the key, one per map key: <parameter_prefix>/<key>-<suffix>."
  type        = map(string)
  default     = {}
  nullable    = false
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.sensitive_settings) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", k))])
    error_message = "sensitive_settings keys must be 1-63 lowercase letters, digits, hyphens or underscores, e.g. \"webhook-token\"."
  }

  validation {
    condition     = length(setintersection(keys(var.sensitive_settings), ["hash-key", "model", "rules", "shadow-rules"])) == 0
    error_message = "sensitive_settings keys must not be hash-key, model, rules or shadow-rules: those parameters already exist under the same path."
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
