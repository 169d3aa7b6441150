variable "deletion_protection" {
  description = "Deletion protection on the three tables and the user pool: a destroy fails until it is turned off (the labels and the audit trails are what the team decided; the accounts are its people). On by default; short-lived environments turn it off."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the three tables."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "mfa_configuration" {
  description = "Multi-factor authentication of the analysts' user pool: OPTIONAL (each user may turn on an authenticator app in the console) or ON (every user must; first sign-in sets it up)."
  type        = string
  default     = "OPTIONAL"
  nullable    = false

  validation {
    condition     = contains(["OPTIONAL", "ON"], var.mfa_configuration)
    error_message = "mfa_configuration must be \"OPTIONAL\" or \"ON\" (OFF would take MFA away from the fraud team)."
  }
}

variable "refresh_hours" {
  description = "How long a console sign-in lasts, in hours: the refresh token's validity (the session is renewed from it without a password until then)."
  type        = number
  default     = 12
  nullable    = false

  validation {
    condition     = var.refresh_hours >= 1 && var.refresh_hours <= 24 && floor(var.refresh_hours) == var.refresh_hours
    error_message = "refresh_hours must be a whole number of hours from 1 to 24 (a working day, not weeks)."
  }
}

variable "session_minutes" {
  description = "Validity of the console session's access token, in minutes (a token is trusted until it expires: sign-out ends the refresh, not an issued token)."
  type        = number
  default     = 15
  nullable    = false

  validation {
    condition     = var.session_minutes >= 5 && var.session_minutes <= 60 && floor(var.session_minutes) == var.session_minutes
    error_message = "session_minutes must be a whole number of minutes from 5 to 60."
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
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
