variable "name" {
  description = "Resource prefix."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the endpoint."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the endpoint."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "Networks allowed on port 22."
  type        = list(string)
}

variable "internet_facing" {
  description = "Attach Elastic IPs."
  type        = bool
}

variable "security_policy_name" {
  description = "Transfer Family security policy."
  type        = string
}

variable "setstat_option" {
  description = "DEFAULT or ENABLE_NO_OP."
  type        = string
}

variable "host_key" {
  description = "Optional PEM host key."
  type        = string
  default     = null
  sensitive   = true
}

variable "users" {
  description = "Users and their SSH public keys."
  type = map(object({
    ssh_public_keys         = list(string)
    home_directory_type     = optional(string, "LOGICAL")
    home_directory          = optional(string)
    home_directory_mappings = optional(list(object({ entry = string, target = string })))
  }))
}

variable "source_bucket" {
  description = "Source bucket name."
  type        = string
}

variable "session_policy" {
  description = "The session (scope-down) policy document, with $${transfer:*} variables left for Transfer Family."
  type        = string
}

variable "access_role_policy" {
  description = "The access role's policy document (S3 permissions on the source bucket)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the source bucket; null for SSE-S3."
  type        = string
  default     = null
}

variable "logging_role" {
  description = "Also give the server a logging role (it then writes to /aws/transfer/<server-id> too); structured logs need none."
  type        = bool
  default     = false
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

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
