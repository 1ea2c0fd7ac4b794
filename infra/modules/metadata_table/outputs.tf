output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "settings" {
  description = "Billing, recovery, encryption and indexes (for tests)."
  value = {
    billing_mode        = aws_dynamodb_table.this.billing_mode
    pitr                = one(aws_dynamodb_table.this.point_in_time_recovery).enabled
    encrypted           = one(aws_dynamodb_table.this.server_side_encryption).enabled
    kms_key_arn         = one(aws_dynamodb_table.this.server_side_encryption).kms_key_arn
    deletion_protection = aws_dynamodb_table.this.deletion_protection_enabled
    indexes             = sort([for i in aws_dynamodb_table.this.global_secondary_index : i.name])
  }
}

output "resource_names" {
  description = "The name of every named resource of this module."
  value       = { "dynamodb_table" = aws_dynamodb_table.this.name }
}
