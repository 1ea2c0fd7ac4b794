# Plans and applies the whole stack against a mocked AWS provider, with the example's
# variables (terraform test -var-file=examples/complete/terraform.tfvars), and checks the
# properties the stack promises.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  # The example points at the real build output; the tests use a placeholder zip.
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
}

run "sftp_endpoint" {
  command = apply

  assert {
    condition     = module.sftp.settings.endpoint_type == "VPC"
    error_message = "The SFTP endpoint must be a VPC endpoint."
  }
  assert {
    condition     = module.sftp.settings.security_policy_name == "TransferSecurityPolicy-2025-03"
    error_message = "The default security policy is TransferSecurityPolicy-2025-03, the newest general one."
  }
  assert {
    condition     = module.sftp.settings.set_stat_option == "DEFAULT"
    error_message = "SETSTAT is refused unless asked for."
  }
  assert {
    condition     = length(module.sftp.settings.ingress_ports) == 1 && module.sftp.settings.ingress_ports[0] == 22 && toset(module.sftp.settings.ingress_cidrs) == toset(var.allowed_cidrs)
    error_message = "Only port 22 from the allowed CIDRs."
  }
  # Homes as users.auto.tfvars.json declares them, placeholders filled in per user.
  assert {
    condition = (module.sftp.settings.users["acme"].home_directory_type == "LOGICAL"
      && length(module.sftp.settings.users["acme"].mappings) == 1
      && module.sftp.settings.users["acme"].mappings[0].entry == "/"
    && module.sftp.settings.users["acme"].mappings[0].target == "/partner-intake-source-123456789012/acme")
    error_message = "A user without mappings is chrooted to /<source bucket>/<user>."
  }
  assert {
    condition = (join(",", [for m in module.sftp.settings.users["globex"].mappings : "${m.entry}=${m.target}"])
    == "/inbound=/partner-intake-source-123456789012/globex/inbound,/outbound=/partner-intake-source-123456789012/globex/outbound")
    error_message = "Several mappings keep their entries; $${source_bucket} and $${transfer:UserName} are filled in."
  }
  # globex declares home_directory = "/inbound" with a LOGICAL home: AWS ignores it (the user
  # lands on /), so it is not sent.
  assert {
    condition     = module.sftp.settings.users["globex"].home_directory == null && module.sftp.settings.users["acme"].home_directory == null
    error_message = "A LOGICAL user gets no home_directory: it lands on /, as AWS does with one."
  }
  assert {
    condition = (module.sftp.settings.users["initech"].home_directory_type == "PATH"
      && module.sftp.settings.users["initech"].home_directory == "/partner-intake-source-123456789012/initech"
    && length(module.sftp.settings.users["initech"].mappings) == 0)
    error_message = "A PATH user lands in /<source bucket>/<user> and has no mappings."
  }
  assert {
    condition = alltrue([for name, u in module.sftp.settings.users :
    u.session_policy == replace(file("definitions/session-policy.json"), "$${source_bucket}", "partner-intake-source-123456789012")])
    error_message = "Every user gets the shared session policy file, with the source bucket filled in."
  }
  assert {
    condition     = module.sftp.settings.users["acme"].keys == 2 && module.sftp.settings.users["globex"].keys == 1 && module.sftp.settings.users["initech"].keys == 1
    error_message = "Every SSH key of every user is registered."
  }
  assert {
    condition     = length(module.sftp.elastic_ips) == length(var.subnet_ids)
    error_message = "An internet-facing endpoint has one Elastic IP per subnet."
  }
}

run "buckets" {
  command = apply

  assert {
    condition     = alltrue([for role, b in module.storage.settings : b.sse_algorithm == "AES256"])
    error_message = "Without a KMS key both buckets use SSE-S3."
  }
  assert {
    condition     = alltrue([for role, b in module.storage.settings : b.public_access_blocked])
    error_message = "Public access is blocked on both buckets."
  }
  assert {
    condition     = alltrue([for role, b in module.storage.settings : b.ownership == "BucketOwnerEnforced" && b.versioning == "Enabled"])
    error_message = "Both buckets enforce bucket-owner ownership and keep versions."
  }
  assert {
    # The simulator reads the same file: versioning and EventBridge notifications, bucket by bucket.
    condition = alltrue([for role, want in jsondecode(file("definitions/buckets.json")) :
    module.storage.settings[role].versioning == want.versioning && module.storage.settings[role].eventbridge == want.eventbridge])
    error_message = "Each bucket is versioned and notifies EventBridge as definitions/buckets.json says."
  }
  assert {
    condition = alltrue([for role, b in module.storage.settings :
    jsondecode(b.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(b.policy).Statement[0].Effect == "Deny"])
    error_message = "Both buckets refuse requests without TLS."
  }
}

run "buckets_with_kms" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = alltrue([for role, b in module.storage.settings : b.sse_algorithm == "aws:kms"])
    error_message = "With a KMS key both buckets use SSE-KMS."
  }
  assert {
    condition     = module.copy_function.settings.environment["DESTINATION_SSE"] == "aws:kms"
    error_message = "The function writes with the same key."
  }
}

run "workflow_uses_the_shared_files" {
  command = apply

  assert {
    condition     = jsondecode(module.workflow.rule.event_pattern) == jsondecode(templatefile("definitions/event-pattern.json", { source_bucket = output.harness.buckets.source }))
    error_message = "The rule's pattern is the shared event-pattern file."
  }
  assert {
    condition     = module.workflow.rule.input_template == jsondecode(templatefile("definitions/input-transformer.json", { destination_bucket = output.harness.buckets.destination })).InputTemplate && jsonencode(module.workflow.rule.input_paths) == jsonencode(jsondecode(file("definitions/input-transformer.json")).InputPathsMap)
    error_message = "The target's input transformer is the shared file."
  }
  assert {
    condition     = jsondecode(module.workflow.rule.definition).States.TransferFile.Parameters.FunctionName == module.copy_function.function_arn
    error_message = "The state machine is the shared definition, invoking the copy function."
  }
  assert {
    condition     = module.workflow.rule.logging_level == "ALL"
    error_message = "The state machine logs every event."
  }
  assert {
    condition     = module.workflow.rule.dead_letter != null && module.workflow.rule.dead_letter != ""
    error_message = "Undeliverable events go to a dead-letter queue."
  }
  assert {
    # The simulator retries and dead-letters by the same file.
    condition = (module.workflow.rule.retry_policy.maximum_retry_attempts == jsondecode(file("definitions/rule-target.json")).RetryPolicy.MaximumRetryAttempts
    && module.workflow.rule.retry_policy.maximum_event_age_in_seconds == jsondecode(file("definitions/rule-target.json")).RetryPolicy.MaximumEventAgeInSeconds)
    error_message = "The rule target's retry policy is definitions/rule-target.json's."
  }
}

run "least_privilege" {
  command = apply

  assert {
    condition     = jsondecode(module.workflow.events_role_policy).Statement[0].Action == ["states:StartExecution"] && jsondecode(module.workflow.events_role_policy).Statement[0].Resource == [module.workflow.state_machine_arn]
    error_message = "EventBridge may only start this state machine."
  }
  assert {
    condition = alltrue([for s in jsondecode(module.workflow.states_role_policy).Statement :
      s.Sid != "InvokeCopyFunction" || s.Resource == [module.copy_function.function_arn, "${module.copy_function.function_arn}:*"]
    ])
    error_message = "The state machine may invoke only the copy function."
  }
  assert {
    condition = alltrue([for s in jsondecode(module.copy_function.role_policy).Statement :
      (s.Sid == "ReadSource" && s.Resource == ["${module.storage.source_bucket_arn}/*"]) ||
      (s.Sid == "ListSource" && s.Resource == [module.storage.source_bucket_arn]) ||
      (s.Sid == "WriteDestination" && s.Resource == ["${module.storage.destination_bucket_arn}/*"]) ||
      (s.Sid == "Records" && s.Resource == [module.metadata_table.arn]) ||
      (s.Sid == "Logs" && length(s.Resource) == 1)
    ])
    error_message = "The function's role names the source, destination, table and its log group, nothing wider."
  }
  assert {
    condition = alltrue([for s in jsondecode(module.sftp.access_role_policy).Statement :
    alltrue([for r in s.Resource : startswith(r, module.storage.source_bucket_arn)])])
    error_message = "The SFTP access role reaches only the source bucket."
  }
}

run "trust_policies_pin_their_source" {
  command = apply

  variables {
    sftp_logging_role = true
  }

  assert {
    condition     = jsondecode(module.sftp.trust_policies.access).Statement[0].Condition.ArnLike["aws:SourceArn"] == "arn:aws:transfer:eu-west-1:123456789012:user/${output.harness.sftp.server_id}/*"
    error_message = "Transfer Family assumes the access role for this server's users only."
  }
  assert {
    condition     = jsondecode(module.sftp.trust_policies.logging).Statement[0].Condition.ArnLike["aws:SourceArn"] == "arn:aws:transfer:eu-west-1:123456789012:server/*"
    error_message = "Transfer Family assumes the logging role for this account's servers only."
  }
  assert {
    condition     = jsondecode(module.workflow.trust_policies.state_machine).Statement[0].Condition.ArnLike["aws:SourceArn"] == module.workflow.state_machine_arn
    error_message = "Step Functions assumes the state machine's role for this state machine only."
  }
  assert {
    condition     = jsondecode(module.workflow.trust_policies.events).Statement[0].Condition.ArnEquals["aws:SourceArn"] == module.workflow.rule_arn
    error_message = "EventBridge assumes its role for this rule only."
  }
  assert {
    condition = alltrue([for p in concat(values(module.sftp.trust_policies), values(module.workflow.trust_policies), [module.copy_function.trust_policy]) :
    jsondecode(p).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"])
    error_message = "Every role is assumed on behalf of this account only."
  }
}

run "function_and_table" {
  command = apply

  assert {
    condition     = module.copy_function.settings.runtime == "provided.al2023" && module.copy_function.settings.handler == "bootstrap"
    error_message = "The function runs the bootstrap binary on provided.al2023."
  }
  assert {
    condition     = module.copy_function.settings.timeout == jsondecode(file("definitions/copy-function.json")).timeout_seconds && module.copy_function.settings.memory_size == jsondecode(file("definitions/copy-function.json")).memory_size_mb
    error_message = "Timeout and memory come from the shared settings file."
  }
  assert {
    condition     = module.copy_function.settings.reserved_concurrency == null || module.copy_function.settings.reserved_concurrency == -1
    error_message = "No concurrency is reserved by default, so accounts whose concurrency limit is 10 can deploy."
  }
  assert {
    condition     = module.copy_function.settings.environment["METADATA_TABLE"] == output.harness.table
    error_message = "The function writes to the stack's table."
  }
  assert {
    condition     = module.metadata_table.settings.billing_mode == "PAY_PER_REQUEST" && module.metadata_table.settings.pitr && module.metadata_table.settings.encrypted
    error_message = "The table is on-demand, recoverable to a point in time, and encrypted."
  }
  assert {
    condition     = join(",", module.metadata_table.settings.indexes) == "by-customer,by-status"
    error_message = "The table can list by status and by customer."
  }
}

run "architecture_matches_the_package" {
  command = plan

  assert {
    condition     = one(module.copy_function.settings.architectures) == var.lambda_architecture && module.copy_function.settings.package_architecture == var.lambda_architecture
    error_message = "The function runs on the architecture its zip was built for (package.sh's bootstrap.json)."
  }
}

run "reserved_concurrency_when_asked_for" {
  command = apply

  variables {
    lambda_reserved_concurrency = 10
  }

  assert {
    condition     = module.copy_function.settings.reserved_concurrency == 10
    error_message = "lambda_reserved_concurrency reserves (and caps) the function's concurrency."
  }
}

run "reserved_concurrency_is_never_zero" {
  command = plan

  variables {
    lambda_reserved_concurrency = 0
  }

  expect_failures = [var.lambda_reserved_concurrency]
}

run "names_carry_the_stack_name" {
  command = apply

  assert {
    condition     = startswith(output.harness.table, "${var.name}-")
    error_message = "The metadata table's name starts with var.name (not a fixed FileTransferMetadata two stacks would share)."
  }
  assert {
    condition     = length(output.resource_names) > 15 && alltrue([for k, n in output.resource_names : strcontains(n, var.name)])
    error_message = "Every named resource carries var.name."
  }
  assert {
    condition     = module.metadata_table.settings.deletion_protection == var.table_deletion_protection && alltrue([for role, b in module.storage.settings : b.force_destroy == var.force_destroy])
    error_message = "Deletion protection and force_destroy are the example's settings."
  }
}

run "a_destroyable_test_stack" {
  command = plan

  variables {
    name                      = "pi-nightly-1234567890-1"
    table_deletion_protection = false
    force_destroy             = true
  }

  assert {
    condition     = !module.metadata_table.settings.deletion_protection && alltrue([for role, b in module.storage.settings : b.force_destroy])
    error_message = "A test stack can be destroyed: no deletion protection, buckets emptied on destroy."
  }
  assert {
    condition     = output.harness.table == "pi-nightly-1234567890-1-file-transfer-metadata" && alltrue([for k, n in output.resource_names : strcontains(n, "pi-nightly-1234567890-1")])
    error_message = "Another name gives every resource another name."
  }
}

run "name_overrides_carry_the_name" {
  command = plan

  variables {
    table_name = "FileTransferMetadata"
  }

  expect_failures = [var.table_name]
}

run "session_logs" {
  command = apply

  assert {
    condition     = one(module.sftp.logging.structured_log_destinations) == "${module.sftp.logging.sessions_log_group.arn}:*" && output.harness.log_groups.sftp == module.sftp.logging.sessions_log_group.name && output.harness.log_groups.sftp == "/aws/transfer/${var.name}"
    error_message = "Structured session logs go to the stack's log group, and the outputs document names that group."
  }
  assert {
    condition     = module.sftp.logging.logging_role == null && output.sftp_logging_role_log_group == null
    error_message = "Structured logging needs no logging role, so there is none by default."
  }
}

run "logging_role_writes_where_aws_writes" {
  command = apply

  variables {
    sftp_logging_role = true
  }

  override_resource {
    target = module.sftp.aws_cloudwatch_log_group.logging_role[0]
    values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/transfer/s-0123456789abcdef0" }
  }

  # With a logging role, Transfer Family writes to /aws/transfer/<server-id>.
  assert {
    condition     = output.sftp_logging_role_log_group == "/aws/transfer/${output.harness.sftp.server_id}"
    error_message = "The logging role's group is named after the server id, as AWS names it."
  }
  assert {
    condition = alltrue([for st in jsondecode(module.sftp.logging.logging_role_policy).Statement : alltrue([for r in st.Resource :
      startswith(r, "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/transfer/${output.harness.sftp.server_id}")
    ])]) && module.sftp.logging.logging_role != null
    error_message = "The logging role may write to /aws/transfer/<server-id> and nowhere else."
  }
}

run "outputs_document" {
  command = apply

  assert {
    condition     = output.harness.schema_version == 1 && output.harness.region == "eu-west-1" && output.harness.sftp.port == 22
    error_message = "The outputs document has its version, region and port."
  }
  assert {
    condition     = output.harness.log_groups.sftp == "/aws/transfer/partner-intake" && join(",", output.harness.sftp.users) == "acme,globex,initech"
    error_message = "The outputs document names the session log group and users."
  }
}
