# One environment of the fraud detection pipeline. The modules own their resources; the files beside
# this one hold the wiring that needs two modules at once (see docs/architecture.md):
#   functions.tf  the four functions (one module instance each) and their IAM statements
#   api.tf        the REST API and its permission to invoke process-transaction
#   stream.tf     table stream -> detect-fraud (Pipe + bus + rule, or a direct event source mapping)
#   alerts.tf     alerts queue -> notify-team
#   schedule.tf   the analyze-patterns schedule
#   monitoring.tf the alarms on the pipeline's own metrics and the environment's dashboard

locals {
  tags = merge(var.tags, {
    Environment = var.suffix
    Project     = var.project
    CostCenter  = var.cost_center
  })

  repo_root        = abspath("${path.root}/..")
  artifacts_dir    = startswith(var.artifacts_dir, "/") ? var.artifacts_dir : abspath("${path.root}/${var.artifacts_dir}")
  parameter_prefix = "/${var.project}/${var.suffix}"
  # Only read when no document is given (a conditional evaluates just the branch it takes).
  rules_document = var.rules_document != null ? var.rules_document : file("${local.repo_root}/lambdas/fraud/rules.default.json")
  request_schema = file("${local.repo_root}/lambdas/fraud/transaction.schema.json")
  model_file     = var.model_file == null ? null : (startswith(var.model_file, "/") ? var.model_file : abspath("${path.root}/${var.model_file}"))
}

module "security" {
  source = "../modules/security"

  deletion_window_in_days = var.kms_deletion_window_days
  project                 = var.project
  region                  = var.region
  suffix                  = var.suffix
  tags                    = local.tags
}

module "network" {
  source = "../modules/network"
  count  = var.enable_vpc ? 1 : 0

  cidr_block              = var.vpc_cidr
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.security.key_arn
  region                  = var.region
  suffix                  = var.suffix
  tags                    = local.tags
}

module "data" {
  source = "../modules/data"

  deletion_protection = var.deletion_protection
  kms_key_arn         = module.security.key_arn
  parameter_prefix    = local.parameter_prefix
  rules_document      = local.rules_document
  sensitive_settings  = var.sensitive_settings
  suffix              = var.suffix
  tags                = local.tags
}

module "models" {
  source = "../modules/models"

  force_destroy    = !var.deletion_protection
  kms_key_arn      = module.security.key_arn
  model_file       = local.model_file
  parameter_prefix = local.parameter_prefix
  region           = var.region
  suffix           = var.suffix
  tags             = local.tags
}

module "training" {
  source = "../modules/training"

  emr_max_vcpu  = var.training_emr_max_vcpu
  enable_emr    = var.enable_training_emr
  force_destroy = !var.deletion_protection
  kms_key_arn   = module.security.key_arn
  # The fraud team's labels (modules/cases, docs/labels.md), its ARN built from the table's name: known at plan,
  # so the operator's policy is read at plan time (the table's own arn attribute is known only after apply).
  labels_table_arn = "arn:${module.security.partition}:dynamodb:${var.region}:${module.security.account_id}:table/${module.cases.labels_table_name}"
  region           = var.region
  suffix           = var.suffix
  table_arn        = module.data.table_arn
  tags             = local.tags
}

module "messaging" {
  source = "../modules/messaging"

  alert_email                       = var.alert_email
  alerts_visibility_timeout_seconds = var.alerts_visibility_timeout_seconds
  dlq_retention_seconds             = var.dlq_retention_seconds
  kms_key_arn                       = module.security.key_arn
  log_retention_days                = var.log_retention_days
  max_receive_count                 = var.max_receive_count
  ops_email                         = var.ops_email
  region                            = var.region
  suffix                            = var.suffix
  tags                              = local.tags
}
