variable "source_bucket" {
  description = "Source bucket name."
  type        = string
}

variable "destination_bucket" {
  description = "Destination bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS; null for SSE-S3."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let destroy delete the buckets with every object version in them."
  type        = bool
  default     = false
}

variable "incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
}

variable "noncurrent_version_days" {
  description = "Days a noncurrent version is kept."
  type        = number
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
