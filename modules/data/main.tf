# Transactions table (with the per-user and per-minute-bucket indexes and the stream the detector
# consumes), the state table (idempotency records, pattern baselines, finding suppression) and the
# Parameter Store entries. Layout: docs/contracts.md, "Data".

locals {
  user_index_name        = "user_id-timestamp-index"
  time_bucket_index_name = "time_bucket-timestamp-index"
  rules_parameter_name   = "${var.parameter_prefix}/rules-${var.suffix}"

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
  deletion_protection_enabled = false

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

  global_secondary_index {
    name            = local.user_index_name
    hash_key        = "user_id"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  global_secondary_index {
    name               = local.time_bucket_index_name
    hash_key           = "time_bucket"
    range_key          = "timestamp"
    projection_type    = "INCLUDE"
    non_key_attributes = local.time_bucket_projection
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
  deletion_protection_enabled = false

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

resource "aws_ssm_parameter" "sensitive" {
  for_each = nonsensitive(toset(keys(var.sensitive_settings)))

  name        = "${var.parameter_prefix}/${each.key}-${var.suffix}"
  description = "Sensitive setting ${each.key}"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = var.sensitive_settings[each.key]
  tags        = var.tags
}
