output "account_id" {
  description = "AWS account id the key lives in."
  value       = local.account_id
}

output "alias_name" {
  description = "Alias of the key, alias/<project>-<suffix>."
  value       = aws_kms_alias.this.name
}

output "dns_suffix" {
  description = "DNS suffix of the partition (amazonaws.com), for service endpoints in kms:ViaService values."
  value       = local.dns_suffix
}

output "key_arn" {
  description = "ARN of the customer-managed key; pass it to every module that encrypts data."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Id of the customer-managed key."
  value       = aws_kms_key.this.key_id
}

output "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov), for building ARNs."
  value       = local.partition
}
