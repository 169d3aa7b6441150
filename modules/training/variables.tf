variable "emr_max_vcpu" {
  description = "Most vCPUs the EMR Serverless application may use at once (memory is 4 GB per vCPU); the cost ceiling of one feature job."
  type        = number
  default     = 64
  nullable    = false

  validation {
    condition     = var.emr_max_vcpu >= 4 && floor(var.emr_max_vcpu) == var.emr_max_vcpu
    error_message = "emr_max_vcpu must be a whole number of vCPUs >= 4, e.g. 64."
  }
}

variable "emr_release_label" {
  description = "EMR release of the application (Spark 3.5 on emr-7.x)."
  type        = string
  default     = "emr-7.5.0"
  nullable    = false

  validation {
    condition     = can(regex("^emr-[0-9]+\\.[0-9]+\\.[0-9]+$", var.emr_release_label))
    error_message = "emr_release_label must look like \"emr-7.5.0\"."
  }
}

variable "enable_emr" {
  description = "Create the EMR Serverless application and the job role of the feature job (off: the job runs in Spark's local mode only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "export_retention_days" {
  description = "Days an export, a feature table or uploaded job code is kept before S3 expires it."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.export_retention_days >= 1 && floor(var.export_retention_days) == var.export_retention_days
    error_message = "export_retention_days must be a whole number of days >= 1, e.g. 30."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the exports (SSE-KMS with a bucket key)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "labels_table_arn" {
  description = "ARN of the labels table the export reads (hash transaction_id, range source); null while there is none."
  type        = string
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days a deleted or replaced object version is kept before S3 expires it."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of days >= 1, e.g. 7."
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

variable "table_arn" {
  description = "ARN of the transactions table to export (point-in-time recovery on)."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags added to every resource (merged over the provider's default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
