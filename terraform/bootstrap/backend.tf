# Local state by default; tools/deploy/tf.py passes -backend-config=path=build/account-<id>-<region>/terraform.tfstate,
# or writes backend_override.tf for an S3 backend (key fraud-pipeline/account-<id>-<region>.tfstate).
terraform {
  backend "local" {}
}
