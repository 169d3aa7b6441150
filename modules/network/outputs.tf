output "availability_zone_ids" {
  description = "The ids of the two zones the private subnets are in."
  value       = local.zone_ids
}

output "gateway_prefix_list_ids" {
  description = "Prefix list of each gateway endpoint, by service (the functions' security group allows HTTPS to them)."
  value       = { for k, e in aws_vpc_endpoint.gateway : k => e.prefix_list_id }
}

output "interface_endpoint_ids" {
  description = "Id of each interface endpoint, by service short name."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}

output "private_subnet_ids" {
  description = "Ids of the two private subnets, for the functions' vpc_config."
  value       = [for s in aws_subnet.private : s.id]
}

output "security_group_id" {
  description = "Security group for the functions: egress HTTPS to the endpoints and DynamoDB only."
  value       = aws_security_group.functions.id
}

output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}
