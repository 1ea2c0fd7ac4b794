resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "file_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "file_id"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "customer_id"
    type = "S"
  }

  attribute {
    name = "upload_timestamp"
    type = "S"
  }

  # "Which files failed since yesterday?"
  global_secondary_index {
    name            = "by-status"
    hash_key        = "status"
    range_key       = "upload_timestamp"
    projection_type = "ALL"
  }

  # "What did this partner send?"
  global_secondary_index {
    name            = "by-customer"
    hash_key        = "customer_id"
    range_key       = "upload_timestamp"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
