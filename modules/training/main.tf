# Training at scale (docs/training-at-scale.md): the exports bucket the table is exported into
# (DynamoDB's ExportTableToPointInTime, with the labels beside each export and the feature tables the
# Spark job writes), the policy a data team's role needs to run `make export`, and, only when
# enable_emr is set, an EMR Serverless application with the job role the feature job runs as.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Bucket names are global: the account and the region keep environments of the same suffix apart
  # (at most 8 + 12 + 1 + 14 + 1 + 24 = 60 characters of S3's 63).
  bucket_name = "exports-${local.account_id}-${var.region}-${var.suffix}"
  bucket_arn  = "arn:${local.partition}:s3:::${local.bucket_name}"
  # Where each part of the layout lives (tools/training/layout.py writes and reads the same prefixes).
  exports_prefix  = "exports"
  features_prefix = "features"
  jobs_prefix     = "jobs"
  labels_table    = var.labels_table_arn == null ? [] : [var.labels_table_arn]
}

resource "aws_s3_bucket" "exports" {
  #checkov:skip=CKV_AWS_18:Server access logs need a log bucket the platform team owns; CloudTrail data events cover reads of the exports where required.
  #checkov:skip=CKV_AWS_144:An export is reproducible from the table's point-in-time recovery for 35 days and the feature tables from the exports; cross-region replication of card transactions is a data-residency decision of the platform team.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new objects: `make features` is run (or submitted to EMR Serverless) by the data team.
  bucket        = local.bucket_name
  force_destroy = true # everything an environment owns can be destroyed, exports included
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

# Exports and feature tables hold card transactions: they expire, and so do the versions a
# rewrite or a delete leaves behind.
resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    id     = "expire-exports"
    status = "Enabled"

    filter {
      prefix = "${local.exports_prefix}/"
    }

    expiration {
      days = var.export_retention_days
    }
  }

  rule {
    id     = "expire-feature-tables"
    status = "Enabled"

    filter {
      prefix = "${local.features_prefix}/"
    }

    expiration {
      days = var.export_retention_days
    }
  }

  rule {
    id     = "expire-job-code"
    status = "Enabled"

    filter {
      prefix = "${local.jobs_prefix}/"
    }

    expiration {
      days = var.export_retention_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions-and-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.exports]
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.exports.arn, "${aws_s3_bucket.exports.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "exports" {
  bucket = aws_s3_bucket.exports.id
  policy = data.aws_iam_policy_document.tls_only.json

  # S3 rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.exports]
}

# -- who runs `make export` (and submits the feature job) ------------------------------------------

# The actions DynamoDB's export needs from its caller (DynamoDB developer guide, "Requesting a table
# export": dynamodb:ExportTableToPointInTime on the table, s3:PutObject, s3:PutObjectAcl and
# s3:AbortMultipartUpload on the destination; with SSE-KMS the key's GenerateDataKey and Decrypt),
# what the tool reads back (the export's description, the objects, the labels table), and, with EMR
# Serverless, the job submission and the hand-over of the job role.
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "ExportTheTransactionsTable"
    actions   = ["dynamodb:ExportTableToPointInTime", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable"]
    resources = [var.table_arn]
  }

  statement {
    sid       = "FollowTheTablesExports"
    actions   = ["dynamodb:DescribeExport"]
    resources = ["${var.table_arn}/export/*"]
  }

  statement {
    sid       = "WriteExportsLabelsAndJobCode"
    actions   = ["s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.exports_prefix}/*", "${local.bucket_arn}/${local.jobs_prefix}/*"]
  }

  statement {
    sid       = "ReadExportsAndFeatureTables"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.exports_prefix}/*", "${local.bucket_arn}/${local.features_prefix}/*"]
  }

  statement {
    sid       = "ListTheExportsBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "UseTheKeyThroughS3AndDynamoDB"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com", "dynamodb.${var.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = local.labels_table
    content {
      sid       = "ReadTheLabelsTable"
      actions   = ["dynamodb:Scan", "dynamodb:DescribeTable"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.enable_emr ? [1] : []
    content {
      sid = "RunTheFeatureJob"
      actions = [
        "emr-serverless:StartJobRun",
        "emr-serverless:GetApplication",
        "emr-serverless:StartApplication",
      ]
      resources = [aws_emrserverless_application.features[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.enable_emr ? [1] : []
    content {
      sid       = "FollowTheFeatureJob"
      actions   = ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun", "emr-serverless:GetDashboardForJobRun"]
      resources = ["${aws_emrserverless_application.features[0].arn}/jobruns/*"]
    }
  }

  dynamic "statement" {
    for_each = var.enable_emr ? [1] : []
    content {
      sid       = "HandTheJobRoleToEmrServerless"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.job[0].arn]

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["emr-serverless.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "operator" {
  name        = "training-operator-${var.region}-${var.suffix}"
  description = "What `make export` and `make features --emr` need in environment ${var.suffix}: export the transactions table into ${local.bucket_name}, read it back, submit the feature job."
  policy      = data.aws_iam_policy_document.operator.json
  tags        = var.tags
}

# -- EMR Serverless (optional) ---------------------------------------------------------------------

resource "aws_emrserverless_application" "features" {
  count = var.enable_emr ? 1 : 0

  name          = "training-features-${var.suffix}"
  release_label = var.emr_release_label
  type          = "spark"
  architecture  = "ARM64"

  maximum_capacity {
    cpu    = "${var.emr_max_vcpu} vCPU"
    memory = "${var.emr_max_vcpu * 4} GB"
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = 15
  }

  tags = var.tags
}

data "aws_iam_policy_document" "job_trust" {
  statement {
    sid     = "EmrServerlessRunsTheFeatureJob"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "job" {
  count = var.enable_emr ? 1 : 0

  name               = "training-job-${var.region}-${var.suffix}"
  description        = "The feature job on EMR Serverless: reads the exports and the job code, writes the feature tables."
  assume_role_policy = data.aws_iam_policy_document.job_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadExportsAndJobCode"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.exports_prefix}/*", "${local.bucket_arn}/${local.jobs_prefix}/*"]
  }

  statement {
    sid       = "WriteFeatureTables"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.features_prefix}/*"]
  }

  statement {
    sid       = "ListTheExportsBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "UseTheKeyThroughS3"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  count = var.enable_emr ? 1 : 0

  name   = "features-${var.suffix}"
  role   = aws_iam_role.job[0].id
  policy = data.aws_iam_policy_document.job.json
}
