output "state_machine_arn" {
  description = "State machine ARN."
  value       = aws_sfn_state_machine.this.arn
}

output "log_group" {
  description = "The state machine's log group."
  value       = aws_cloudwatch_log_group.states.name
}

output "rule_name" {
  description = "EventBridge rule name."
  value       = aws_cloudwatch_event_rule.object_created.name
}

output "dead_letter_queue_url" {
  description = "Queue of events EventBridge could not deliver."
  value       = aws_sqs_queue.dead_letters.id
}

output "states_role_policy" {
  description = "The state machine role's policy document."
  value       = aws_iam_role_policy.states.policy
}

output "events_role_policy" {
  description = "The EventBridge role's policy document."
  value       = aws_iam_role_policy.events.policy
}

output "rule" {
  description = "The rule's pattern and the target's input transformer, as deployed (for tests)."
  value = {
    event_pattern  = aws_cloudwatch_event_rule.object_created.event_pattern
    input_paths    = one(aws_cloudwatch_event_target.start_transfer.input_transformer).input_paths
    input_template = one(aws_cloudwatch_event_target.start_transfer.input_transformer).input_template
    definition     = aws_sfn_state_machine.this.definition
    logging_level  = one(aws_sfn_state_machine.this.logging_configuration).level
    dead_letter    = one(aws_cloudwatch_event_target.start_transfer.dead_letter_config).arn
    retry_policy   = one(aws_cloudwatch_event_target.start_transfer.retry_policy)
    dead_letter_encryption = {
      sqs_managed = aws_sqs_queue.dead_letters.sqs_managed_sse_enabled
      kms_key     = aws_sqs_queue.dead_letters.kms_master_key_id
    }
  }
}

output "rule_arn" {
  description = "EventBridge rule ARN."
  value       = aws_cloudwatch_event_rule.object_created.arn
}

output "dead_letter_key_policy_statement" {
  description = "With dead_letter_kms_key_arn set: the statement that key's policy needs so EventBridge can write to the queue (null otherwise)."
  value = var.dead_letter_kms_key_arn == null ? null : {
    Sid       = "EventBridgeDeadLetters${replace(title(replace(var.name, "-", " ")), " ", "")}"
    Effect    = "Allow"
    Principal = { Service = "events.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = {
      ArnEquals    = { "aws:SourceArn" = aws_cloudwatch_event_rule.object_created.arn }
      StringEquals = { "kms:EncryptionContext:aws:sqs:arn" = aws_sqs_queue.dead_letters.arn }
    }
  }
}

output "resource_names" {
  description = "The name of every named resource of this module."
  value = {
    "sfn_state_machine"       = aws_sfn_state_machine.this.name
    "iam_role.state_machine"  = aws_iam_role.states.name
    "iam_role.events"         = aws_iam_role.events.name
    "event_rule"              = aws_cloudwatch_event_rule.object_created.name
    "sqs_queue.dead_letters"  = aws_sqs_queue.dead_letters.name
    "log_group.state_machine" = aws_cloudwatch_log_group.states.name
  }
}

output "trust_policies" {
  description = "The roles' trust policies (for tests and reviews)."
  value = {
    state_machine = aws_iam_role.states.assume_role_policy
    events        = aws_iam_role.events.assume_role_policy
  }
}

output "retries" {
  description = "The copy task's retries as the definition has them: the errors retried, and for Lambda throttling the attempts and the total wait (expected: half of it with FULL jitter), for tests and reviews (infra/README.md, Throttling)."
  value = {
    task           = try(local.copy_task.Name, null)
    retried_errors = distinct(flatten([for r in try(local.copy_task.Retry, []) : r.ErrorEquals]))
    throttling = {
      max_attempts          = try(local.throttle_retrier.MaxAttempts, 3)
      jitter                = try(local.throttle_retrier.JitterStrategy, "NONE")
      total_wait_seconds    = sum(concat([0], local.throttle_waits))
      expected_wait_seconds = sum(concat([0], local.throttle_waits)) * (try(local.throttle_retrier.JitterStrategy, "NONE") == "FULL" ? 0.5 : 1)
    }
  }
}
