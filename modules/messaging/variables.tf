variable "alert_email" {
  description = "Address subscribed (email protocol) to the fraud notifications topic; null subscribes none. AWS sends a confirmation mail the recipient must accept."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address such as \"fraud-team@example.com\", or null for no email subscription."
  }
}

variable "alerts_max_age_seconds" {
  description = "The alerts queue's age alarm fires when its oldest alert has waited longer than this (notify-team normally drains it within seconds)."
  type        = number
  default     = 600
  nullable    = false

  validation {
    condition     = var.alerts_max_age_seconds >= 60
    error_message = "alerts_max_age_seconds must be at least 60 seconds, e.g. 600."
  }
}

variable "alerts_retention_seconds" {
  description = "How long the alerts queue keeps an unprocessed alert (60 s to 14 days)."
  type        = number
  default     = 345600
  nullable    = false

  validation {
    condition     = var.alerts_retention_seconds >= 60 && var.alerts_retention_seconds <= 1209600
    error_message = "alerts_retention_seconds must be from 60 to 1209600 (14 days), e.g. 345600 (4 days)."
  }
}

variable "alerts_visibility_timeout_seconds" {
  description = "Visibility timeout of the alerts queue; at least 6 times the consuming function's timeout (the root checks this)."
  type        = number
  default     = 360
  nullable    = false

  validation {
    condition     = var.alerts_visibility_timeout_seconds >= 0 && var.alerts_visibility_timeout_seconds <= 43200
    error_message = "alerts_visibility_timeout_seconds must be from 0 to 43200 (12 hours), e.g. 360."
  }
}

variable "delivery_status_sample_rate" {
  description = "Percentage of successful SQS deliveries the notifications topic logs (failures are always logged)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.delivery_status_sample_rate >= 0 && var.delivery_status_sample_rate <= 100
    error_message = "delivery_status_sample_rate must be a percentage from 0 to 100, e.g. 100."
  }
}

variable "dlq_retention_seconds" {
  description = "How long every dead-letter queue keeps a message (60 s to 14 days)."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be from 60 to 1209600 (14 days), e.g. 1209600."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the queues, topics and delivery-status log groups. Its policy must let sns, events and cloudwatch use it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "log_retention_days" {
  description = "Retention of the topic's delivery-status log groups, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be one of ${join(", ", jsondecode(file("${path.module}/../log-retention-days.json")))}."
  }
}

variable "max_receive_count" {
  description = "Receives of one alert before the alerts queue moves it to its dead-letter queue."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000, e.g. 3."
  }
}

variable "ops_email" {
  description = "Address subscribed (email protocol) to the ops topic, where every alarm goes; null subscribes none. AWS sends a confirmation mail the recipient must accept."
  type        = string
  default     = null

  validation {
    condition     = var.ops_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.ops_email))
    error_message = "ops_email must be an email address such as \"fraud-ops@example.com\", or null for no email subscription."
  }
}

variable "region" {
  description = "AWS region; part of the delivery-status log group names SNS writes to and of the alarm ARNs the ops topic accepts."
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
