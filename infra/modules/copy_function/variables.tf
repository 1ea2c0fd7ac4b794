variable "function_name" {
  description = "Function name."
  type        = string
}

variable "zip_path" {
  description = "The bootstrap.zip to deploy."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "settings" {
  description = "infra/definitions/copy-function.json: timeout_seconds and memory_size_mb (the reservation is var.reserved_concurrency, none by default)."
  type = object({
    timeout_seconds      = number
    memory_size_mb       = number
    reserved_concurrency = optional(number)
  })
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for the function; null reserves none (the function shares the account's unreserved pool)."
  type        = number
  default     = null
}

variable "source_bucket_arn" {
  description = "Source bucket ARN (read)."
  type        = string
}

variable "destination_bucket" {
  description = "Destination bucket name."
  type        = string
}

variable "destination_bucket_arn" {
  description = "Destination bucket ARN (write)."
  type        = string
}

variable "table_name" {
  description = "Metadata table name."
  type        = string
}

variable "table_arn" {
  description = "Metadata table ARN."
  type        = string
}

variable "multipart_threshold" {
  description = "Bytes above which copies use UploadPartCopy."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key for destination objects; null for SSE-S3."
  type        = string
  default     = null
}

variable "logs_kms_key_arn" {
  description = "KMS key for the log group; null for the service key."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
}

variable "tracing_enabled" {
  description = "X-Ray tracing."
  type        = bool
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
