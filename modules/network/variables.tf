variable "availability_zone_ids" {
  description = "Two availability zone ids (not names: ids are the same in every account) for the private subnets; null picks the first two available zones of the region outside excluded_zone_ids."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zone_ids == null || try(length(var.availability_zone_ids) == 2 && alltrue([for z in var.availability_zone_ids : can(regex("^[a-z]+[0-9]+-az[0-9]+$", z))]), false)
    error_message = "availability_zone_ids must list exactly two zone ids, e.g. [\"use1-az1\", \"use1-az2\"] (aws ec2 describe-availability-zones shows them), or be null."
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

variable "excluded_zone_ids" {
  description = "Zone ids never chosen when availability_zone_ids is null: use1-az3 lacks capacity for some of the services the functions need."
  type        = list(string)
  default     = ["use1-az3"]
  nullable    = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../log-retention-days.json")), var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of ${join(", ", jsondecode(file("${path.module}/../log-retention-days.json")))}."
  }
}

variable "gateway_endpoint_services" {
  description = "AWS services the functions call that get a gateway endpoint on the private route table (only dynamodb and s3 have one), with an egress rule to its prefix list."
  type        = set(string)
  default     = ["dynamodb", "s3"]
  nullable    = false

  validation {
    condition     = alltrue([for s in var.gateway_endpoint_services : contains(["dynamodb", "s3"], s)])
    error_message = "gateway_endpoint_services may hold only \"dynamodb\" and \"s3\" (the services AWS offers gateway endpoints for); list the others in interface_endpoint_services."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services the functions call that get an interface endpoint with private DNS (short names: sqs, sns, ssm, xray, ...). DynamoDB and S3 are served by gateway endpoints (gateway_endpoint_services)."
  type        = set(string)
  default     = ["cognito-idp", "sns", "sqs", "ssm", "xray"]
  nullable    = false

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9.-]+$", s)) && !contains(["dynamodb", "s3"], s)])
    error_message = "interface_endpoint_services must be short service names such as \"sqs\"; dynamodb and s3 are served by gateway endpoints (gateway_endpoint_services)."
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
  description = "AWS region; names the endpoint services (com.amazonaws.<region>.<service>) and is part of the flow-log role name (IAM is global)."
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
