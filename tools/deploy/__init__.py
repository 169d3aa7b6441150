"""Deploying an environment: package the functions, render its variables, gate the policy, drive Terraform."""
