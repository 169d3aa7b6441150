# The model store: an S3 bucket (CMK with a bucket key, versioning, every public access blocked,
# bucket-owner-enforced, TLS only) holding model artifacts as models/<version>.json, and the pointer
# parameter that says which artifact detect-fraud scores with (live) and which it runs beside it
# (shadow). Terraform uploads the default model and seeds the pointer once; `make model` owns the
# pointer afterwards (new artifacts, promotion, rollback) without a redeploy. Layout: docs/contracts.md.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Bucket names are global: the account and the region keep environments of the same suffix apart
  # (at most 6 + 1 + 12 + 1 + 14 + 1 + 24 = 59 characters of S3's 63).
  bucket_name          = "models-${local.account_id}-${var.region}-${var.suffix}"
  model_parameter_name = "${var.parameter_prefix}/model-${var.suffix}"
  model                = var.model_file == null ? null : jsondecode(file(var.model_file))
  default_model_key    = local.model == null ? null : "models/${local.model.version}.json"
  default_model_ref    = local.model == null ? null : { key = local.default_model_key, sha256 = filesha256(var.model_file), version = tostring(local.model.version) }
  pointer_seed         = { live = local.default_model_ref, shadow = null }
}

resource "aws_s3_bucket" "models" {
  #checkov:skip=CKV_AWS_18:Server access logs need a log bucket the platform team owns; reads of the model are few and come from detect-fraud's role (CloudTrail data events cover them where required).
  #checkov:skip=CKV_AWS_144:Artifacts are reproducible from the repository and the training data (make train); cross-region replication is a disaster-recovery choice of the platform team.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new artifacts: a model goes live when `make model` moves the pointer parameter, not when it is uploaded.
  bucket = local.bucket_name
  # false: a destroy fails while the bucket holds artifact versions (the models a decision was made
  # with); short-lived environments set it (every version is deleted with the bucket).
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = aws_s3_bucket.models.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

# An artifact is never overwritten (its key holds its version), so noncurrent versions come only
# from deletes; they are kept long enough to undo one.
resource "aws_s3_bucket_lifecycle_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.models]
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.models.arn, "${aws_s3_bucket.models.arn}/*"]

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

resource "aws_s3_bucket_policy" "models" {
  bucket = aws_s3_bucket.models.id
  policy = data.aws_iam_policy_document.tls_only.json

  # S3 rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.models]
}

# The default model, models/<version>.json (the version is read from the file).
resource "aws_s3_object" "default_model" {
  count = var.model_file == null ? 0 : 1

  bucket                 = aws_s3_bucket.models.id
  key                    = local.default_model_key
  source                 = var.model_file
  source_hash            = filemd5(var.model_file)
  content_type           = "application/json"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  bucket_key_enabled     = true
  tags                   = var.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.models, aws_s3_bucket_policy.models]
}

resource "aws_ssm_parameter" "pointer" {
  #checkov:skip=CKV2_AWS_34:The pointer names an artifact key, its sha256 and its version: no secret; a String so operators can read and diff it.
  name        = local.model_parameter_name
  description = "Model pointer (JSON): {live, shadow}, each null or {key, sha256, version} of an artifact in ${local.bucket_name}"
  type        = "String"
  value       = jsonencode(local.pointer_seed)
  tags        = var.tags

  lifecycle {
    # Seeded once; `make model` owns the value afterwards.
    ignore_changes = [value]
  }

  depends_on = [aws_s3_object.default_model]
}
