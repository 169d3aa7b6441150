# Local state by default; tools/tf.py passes -backend-config=path=build/<suffix>/terraform.tfstate,
# or writes backend_override.tf for an S3 backend with one key per suffix.
terraform {
  backend "local" {}
}
