provider "aws" {
  region = var.region

  # Environment, Project and CostCenter on every resource that takes tags.
  default_tags {
    tags = local.tags
  }
}
