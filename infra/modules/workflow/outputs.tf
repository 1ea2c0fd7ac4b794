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
