variable "source_bucket" {
  description = "Source bucket name."
  type        = string
}

variable "destination_bucket" {
  description = "Destination bucket name."
  type        = string
}

variable "settings" {
  description = "infra/definitions/buckets.json: per bucket (source, destination), versioning (Enabled or Suspended) and whether it sends its events to EventBridge."
  type = map(object({
    versioning  = string
    eventbridge = bool
  }))

  validation {
    condition     = alltrue([for k in ["source", "destination"] : contains(keys(var.settings), k)]) && alltrue([for s in values(var.settings) : contains(["Enabled", "Suspended"], s.versioning)])
    error_message = "settings needs source and destination, each with versioning Enabled or Suspended."
  }
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
