# One customer-managed key per environment. Everything at rest (tables, queues, topics, log groups,
# Lambda environment variables, SecureString parameters) is encrypted with it.
#
# The key policy delegates to IAM for principals of this account (each role's own policy then
# names the key and, for data-plane use, the service it may use it through), and names every AWS
# service principal that uses the key on its own behalf rather than on a caller's.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix

  # Every key action a data-plane service needs, spelled out (no kms:* anywhere).
  data_key_actions = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
  ]

  # Administration and use for the account root, i.e. delegation to IAM policies. Listed instead of
  # kms:* so that no policy in this stack grants a wildcard action; the list keeps PutKeyPolicy so
  # the account can never lock itself out of the key.
  account_actions = concat(local.data_key_actions, [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:DeleteAlias",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ])
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource is always "*" (it means this key); the statements are scoped by principal and condition.
  #checkov:skip=CKV_AWS_111:A key policy's Resource is always "*" (it means this key); the statements are scoped by principal and condition.
  #checkov:skip=CKV_AWS_356:A key policy's Resource is always "*" (it means this key); the statements are scoped by principal and condition.
  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*": it means this key; the statement is scoped by its principal and condition.
    sid       = "DelegateToAccountIam"
    effect    = "Allow"
    actions   = local.account_actions
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*": it means this key; the statement is scoped by its principal and condition.
    # parliament:skip=MISMATCHED_TYPE: ArnLike on kms:EncryptionContext:aws:logs:arn is the condition AWS documents for CloudWatch Logs keys (the context value is the log group ARN).
    # parliament:skip=UNKNOWN_CONDITION_FOR_ACTION: AWS's documented CloudWatch Logs key policy puts kms:Describe* under the same encryption-context condition; DescribeKey carries no context, so the condition only narrows the statement.
    sid       = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    effect    = "Allow"
    actions   = local.data_key_actions
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  # SNS delivering to the CMK-encrypted fraud-alert-events queue, and CloudWatch alarms publishing to
  # the CMK-encrypted ops topic, use the key themselves (an AWS-managed key cannot allow this). Both
  # services send aws:SourceAccount with these requests, which confines them to this account.
  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*": it means this key; the statement is scoped by its principal and condition.
    sid       = "SnsAndAlarmsUseKeyForThisAccount"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.${local.dns_suffix}", "sns.${local.dns_suffix}"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # EventBridge encrypting the events on this account's CMK buses (the bus fraud-events: each event
  # is a transaction) and decrypting them to match rules ("Authorizing EventBridge to use a customer
  # managed key": DescribeKey, GenerateDataKey, Decrypt, scoped by aws:SourceAccount).
  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*": it means this key; the statement is scoped by its principal and condition.
    sid       = "EventBridgeEncryptsThisAccountsBuses"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.${local.dns_suffix}"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # EventBridge sending undeliverable events to the CMK-encrypted dead-letter queue. AWS documents
  # aws:SourceAccount / aws:SourceArn as unsupported in key policies for EventBridge deliveries to
  # encrypted targets (a condition on them would silently drop every dead letter), so the statement
  # names the service only.
  # Which rules may send to the queue is decided by the queue policy (aws:SourceArn, root module).
  statement {
    # parliament:skip=RESOURCE_STAR: A key policy's Resource is always "*": it means this key; the statement is scoped by its principal and condition.
    sid       = "EventBridgeUsesKeyForDeadLetters"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.${local.dns_suffix}"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.project} ${var.suffix}: tables, queues, topics, logs, Lambda environment, parameters"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.project}-${var.suffix}"
  target_key_id = aws_kms_key.this.key_id
}
