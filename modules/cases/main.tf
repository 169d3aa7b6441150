# The fraud team's loop: the cases table (cases and their audit trails), the labels table (analyst decisions,
# chargebacks and disputes: the labels contract, docs/labels.md), the lists table (block and allow lists with
# their version counter) and the analysts' Cognito user pool (groups analysts and admins, MFA available) with
# the console's app client. Layout: docs/fraud-team.md.

locals {
  status_index_name = "status-rank-index"
  # Sign-in through the API from the console function (no hosted UI, no OAuth domain: a user pool with a
  # domain cannot be reached through a VPC endpoint), and refresh.
  auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
}

resource "aws_dynamodb_table" "cases" {
  name                        = "fraud-cases-${var.suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "case_id"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "case_id"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "rank"
    type = "S"
  }

  # The queue: per status, highest score first, then oldest (rank = <100 - score>#<created at>#<case id>).
  # Only case items carry status and rank; the audit events are not in the index.
  global_secondary_index {
    name            = local.status_index_name
    hash_key        = "status"
    range_key       = "rank"
    projection_type = "ALL"
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

resource "aws_dynamodb_table" "labels" {
  name                        = "fraud-labels-${var.suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "transaction_id"
  range_key                   = "source"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "transaction_id"
    type = "S"
  }

  attribute {
    name = "source"
    type = "S"
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

resource "aws_dynamodb_table" "lists" {
  name                        = "fraud-lists-${var.suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "entry_key"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "entry_key"
    type = "S"
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

# No threat protection (user_pool_add_ons advanced_security_mode): it needs the Plus feature plan, billed per
# user; the console's sessions are short, MFA is available, only admins create accounts and every sign-in is
# logged (CloudTrail). Turn it on per environment where the plan is bought.
resource "aws_cognito_user_pool" "analysts" {
  name                = "fraud-analysts-${var.suffix}"
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration   = var.mfa_configuration

  software_token_mfa_configuration {
    enabled = true
  }

  # Only admins create accounts (aws cognito-idp admin-create-user, then admin-add-user-to-group).
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "admin_only"
      priority = 1
    }
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_numbers                  = true
    require_symbols                  = true
    require_uppercase                = true
    temporary_password_validity_days = 3
  }

  username_configuration {
    case_sensitive = false
  }

  tags = var.tags
}

resource "aws_cognito_user_group" "analysts" {
  name         = "analysts"
  user_pool_id = aws_cognito_user_pool.analysts.id
  description  = "May work the queue, decide and comment on cases, add block entries and read the lists and quality."
  precedence   = 20
}

resource "aws_cognito_user_group" "admins" {
  name         = "admins"
  user_pool_id = aws_cognito_user_pool.analysts.id
  description  = "Everything analysts may, plus allow entries, removing entries, revealing identifiers and deciding what analysts may reveal."
  precedence   = 10
}

resource "aws_cognito_user_pool_client" "console" {
  name            = "fraud-console-${var.suffix}"
  user_pool_id    = aws_cognito_user_pool.analysts.id
  generate_secret = false

  explicit_auth_flows           = local.auth_flows
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  auth_session_validity         = 3

  access_token_validity  = var.session_minutes
  id_token_validity      = var.session_minutes
  refresh_token_validity = var.refresh_hours

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}
