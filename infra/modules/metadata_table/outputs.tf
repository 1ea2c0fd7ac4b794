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
    billing_mode = aws_dynamodb_table.this.billing_mode
    pitr         = one(aws_dynamodb_table.this.point_in_time_recovery).enabled
    encrypted    = one(aws_dynamodb_table.this.server_side_encryption).enabled
    indexes      = sort([for i in aws_dynamodb_table.this.global_secondary_index : i.name])
  }
}
