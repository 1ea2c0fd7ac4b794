# As examples/complete/terraform.tfvars, without kms_key_arn: this example creates the key.
# Users: pass ../complete/users.auto.tfvars.json (-var-file), the file the simulator reads too.
region = "eu-west-1"
# Every resource name carries it; a second stack in the same account needs another name.
name       = "partner-intake"
vpc_id     = "vpc-0a1b2c3d4e5f67890"
subnet_ids = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
# Placeholders (RFC 5737 documentation ranges): nobody can connect from them. Put your partners'
# egress ranges here.
allowed_cidrs   = ["203.0.113.0/24", "198.51.100.17/32"]
internet_facing = true
lambda_zip_path = "../../../target/lambda/copy-lambda/bootstrap.zip"
# What the zip was built for: lambda/scripts/package.sh --arch x86_64|arm64 (the plan stops on a
# zip built for the other one).
lambda_architecture = "x86_64"
# None reserved: the function uses the account's unreserved concurrency (an account whose limit is
# 10 cannot reserve any). A number caps it; see infra/README.md, Throttling, before lowering it.
lambda_reserved_concurrency = null

table_deletion_protection = true
force_destroy             = false

tags = {
  Owner      = "platform-team"
  CostCenter = "intake"
}
