variable "availability_zones" {
  description = "Two availability zones for the private subnets; null picks the first two available zones of the region."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) == 2, false)
    error_message = "availability_zones must list exactly two zones, e.g. [\"us-east-1a\", \"us-east-1b\"], or be null."
  }
}

variable "cidr_block" {
  description = "CIDR block of the VPC (/16 to /24); the two private subnets take its first two quarters."
  type        = string
  default     = "10.42.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 24, false)
    error_message = "cidr_block must be an IPv4 CIDR from /16 to /24, e.g. \"10.42.0.0/16\"."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services the functions call that get an interface endpoint with private DNS (short names: sqs, sns, ssm, xray, ...). DynamoDB always gets a gateway endpoint."
  type        = set(string)
  default     = ["sns", "sqs", "ssm", "xray"]
  nullable    = false

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9.-]+$", s)) && s != "dynamodb"])
    error_message = "interface_endpoint_services must be short service names such as \"sqs\"; dynamodb is always served by the gateway endpoint."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the flow log group."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "region" {
  description = "AWS region; names the endpoint services (com.amazonaws.<region>.<service>)."
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
