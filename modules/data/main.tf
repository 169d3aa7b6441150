# Transactions table (with the per-user and per-minute-bucket indexes and the stream the detector
# consumes; items expire after the retention the functions write into expires_at), the state table
# (idempotency records, pattern baselines, finding suppression) and the Parameter Store entries: the
# rules document, the shadow rules document, the HMAC key and the sensitive settings.
# Layout: docs/contracts.md, "Data".

locals {
  user_index_name             = "user_id-timestamp-index"
  time_bucket_index_name      = "time_bucket-received_at-index"
  rules_parameter_name        = "${var.parameter_prefix}/rules-${var.suffix}"
  shadow_rules_parameter_name = "${var.parameter_prefix}/shadow-rules-${var.suffix}"
  hash_key_parameter_name     = "${var.parameter_prefix}/hash-key-${var.suffix}"

  # What one analysis window needs from each transaction, so the index answers without table reads.
  time_bucket_projection = [
    "amount",
    "card_id",
    "country",
    "currency",
    "device_id",
    "ip_address",
    "merchant_category",
    "merchant_id",
    "user_id",
  ]
}

resource "aws_dynamodb_table" "transactions" {
  name                        = "transactions-${var.suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "transaction_id"
  range_key                   = "timestamp"
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "transaction_id"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "N"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  attribute {
    name = "time_bucket"
    type = "S"
  }

  attribute {
    name = "received_at"
    type = "N"
  }

  global_secondary_index {
    name            = local.user_index_name
    hash_key        = "user_id"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  # Buckets and windows on the time a transaction arrived, not the client's timestamp: a late upload
  # (store-and-forward, retries, a slow merchant clock) still lands in a window that is analysed.
  global_secondary_index {
    name               = local.time_bucket_index_name
    hash_key           = "time_bucket"
    range_key          = "received_at"
    projection_type    = "INCLUDE"
    non_key_attributes = local.time_bucket_projection
  }

  # Card data is not kept forever: process-transaction writes expires_at (epoch seconds) from
  # TRANSACTION_RETENTION_DAYS, and DynamoDB deletes the item after it (the stream sees a REMOVE,
  # which the stream filter drops).
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "state" {
  name                        = "fraud-state-${var.suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ssm_parameter" "rules" {
  #checkov:skip=CKV2_AWS_34:The rules document holds thresholds and weights, no secrets; it stays a String so operators can read and diff it (docs/contracts.md). Secrets go to sensitive_settings (SecureString).
  name        = local.rules_parameter_name
  description = "Fraud rules document (JSON), merged over lambdas/fraud/rules.default.json by the functions"
  type        = "String"
  # Standard parameters hold 4 KB; a larger document needs the advanced tier.
  tier  = length(var.rules_document) > 4096 ? "Advanced" : "Standard"
  value = var.rules_document
  tags  = var.tags

  lifecycle {
    # Seeded once; `make rules` owns the value afterwards.
    ignore_changes = [value]
  }
}

# A candidate rules document scored beside the live one (decisions logged and counted, never
# alerted); the JSON literal null means none. Seeded once; `make rules` / the shadow tooling owns it.
resource "aws_ssm_parameter" "shadow_rules" {
  #checkov:skip=CKV2_AWS_34:Like the live rules, a shadow rules document holds thresholds and weights, no secrets; it stays a String so operators can read and diff it.
  name        = local.shadow_rules_parameter_name
  description = "Shadow rules document (JSON) scored beside the live rules, or null for none"
  type        = "String"
  value       = "null"
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

# The per-environment key of every keyed hash (HMAC-SHA256 of entities in alert ids and suppression
# keys). A random value from Secrets Manager's generator (the provider mirror has no hashicorp/random),
# read once: ignore_changes keeps the first value, so the data source drawing a new one on every plan
# never rotates the key (a rotation would re-alert every suppressed finding). Rotate it on purpose by
# tainting the parameter.
data "aws_secretsmanager_random_password" "hash_key" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_ssm_parameter" "hash_key" {
  name        = local.hash_key_parameter_name
  description = "HMAC-SHA256 key of the keyed hashes in alert ids and suppression keys"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = data.aws_secretsmanager_random_password.hash_key.random_password
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "sensitive" {
  for_each = nonsensitive(toset(keys(var.sensitive_settings)))

  name        = "${var.parameter_prefix}/${each.key}-${var.suffix}"
  description = "Sensitive setting ${each.key}"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = var.sensitive_settings[each.key]
  tags        = var.tags
}
