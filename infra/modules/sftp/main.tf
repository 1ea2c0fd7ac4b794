data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Each role is assumed by this account's Transfer Family only, in the context AWS documents:
  # the access role for the users of this server (user/<server-id>/*), the logging role for a
  # server (server/*: the server takes the role's ARN when it is created, so the role cannot name
  # the server's id without a cycle).
  transfer_source = "arn:${data.aws_partition.current.partition}:transfer:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  access_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "transfer.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "${local.transfer_source}:user/${aws_transfer_server.this.id}/*" }
      }
    }]
  })
  logging_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "transfer.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "${local.transfer_source}:server/*" }
      }
    }]
  })

  default_home = "/$${source_bucket}/$${transfer:UserName}"
  # Placeholders filled in per user: the source bucket and the user name (any case, as AWS reads it).
  homes = {
    for user, u in var.users : user => {
      path = replace(replace(coalesce(u.home_directory, local.default_home), "$${source_bucket}", var.source_bucket), "/(?i)\\$\\{transfer:username\\}/", user)
      mappings = [
        for m in(u.home_directory_mappings == null ? [{ entry = "/", target = local.default_home }] : u.home_directory_mappings) : {
          entry  = m.entry
          target = replace(replace(m.target, "$${source_bucket}", var.source_bucket), "/(?i)\\$\\{transfer:username\\}/", user)
        }
      ]
    }
  }

  # A session policy is intersected with the access role's permissions: with SSE-KMS buckets the
  # session must allow the key as well, or every read and write is denied. The file stays the
  # source of truth; the statement is added here, and $${transfer:...} variables stay literal.
  kms_session_statement = {
    Sid      = "UseBucketKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.kms_key_arn]
  }
  session_policy = var.kms_key_arn == null ? var.session_policy : jsonencode(merge(
    jsondecode(var.session_policy),
    { Statement = concat(jsondecode(var.session_policy).Statement, [local.kms_session_statement]) },
  ))

  # One entry per (user, key).
  user_keys = merge([
    for user, u in var.users : {
      for i, key in u.ssh_public_keys : "${user}/${i}" => { user = user, key = key }
    }
  ]...)
}

resource "aws_security_group" "endpoint" {
  name        = "${var.name}-sftp"
  description = "SFTP (port 22) from the partners' networks to the Transfer Family endpoint"
  vpc_id      = var.vpc_id

  ingress {
    description = "SFTP from allowed partner networks"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.allowed_cidrs
  }

  # No egress rules: the endpoint only answers connections (Terraform removes AWS's default allow-all).

  tags = var.tags
}

resource "aws_eip" "endpoint" {
  #checkov:skip=CKV2_AWS_19:These addresses are attached to the Transfer Family VPC endpoint (address_allocation_ids), not to EC2 instances.
  count  = var.internet_facing ? length(var.subnet_ids) : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-sftp-${count.index}" })
}

resource "aws_cloudwatch_log_group" "sessions" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted with the CloudWatch Logs service key unless a key is given.
  name              = "/aws/transfer/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# Session logs: structured JSON to the log group above (structured_log_destinations, no role
# needed). A logging role is optional; with one, Transfer Family also writes to
# /aws/transfer/<server-id>, a group named after the server, so that group is created here once the
# server id is known and the role may write there and nowhere else.
resource "aws_iam_role" "logging" {
  count              = var.logging_role ? 1 : 0
  name               = "${var.name}-transfer-logging"
  assume_role_policy = local.logging_trust_policy
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "logging_role" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted with the CloudWatch Logs service key unless a key is given.
  count             = var.logging_role ? 1 : 0
  name              = "/aws/transfer/${aws_transfer_server.this.id}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role_policy" "logging" {
  count = var.logging_role ? 1 : 0
  name  = "session-logs"
  role  = aws_iam_role.logging[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "SessionLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = [aws_cloudwatch_log_group.logging_role[0].arn, "${aws_cloudwatch_log_group.logging_role[0].arn}:*"]
    }]
  })
}

resource "aws_transfer_server" "this" {
  #checkov:skip=CKV_AWS_380:security_policy_name is a variable defaulting to TransferSecurityPolicy-2025-03, the newest general policy; checkov cannot resolve it through the module call.
  endpoint_type          = "VPC"
  identity_provider_type = "SERVICE_MANAGED"
  protocols              = ["SFTP"]
  domain                 = "S3"
  security_policy_name   = var.security_policy_name
  host_key               = var.host_key
  logging_role           = var.logging_role ? aws_iam_role.logging[0].arn : null
  structured_log_destinations = [
    "${aws_cloudwatch_log_group.sessions.arn}:*",
  ]

  endpoint_details {
    vpc_id                 = var.vpc_id
    subnet_ids             = var.subnet_ids
    security_group_ids     = [aws_security_group.endpoint.id]
    address_allocation_ids = var.internet_facing ? aws_eip.endpoint[*].id : null
  }

  protocol_details {
    set_stat_option = var.setstat_option
  }

  tags = merge(var.tags, { Name = var.name })
}

# One access role for every user; the session policy narrows it to the user's own folder.
resource "aws_iam_role" "access" {
  name               = "${var.name}-sftp-access"
  assume_role_policy = local.access_trust_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "access" {
  name = "home-folders"
  role = aws_iam_role.access.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      jsondecode(var.access_role_policy).Statement,
      var.kms_key_arn == null ? [] : [{
        # S3 calls KMS as the session: GenerateDataKey for PutObject and CreateMultipartUpload,
        # Decrypt for GetObject, UploadPart and CompleteMultipartUpload.
        Sid      = "Encryption"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      }],
    )
  })
}

# Homes are declared as in users.auto.tfvars.json (shared with the simulator): $${source_bucket} is
# this stack's source bucket; $${transfer:UserName} is the user's name.
resource "aws_transfer_user" "this" {
  for_each = var.users

  server_id           = aws_transfer_server.this.id
  user_name           = each.key
  role                = aws_iam_role.access.arn
  policy              = local.session_policy
  home_directory_type = each.value.home_directory_type
  # AWS reads HomeDirectory for PATH homes only: a LOGICAL user always lands on / (its mappings'
  # entries are what it sees there), so a LOGICAL home_directory is not sent.
  home_directory = each.value.home_directory_type == "PATH" ? local.homes[each.key].path : null

  dynamic "home_directory_mappings" {
    for_each = each.value.home_directory_type == "LOGICAL" ? local.homes[each.key].mappings : []
    content {
      entry  = home_directory_mappings.value.entry
      target = home_directory_mappings.value.target
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.session_policy) <= 2048
      error_message = "Transfer Family accepts session policies of at most 2048 characters."
    }
  }
}

resource "aws_transfer_ssh_key" "this" {
  for_each = local.user_keys

  server_id = aws_transfer_server.this.id
  user_name = aws_transfer_user.this[each.value.user].user_name
  body      = each.value.key
}
