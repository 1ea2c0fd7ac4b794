variable "name" {
  description = "Prefix for every resource name (lowercase letters, digits and hyphens)."
  type        = string
  default     = "partner-intake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# --- Network (Transfer Family VPC endpoint) ---

variable "vpc_id" {
  description = "VPC hosting the SFTP endpoint."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the SFTP endpoint (one per Availability Zone)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one subnet id."
  }
}

variable "allowed_cidrs" {
  description = "CIDR blocks allowed to reach the SFTP endpoint on port 22."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "Every allowed_cidrs entry must be a CIDR block such as 203.0.113.0/24."
  }
}

variable "internet_facing" {
  description = "Attach one Elastic IP per subnet so partners reach the endpoint from the internet."
  type        = bool
  default     = false
}

# --- SFTP server ---

variable "security_policy_name" {
  description = "Transfer Family security policy (key exchange, ciphers, MACs, host keys); the default is the newest general one the provider accepts."
  type        = string
  default     = "TransferSecurityPolicy-2025-03"

  validation {
    condition     = startswith(var.security_policy_name, "TransferSecurityPolicy-")
    error_message = "security_policy_name is a Transfer Family security policy name such as TransferSecurityPolicy-2025-03."
  }
}

variable "setstat_option" {
  description = "DEFAULT refuses SETSTAT; ENABLE_NO_OP ignores it (some clients need that)."
  type        = string
  default     = "DEFAULT"

  validation {
    condition     = contains(["DEFAULT", "ENABLE_NO_OP"], var.setstat_option)
    error_message = "setstat_option must be DEFAULT or ENABLE_NO_OP."
  }
}

variable "sftp_logging_role" {
  description = "Also give the SFTP server a logging role. Not needed: structured JSON session logs go to /aws/transfer/<name> (output log_groups.sftp) without one. With a role, Transfer Family also writes to /aws/transfer/<server-id>; the stack creates that group and lets the role write only there."
  type        = bool
  default     = false
}

variable "host_key" {
  description = "Optional PEM private host key (RSA, ECDSA or ED25519) so the endpoint keeps its fingerprint across rebuilds."
  type        = string
  default     = null
  sensitive   = true
}

variable "users" {
  description = "SFTP users (see examples/complete/users.auto.tfvars.json, which the simulator reads too): several SSH public keys each; a LOGICAL home chrooted to /<source bucket>/<user> unless home_directory_mappings say otherwise (a LOGICAL user lands on /: AWS ignores home_directory for it), or a PATH home (home_directory_type = \"PATH\", home_directory defaults to /<source bucket>/<user>); $${source_bucket} and $${transfer:UserName} are filled in."
  type = map(object({
    ssh_public_keys         = list(string)
    home_directory_type     = optional(string, "LOGICAL")
    home_directory          = optional(string)
    home_directory_mappings = optional(list(object({ entry = string, target = string })))
  }))

  validation {
    condition     = alltrue([for name, u in var.users : can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_@.-]{2,99}$", name)) && length(u.ssh_public_keys) > 0])
    error_message = "User names are 3-100 characters of letters, digits, _ @ . - and every user needs at least one SSH public key."
  }

  validation {
    condition     = alltrue([for name, u in var.users : contains(["LOGICAL", "PATH"], u.home_directory_type)])
    error_message = "home_directory_type is LOGICAL or PATH."
  }

  validation {
    condition = alltrue(flatten([for name, u in var.users : [
      for m in coalesce(u.home_directory_mappings, []) : startswith(m.entry, "/") && startswith(m.target, "/")
    ]]))
    error_message = "Every home_directory_mappings entry and target is an absolute path (/entry, /bucket/prefix)."
  }
}

# --- Storage and encryption ---

variable "source_bucket_name" {
  description = "Name of the bucket partners upload into (defaults to <name>-source-<account id>); it must contain var.name."
  type        = string
  default     = null

  validation {
    condition     = var.source_bucket_name == null || strcontains(coalesce(var.source_bucket_name, "-"), var.name)
    error_message = "source_bucket_name must contain var.name, so that stacks of different names never share a resource name."
  }
}

variable "destination_bucket_name" {
  description = "Name of the bucket files are copied to (defaults to <name>-destination-<account id>); it must contain var.name."
  type        = string
  default     = null

  validation {
    condition     = var.destination_bucket_name == null || strcontains(coalesce(var.destination_bucket_name, "-"), var.name)
    error_message = "destination_bucket_name must contain var.name, so that stacks of different names never share a resource name."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete both buckets with every object version in them (test stacks); false keeps a non-empty bucket from being destroyed."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for both buckets (SSE-KMS), the copy function's writes and the metadata table; null uses SSE-S3 and the table's AWS managed key. Its key policy must let this account's IAM policies grant its use (the default key policy does): the stack grants each role what it needs."
  type        = string
  default     = null
}

variable "dead_letter_kms_key_arn" {
  description = "KMS key for the queue of events EventBridge could not deliver. null (the default, also with kms_key_arn set) uses SQS-managed encryption, which EventBridge can always write to. A customer managed key works only if its key policy lets events.amazonaws.com use it: add the statement of the kms_key_policy_statements output (this stack does not manage key policies)."
  type        = string
  default     = null
}

variable "incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
}

variable "noncurrent_version_days" {
  description = "Days a noncurrent object version is kept."
  type        = number
  default     = 90
}

# --- Metadata table ---

variable "table_name" {
  description = "Name of the DynamoDB table holding one record per file (defaults to <name>-file-transfer-metadata); it must contain var.name."
  type        = string
  default     = null

  validation {
    condition     = var.table_name == null || strcontains(coalesce(var.table_name, "-"), var.name)
    error_message = "table_name must contain var.name, so that stacks of different names never share a resource name."
  }
}

variable "table_deletion_protection" {
  description = "Protect the metadata table from deletion (set false for stacks that are destroyed, such as the nightly test stack)."
  type        = bool
  default     = true
}

# --- Copy function and workflow ---

variable "lambda_zip_path" {
  description = "Path of the bootstrap.zip built by lambda/scripts/package.sh (its bootstrap.json beside it says which architecture it was built for)."
  type        = string
}

variable "lambda_architecture" {
  description = "x86_64 or arm64; the zip must be built for it (lambda/scripts/package.sh reads this default, and the plan stops on a zip built for the other one)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Concurrent executions reserved for the copy function. null (default) reserves none: the function draws on the account's unreserved concurrency, and accounts whose limit is 10 can deploy (AWS keeps 100 unreserved, so they can reserve nothing). A number also caps the function; the state machine's throttling retries are sized so a burst of 1,000 uploads still ends transferred at 10 (see infra/README.md, Throttling)."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_reserved_concurrency == null || try(var.lambda_reserved_concurrency >= 1 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency, false)
    error_message = "lambda_reserved_concurrency is null (none) or a whole number of at least 1 (0 would stop the function)."
  }
}

variable "copy_multipart_threshold" {
  description = "Bytes above which the copy function copies part by part (UploadPartCopy)."
  type        = number
  default     = 5368709120
}

variable "log_retention_days" {
  description = "Retention of every log group (Transfer Family sessions, function, state machine)."
  type        = number
  default     = 365
}

variable "tracing_enabled" {
  description = "X-Ray tracing for the state machine and the function."
  type        = bool
  default     = true
}
