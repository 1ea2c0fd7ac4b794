output "source_bucket" {
  description = "Source bucket name."
  value       = aws_s3_bucket.this["source"].id
}

output "source_bucket_arn" {
  description = "Source bucket ARN."
  value       = aws_s3_bucket.this["source"].arn
}

output "destination_bucket" {
  description = "Destination bucket name."
  value       = aws_s3_bucket.this["destination"].id
}

output "destination_bucket_arn" {
  description = "Destination bucket ARN."
  value       = aws_s3_bucket.this["destination"].arn
}
