# `terraform output -json` gives one document; the harness reads `harness.value` (see README.md).

output "harness" {
  description = "Everything the harness needs for --target aws, as one versioned document."
  value = {
    schema_version = 1
    region         = data.aws_region.current.name
    sftp = {
      host                 = module.sftp.endpoint
      port                 = 22
      server_id            = module.sftp.server_id
      host_key_fingerprint = module.sftp.host_key_fingerprint
      elastic_ips          = module.sftp.elastic_ips
      users                = module.sftp.users
    }
    buckets = {
      source      = module.storage.source_bucket
      destination = module.storage.destination_bucket
    }
    table             = module.metadata_table.name
    state_machine_arn = module.workflow.state_machine_arn
    function_name     = module.copy_function.function_name
    event_rule        = module.workflow.rule_name
    dead_letter_queue = module.workflow.dead_letter_queue_url
    log_groups = {
      sftp          = module.sftp.log_group
      function      = module.copy_function.log_group
      state_machine = module.workflow.log_group
    }
  }
}

output "sftp_endpoint" {
  description = "SFTP host name partners connect to."
  value       = module.sftp.endpoint
}

output "kms_key_policy_statements" {
  description = "Statements the customer managed keys' policies must contain besides the account's own (IAM-enabling) statement. The stack does not manage key policies; add these to them. Empty without dead_letter_kms_key_arn."
  value       = [for s in [module.workflow.dead_letter_key_policy_statement] : s if s != null]
}

output "sftp_logging_role_log_group" {
  description = "With sftp_logging_role: the group Transfer Family writes to through the role (/aws/transfer/<server-id>); null otherwise. Structured session logs are in harness.log_groups.sftp either way."
  value       = module.sftp.logging.logging_role_log_group
}

output "dead_letter_queue_url" {
  description = "Events EventBridge could not deliver to the state machine."
  value       = module.workflow.dead_letter_queue_url
}

output "resource_names" {
  description = "The name of every named resource the stack creates, each carrying var.name (cleanup scripts and the nightly collision test read it)."
  value = merge(
    module.storage.resource_names,
    module.metadata_table.resource_names,
    module.copy_function.resource_names,
    module.workflow.resource_names,
    module.sftp.resource_names,
  )
}
