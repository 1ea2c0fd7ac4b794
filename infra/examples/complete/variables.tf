variable "region" {
  description = "AWS region."
  type        = string
}

variable "name" {
  description = "Prefix of every resource name; two stacks in one account need two names."
  type        = string
}

variable "vpc_id" {
  description = "VPC for the SFTP endpoint."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the SFTP endpoint."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "Networks allowed on port 22: your partners' egress ranges (and, for tests, the runner's own address as a /32)."
  type        = list(string)
}

variable "internet_facing" {
  description = "Attach Elastic IPs."
  type        = bool
  default     = false
}

variable "users" {
  description = "SFTP users and their SSH public keys."
  type = map(object({
    ssh_public_keys         = list(string)
    home_directory_type     = optional(string, "LOGICAL")
    home_directory          = optional(string)
    home_directory_mappings = optional(list(object({ entry = string, target = string })))
  }))
}

variable "lambda_zip_path" {
  description = "Path of the function's bootstrap.zip."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS, or null for SSE-S3."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "x86_64 or arm64: build the zip for it (lambda/scripts/package.sh --arch)."
  type        = string
  default     = "x86_64"
}

variable "lambda_reserved_concurrency" {
  description = "Concurrency reserved for the copy function; null reserves none (accounts with a limit of 10 cannot reserve any)."
  type        = number
  default     = null
}

variable "table_deletion_protection" {
  description = "Protect the metadata table from deletion; false for stacks that are destroyed again (tests)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy empty and delete the versioned buckets; true only for stacks that are destroyed again (tests)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
