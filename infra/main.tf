# The partner file intake pipeline: Transfer Family SFTP -> S3 -> EventBridge -> Step Functions
# -> copy Lambda -> S3 + DynamoDB. The workflow's definition files live in ./definitions and are
# shared with the harness's simulator.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id         = data.aws_caller_identity.current.account_id
  source_bucket      = coalesce(var.source_bucket_name, "${var.name}-source-${local.account_id}")
  destination_bucket = coalesce(var.destination_bucket_name, "${var.name}-destination-${local.account_id}")
  table_name         = coalesce(var.table_name, "${var.name}-file-transfer-metadata")
  function_settings  = jsondecode(file("${path.module}/definitions/copy-function.json"))
  tags               = merge({ Project = "partner-intake", ManagedBy = "terraform" }, var.tags)
}

module "storage" {
  source = "./modules/storage"

  source_bucket             = local.source_bucket
  destination_bucket        = local.destination_bucket
  settings                  = jsondecode(file("${path.module}/definitions/buckets.json"))
  kms_key_arn               = var.kms_key_arn
  force_destroy             = var.force_destroy
  incomplete_multipart_days = var.incomplete_multipart_days
  noncurrent_version_days   = var.noncurrent_version_days
  tags                      = local.tags
}

module "metadata_table" {
  source = "./modules/metadata_table"

  table_name          = local.table_name
  deletion_protection = var.table_deletion_protection
  kms_key_arn         = var.kms_key_arn
  tags                = local.tags
}

module "copy_function" {
  source = "./modules/copy_function"

  function_name          = "${var.name}-copy"
  zip_path               = var.lambda_zip_path
  architecture           = var.lambda_architecture
  settings               = local.function_settings
  reserved_concurrency   = var.lambda_reserved_concurrency
  source_bucket_arn      = module.storage.source_bucket_arn
  destination_bucket     = module.storage.destination_bucket
  destination_bucket_arn = module.storage.destination_bucket_arn
  table_name             = module.metadata_table.name
  table_arn              = module.metadata_table.arn
  multipart_threshold    = var.copy_multipart_threshold
  kms_key_arn            = var.kms_key_arn
  log_retention_days     = var.log_retention_days
  tracing_enabled        = var.tracing_enabled
  tags                   = local.tags
}

module "workflow" {
  source = "./modules/workflow"

  name                    = "${var.name}-transfer"
  state_machine_file      = "${path.module}/definitions/state-machine.asl.json"
  event_pattern_file      = "${path.module}/definitions/event-pattern.json"
  input_transformer_file  = "${path.module}/definitions/input-transformer.json"
  rule_target_file        = "${path.module}/definitions/rule-target.json"
  logging_file            = "${path.module}/definitions/state-machine-logging.json"
  function_arn            = module.copy_function.function_arn
  table_name              = module.metadata_table.name
  table_arn               = module.metadata_table.arn
  source_bucket           = module.storage.source_bucket
  destination_bucket      = module.storage.destination_bucket
  table_kms_key_arn       = var.kms_key_arn
  dead_letter_kms_key_arn = var.dead_letter_kms_key_arn
  log_retention_days      = var.log_retention_days
  tracing_enabled         = var.tracing_enabled
  tags                    = local.tags
}

module "sftp" {
  source = "./modules/sftp"

  name                 = var.name
  vpc_id               = var.vpc_id
  subnet_ids           = var.subnet_ids
  allowed_cidrs        = var.allowed_cidrs
  internet_facing      = var.internet_facing
  security_policy_name = var.security_policy_name
  setstat_option       = var.setstat_option
  host_key             = var.host_key
  users                = var.users
  source_bucket        = module.storage.source_bucket
  # ${source_bucket} is ours to fill; ${transfer:UserName} is left for Transfer Family.
  session_policy     = replace(file("${path.module}/definitions/session-policy.json"), "$${source_bucket}", module.storage.source_bucket)
  access_role_policy = replace(file("${path.module}/definitions/access-role-policy.json"), "$${source_bucket}", module.storage.source_bucket)
  kms_key_arn        = var.kms_key_arn
  logging_role       = var.sftp_logging_role
  log_retention_days = var.log_retention_days
  tags               = local.tags
}
