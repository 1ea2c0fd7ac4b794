# The complete example with a customer managed key: both buckets, the copy function's writes, the
# metadata table and the dead-letter queue are encrypted with one key this example creates, and
# the key's policy holds the statements the stack asks for (output kms_key_policy_statements).
#   terraform init && terraform apply -var-file=../complete/terraform.tfvars -var-file=../complete/users.auto.tfvars.json

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_kms_key" "intake" {
  description             = "${var.name}: partner intake buckets, metadata table and dead-letter queue"
  enable_key_rotation     = true
  deletion_window_in_days = var.key_deletion_window_days
  tags                    = var.tags
}

resource "aws_kms_alias" "intake" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.intake.key_id
}

# The key's policy, set once the stack exists (the EventBridge statement names its rule and queue):
# the account's IAM policies grant the stack's roles what each needs, and EventBridge, which has no
# role to hold such a grant, is named here.
resource "aws_kms_key_policy" "intake" {
  key_id = aws_kms_key.intake.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "AccountAdministersTheKeyAndDelegatesToIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      }],
      module.partner_intake.kms_key_policy_statements,
    )
  })
}

module "partner_intake" {
  source = "../.."

  name                        = var.name
  vpc_id                      = var.vpc_id
  subnet_ids                  = var.subnet_ids
  allowed_cidrs               = var.allowed_cidrs
  internet_facing             = var.internet_facing
  users                       = var.users
  lambda_zip_path             = var.lambda_zip_path
  lambda_reserved_concurrency = var.lambda_reserved_concurrency
  kms_key_arn                 = aws_kms_key.intake.arn
  dead_letter_kms_key_arn     = aws_kms_key.intake.arn
  table_deletion_protection   = var.table_deletion_protection
  force_destroy               = var.force_destroy
  log_retention_days          = var.log_retention_days
  tags                        = var.tags
}

output "harness" {
  description = "The document the harness reads for --target aws."
  value       = module.partner_intake.harness
}

output "kms_key_arn" {
  description = "The key encrypting the stack's data."
  value       = aws_kms_key.intake.arn
}
