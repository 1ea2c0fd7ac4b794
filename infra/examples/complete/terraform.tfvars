region          = "eu-west-1"
name            = "partner-intake"
vpc_id          = "vpc-0a1b2c3d4e5f67890"
subnet_ids      = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
allowed_cidrs   = ["203.0.113.0/24", "198.51.100.17/32"]
internet_facing = true
lambda_zip_path = "../../../target/lambda/copy-lambda/bootstrap.zip"
kms_key_arn     = null

# Users are in users.auto.tfvars.json, which `harness sim --users` reads too.

tags = {
  Owner      = "platform-team"
  CostCenter = "intake"
}
