variable "alarm_actions" {
  description = "ARNs notified when the error-rate alarm changes state (e.g. an ops SNS topic). Empty: the alarm only records state."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "architecture" {
  description = "Instruction set of the function: arm64 (cheaper, the default) or x86_64."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "description" {
  description = "What the function does, shown in the Lambda console."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters; shorten it."
  }
}

variable "environment" {
  description = "Environment variables of the function (encrypted at rest with kms_key_arn)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "error_rate_threshold_percent" {
  description = "The error-rate alarm fires when more than this percentage of invocations fail over 5 minutes."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.error_rate_threshold_percent >= 0 && var.error_rate_threshold_percent <= 100
    error_message = "error_rate_threshold_percent must be a percentage from 0 to 100, e.g. 1."
  }
}

variable "filename" {
  description = "Path of the deployment zip (absolute, or relative to the working directory); its content hash triggers redeploys."
  type        = string
  nullable    = false

  validation {
    condition     = endswith(var.filename, ".zip")
    error_message = "filename must be the path of a .zip deployment package, e.g. \"/repo/build/dist/detect-fraud.zip\"; run `make package` to build it."
  }
}

variable "handler" {
  description = "Handler in module.function form, e.g. detect_fraud.handler."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must be \"<module>.<function>\", e.g. \"detect_fraud.handler\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for the environment variables and the log group."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or key id."
  }
}

variable "kms_key_services" {
  description = "Services (short names such as sns, ssm, s3, dynamodb) through which the function's code uses the key, besides lambda (its environment) and sqs (its failure destination), which are always allowed. The key grant is conditioned on kms:ViaService."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.kms_key_services : can(regex("^[a-z0-9-]+$", s))])
    error_message = "kms_key_services must be service short names such as \"sns\" or \"ssm\" (the endpoint prefix, without region or domain)."
  }
}

variable "layers" {
  description = "Lambda layer version ARNs (at most 5), e.g. the Powertools for AWS Lambda (Python) layer."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.layers) <= 5 && alltrue([for l in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l))])
    error_message = "layers must be at most 5 layer version ARNs such as \"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-arm64:27\"."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be one of ${join(", ", jsondecode(file("${path.module}/../log-retention-days.json")))}."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "Asynchronous invocations older than this go to the on-failure destination instead of being retried (60 to 21600)."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be from 60 to 21600 (6 hours), e.g. 3600."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation before it goes to the on-failure destination (0 to 2)."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = contains([0, 1, 2], var.maximum_retry_attempts)
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "memory_mb" {
  description = "Memory of the function in MB (128 to 10240); CPU scales with it."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number of MB from 128 to 10240, e.g. 256."
  }
}

variable "name" {
  description = "Function name, ending with the environment suffix (e.g. detect-fraud-dev); also names the log group and alarms, and the role (lambda-<region>-<name>, at most 64 characters)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, hyphens or underscores, e.g. \"detect-fraud-dev\"."
  }
}

variable "on_failure_destination_arn" {
  description = "ARN of the SQS queue that receives asynchronous invocations which failed all their retries (with the error and the original event)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?$", var.on_failure_destination_arn))
    error_message = "on_failure_destination_arn must be an SQS queue ARN, e.g. \"arn:aws:sqs:us-east-1:123456789012:function-failures-dev\"."
  }
}

variable "policy_statements" {
  description = "What the function may call, one statement per purpose: sid (letters and digits), actions (no wildcards), resource ARNs (no \"*\"), optional conditions. Logs, X-Ray, the key and the failure destination are added by the module."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))]) && length(distinct([for s in var.policy_statements : s.sid])) == length(var.policy_statements)
    error_message = "Each policy statement needs a unique sid of letters and digits that names its purpose, e.g. \"QueryUserHistory\"."
  }

  validation {
    condition     = alltrue(flatten([for s in var.policy_statements : [for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9]+$", a))]]))
    error_message = "Policy statement actions must be exact service:Action names without wildcards, e.g. \"dynamodb:Query\"; list each action the function calls."
  }

  validation {
    condition     = alltrue(flatten([for s in var.policy_statements : [for r in s.resources : startswith(r, "arn:")]])) && alltrue([for s in var.policy_statements : length(s.resources) > 0])
    error_message = "Policy statement resources must be ARNs (no \"*\"); name the table, index, queue, topic or parameter the function uses."
  }
}

variable "region" {
  description = "AWS region of the function: part of its role name (IAM is global) and of the kms:ViaService values."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as \"us-east-1\"."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function unreserved (new accounts cannot reserve below their unreserved minimum)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 0 && floor(var.reserved_concurrency) == var.reserved_concurrency, false)
    error_message = "reserved_concurrency must be a whole number >= 0 (0 disables the function), or null for unreserved."
  }
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
  default     = "python3.11"
  nullable    = false

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime identifier such as \"python3.11\"."
  }
}

variable "tags" {
  description = "Tags added to every resource (merged over the provider's default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "timeout_seconds" {
  description = "Timeout of one invocation in seconds (1 to 900)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number of seconds from 1 to 900, e.g. 30."
  }
}

variable "vpc_config" {
  description = "Private subnets and security groups to run the function in; null runs it outside a VPC."
  type = object({
    security_group_ids = list(string)
    subnet_ids         = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || try(length(var.vpc_config.subnet_ids) > 0 && length(var.vpc_config.security_group_ids) > 0, false)
    error_message = "vpc_config needs at least one subnet id and one security group id, or null to run outside a VPC."
  }
}
