# A private network for the functions: two private subnets in two zones, no internet or NAT gateway.
# The functions reach DynamoDB and S3 through gateway endpoints (routes to the services' prefix lists) and
# every other AWS API they call through interface endpoints with private DNS; their security group allows
# HTTPS out to those only. Without a path a call is never answered (no route): the functions' clients give
# up within seconds (lambdas/handler_kit.py), and tests/terraform checks that every service the code
# creates a client for has an endpoint here.
#
# Zones are chosen by zone id, not name: a zone name (us-east-1a) maps to a different physical zone
# in each account, a zone id (use1-az1) is the same everywhere. excluded_zone_ids keeps out zones
# that lack a service the stack needs (use1-az3: no capacity for several interface endpoints and
# Lambda in VPC).

data "aws_availability_zones" "available" {
  count = var.availability_zone_ids == null ? 1 : 0

  state            = "available"
  exclude_zone_ids = var.excluded_zone_ids

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  zone_ids = var.availability_zone_ids != null ? var.availability_zone_ids : slice(data.aws_availability_zones.available[0].zone_ids, 0, min(2, length(data.aws_availability_zones.available[0].zone_ids)))
  # Two equal private subnets: the first two quarters of the VPC range.
  subnets = { for i, zone_id in local.zone_ids : zone_id => cidrsubnet(var.cidr_block, 2, i) }
  name    = "fraud-detection-${var.suffix}"

  # Lambda owns the network interfaces of a VPC function (Hyperplane ENIs) and releases them only
  # some time after the function is deleted or leaves the VPC, often tens of minutes later
  # (terraform-provider-aws #10044, #10329); the subnets and security groups cannot be deleted until
  # then. The provider's default delete timeouts would fail a destroy that only had to wait longer.
  eni_release_timeout = "45m"
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true # private DNS of the interface endpoints needs both
  tags                 = merge(var.tags, { Name = local.name })
}

# Deny everything on the VPC's default security group; nothing should use it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "default-${local.name}" })
}

resource "aws_subnet" "private" {
  for_each = local.subnets

  vpc_id                  = aws_vpc.this.id
  availability_zone_id    = each.key
  cidr_block              = each.value
  map_public_ip_on_launch = false
  tags                    = merge(var.tags, { Name = "private-${each.key}-${var.suffix}" })

  timeouts {
    delete = local.eni_release_timeout
  }

  lifecycle {
    precondition {
      condition     = length(local.zone_ids) == 2
      error_message = "The region offers ${length(local.zone_ids)} usable availability zone(s) outside excluded_zone_ids (${join(", ", var.excluded_zone_ids)}); the functions need two. Pick another region or set availability_zone_ids."
    }
  }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "private-${local.name}" })
}

resource "aws_route_table_association" "private" {
  for_each = aws_subnet.private

  subnet_id      = each.value.id
  route_table_id = aws_route_table.private.id
}

# --- Flow logs ---------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (flow_log_retention_days, 7 days by default per the design); a year is a compliance choice for the platform team, not a default.
  name              = "/aws/vpc/flow-logs/${local.name}"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Confused-deputy guard: only flow logs of this account may assume the role.
data "aws_iam_policy_document" "flow_assume" {
  statement {
    sid     = "FlowLogsAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ec2:${var.region}:${data.aws_caller_identity.current.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow" {
  # IAM is global: the region keeps two regions' environments of the same suffix apart.
  name               = "vpc-flow-logs-${var.region}-${var.suffix}"
  description        = "Lets VPC Flow Logs write to ${aws_cloudwatch_log_group.flow.name}"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "flow" {
  statement {
    sid       = "WriteFlowLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [aws_cloudwatch_log_group.flow.arn, "${aws_cloudwatch_log_group.flow.arn}:*"]
  }

}

resource "aws_iam_role_policy" "flow" {
  name   = "vpc-flow-logs-${var.region}-${var.suffix}"
  role   = aws_iam_role.flow.id
  policy = data.aws_iam_policy_document.flow.json
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow.arn
  iam_role_arn         = aws_iam_role.flow.arn
  tags                 = merge(var.tags, { Name = "flow-logs-${local.name}" })
}

# --- Security groups ---------------------------------------------------------------------------

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to the Lambda functions' vpc_config by the root module (output security_group_id); checkov scans this module alone.
  name        = "functions-${local.name}"
  description = "Lambda functions: HTTPS out to the VPC endpoints and DynamoDB only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "functions-${local.name}" })

  timeouts {
    delete = local.eni_release_timeout
  }
}

resource "aws_vpc_security_group_egress_rule" "functions_to_endpoints" {
  security_group_id            = aws_security_group.functions.id
  description                  = "HTTPS to the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_gateway" {
  for_each = aws_vpc_endpoint.gateway

  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to ${each.key} through its gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = each.value.prefix_list_id
}

moved {
  from = aws_vpc_security_group_egress_rule.functions_to_dynamodb
  to   = aws_vpc_security_group_egress_rule.functions_to_gateway["dynamodb"]
}

resource "aws_security_group" "endpoints" {
  name        = "endpoints-${local.name}"
  description = "Interface endpoints: HTTPS in from the functions"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "endpoints-${local.name}" })

  timeouts {
    delete = local.eni_release_timeout
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_functions" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the functions"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
}

# --- Endpoints ---------------------------------------------------------------------------------

# Only this account's tables and buckets through the gateway endpoints: nothing in the VPC can copy data
# to another account's bucket or table (aws:ResourceAccount, a global condition key S3 and DynamoDB support).
data "aws_iam_policy_document" "gateway_endpoint" {
  statement {
    # parliament:skip=RESOURCE_STAR: An endpoint policy is a boundary, not a grant: it lets through whatever the caller's own IAM policy allows (each function's role names its tables and bucket), and only on this account's resources (the aws:ResourceAccount condition below).
    sid       = "OnlyThisAccountsResources"
    effect    = "Allow"
    actions   = [for service in sort(tolist(var.gateway_endpoint_services)) : "${service}:*"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_vpc_endpoint" "gateway" {
  for_each = var.gateway_endpoint_services

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  policy            = data.aws_iam_policy_document.gateway_endpoint.json
  tags              = merge(var.tags, { Name = "${each.key}-${local.name}" })
}

moved {
  from = aws_vpc_endpoint.dynamodb
  to   = aws_vpc_endpoint.gateway["dynamodb"]
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.interface_endpoint_services

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = [for s in aws_subnet.private : s.id]
  security_group_ids  = [aws_security_group.endpoints.id]
  tags                = merge(var.tags, { Name = "${each.key}-${local.name}" })
}
