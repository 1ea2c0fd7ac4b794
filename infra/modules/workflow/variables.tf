variable "name" {
  description = "State machine name and resource prefix."
  type        = string
}

variable "state_machine_file" {
  description = "The ASL definition file (infra/definitions/state-machine.asl.json)."
  type        = string
}

variable "event_pattern_file" {
  description = "The event pattern file."
  type        = string
}

variable "input_transformer_file" {
  description = "The input transformer file."
  type        = string
}

variable "rule_target_file" {
  description = "JSON file with the rule target's RetryPolicy (MaximumEventAgeInSeconds, MaximumRetryAttempts), shared with the simulator."
  type        = string
}

variable "logging_file" {
  description = "JSON file with the state machine's execution logging (level, include_execution_data), shared with the simulator."
  type        = string
}

variable "function_arn" {
  description = "Copy function ARN."
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

variable "source_bucket" {
  description = "Source bucket name (the rule matches it)."
  type        = string
}

variable "destination_bucket" {
  description = "Destination bucket name (placed in the execution input)."
  type        = string
}

variable "table_kms_key_arn" {
  description = "Customer managed key of the metadata table (the state machine's RecordFailure writes through it); null for the AWS managed key."
  type        = string
  default     = null
}

variable "dead_letter_kms_key_arn" {
  description = "KMS key for the dead-letter queue; null for SQS-managed encryption (SSE-SQS), which EventBridge can always write to."
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
