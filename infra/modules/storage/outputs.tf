output "source_bucket" {
  description = "Source bucket name."
  value       = aws_s3_bucket.this["source"].bucket
}

output "source_bucket_arn" {
  description = "Source bucket ARN."
  value       = aws_s3_bucket.this["source"].arn
}

output "destination_bucket" {
  description = "Destination bucket name."
  value       = aws_s3_bucket.this["destination"].bucket
}

output "destination_bucket_arn" {
  description = "Destination bucket ARN."
  value       = aws_s3_bucket.this["destination"].arn
}

output "settings" {
  description = "Each bucket's encryption, public access, ownership and versioning (for tests and reviews)."
  value = {
    for role, b in aws_s3_bucket.this : role => {
      sse_algorithm = one(one(aws_s3_bucket_server_side_encryption_configuration.this[role].rule).apply_server_side_encryption_by_default).sse_algorithm
      public_access_blocked = alltrue([
        aws_s3_bucket_public_access_block.this[role].block_public_acls,
        aws_s3_bucket_public_access_block.this[role].block_public_policy,
        aws_s3_bucket_public_access_block.this[role].ignore_public_acls,
        aws_s3_bucket_public_access_block.this[role].restrict_public_buckets,
      ])
      ownership     = one(aws_s3_bucket_ownership_controls.this[role].rule).object_ownership
      versioning    = one(aws_s3_bucket_versioning.this[role].versioning_configuration).status
      policy        = aws_s3_bucket_policy.tls_only[role].policy
      force_destroy = b.force_destroy
      eventbridge   = contains(keys(aws_s3_bucket_notification.this), role)
    }
  }
}

output "resource_names" {
  description = "The name of every named resource of this module."
  value       = { for role, b in aws_s3_bucket.this : "s3_bucket.${role}" => b.bucket }
}
