variable "cost_center" {
  description = "Value of the CostCenter tag."
  type        = string
  default     = "fraud-platform"
  nullable    = false
}

variable "project" {
  description = "Value of the Project tag."
  type        = string
  default     = "fraud-detection"
  nullable    = false
}

variable "region" {
  description = "The region whose API Gateway account settings this sets (one per account and region)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as \"us-east-1\"."
  }
}
