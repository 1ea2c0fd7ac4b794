# A complete deployment of the pipeline. Copy terraform.tfvars, set your VPC, subnets, partner
# networks and keys, build the function (lambda/scripts/package.sh), then:
#   terraform init && terraform apply
#   terraform output -json > outputs.json   # the harness reads this: harness scenario smoke --target aws --stack outputs.json

provider "aws" {
  region = var.region
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
  kms_key_arn                 = var.kms_key_arn
  table_deletion_protection   = var.table_deletion_protection
  force_destroy               = var.force_destroy
  log_retention_days          = var.log_retention_days
  tags                        = var.tags
}

output "harness" {
  description = "The document the harness reads for --target aws."
  value       = module.partner_intake.harness
}
