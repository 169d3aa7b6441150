# A private network for the functions: two private subnets in two zones, no internet or NAT gateway.
# The functions reach DynamoDB through a gateway endpoint and every other AWS API they call through
# interface endpoints with private DNS; their security group allows HTTPS out to those only.

data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0

  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  zones = var.availability_zones != null ? var.availability_zones : slice(data.aws_availability_zones.available[0].names, 0, 2)
  # Two equal private subnets: the first two quarters of the VPC range.
  subnets = { for i, zone in local.zones : zone => cidrsubnet(var.cidr_block, 2, i) }
  name    = "fraud-detection-${var.suffix}"
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
  availability_zone       = each.key
  cidr_block              = each.value
  map_public_ip_on_launch = false
  tags                    = merge(var.tags, { Name = "private-${each.key}-${var.suffix}" })
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
  name               = "vpc-flow-logs-${var.suffix}"
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

  # AWS lists DescribeLogGroups among the permissions flow logs need to publish to CloudWatch Logs.
  # It is a list action: IAM authorises it on the account's log-group namespace, not on one group.
  statement {
    sid       = "FindFlowLogGroup"
    effect    = "Allow"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "flow" {
  name   = "vpc-flow-logs-${var.suffix}"
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
}

resource "aws_vpc_security_group_egress_rule" "functions_to_endpoints" {
  security_group_id            = aws_security_group.functions.id
  description                  = "HTTPS to the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_dynamodb" {
  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to DynamoDB through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.dynamodb.prefix_list_id
}

resource "aws_security_group" "endpoints" {
  name        = "endpoints-${local.name}"
  description = "Interface endpoints: HTTPS in from the functions"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "endpoints-${local.name}" })
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

resource "aws_vpc_endpoint" "dynamodb" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  tags              = merge(var.tags, { Name = "dynamodb-${local.name}" })
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
