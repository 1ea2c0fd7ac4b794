variable "table_name" {
  description = "Table name."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
}

variable "kms_key_arn" {
  description = "Customer managed KMS key; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
