# The stack with a customer managed key (kms_key_arn set), against the mocked provider: every
# principal that touches encrypted data can use the key, and nothing that cannot be given the key
# is encrypted with it.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
  kms_key_arn     = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "session_policy_allows_the_key" {
  command = apply

  # A session policy is intersected with the role: without the key in both, every read and
  # write of an SSE-KMS object is denied.
  assert {
    condition = alltrue([for name, u in module.sftp.settings.users :
      anytrue([for s in jsondecode(u.session_policy).Statement :
        s.Effect == "Allow" && s.Resource == [var.kms_key_arn] && contains(s.Action, "kms:Decrypt") && contains(s.Action, "kms:GenerateDataKey")
      ])
    ])
    error_message = "Every user's session policy allows kms:Decrypt and kms:GenerateDataKey on the buckets' key."
  }
  assert {
    condition = alltrue([for s in jsondecode(module.sftp.access_role_policy).Statement :
      s.Sid != "Encryption" || (s.Resource == [var.kms_key_arn] && contains(s.Action, "kms:Decrypt") && contains(s.Action, "kms:GenerateDataKey"))
    ]) && anytrue([for s in jsondecode(module.sftp.access_role_policy).Statement : s.Sid == "Encryption"])
    error_message = "The access role allows the same key actions."
  }
  assert {
    condition = alltrue([for name, u in module.sftp.settings.users :
      jsonencode([for s in jsondecode(u.session_policy).Statement : s if s.Resource != [var.kms_key_arn]])
      == jsonencode(jsondecode(replace(file("definitions/session-policy.json"), "$${source_bucket}", "partner-intake-source-123456789012")).Statement)
    ])
    error_message = "The S3 statements are the shared file's, $${transfer:UserName} left for Transfer Family to fill in."
  }
  assert {
    condition     = alltrue([for name, u in module.sftp.settings.users : length(u.session_policy) <= 2048])
    error_message = "Transfer Family accepts session policies of at most 2048 characters."
  }
}

run "state_machine_role_can_use_the_key" {
  command = apply

  # RecordFailure writes to the table encrypted with the key, as the state machine's role.
  assert {
    condition = anytrue([for s in jsondecode(module.workflow.states_role_policy).Statement :
      s.Effect == "Allow" && s.Resource == [var.kms_key_arn] && contains(s.Action, "kms:Decrypt") && contains(s.Action, "kms:GenerateDataKey")
      && try(s.Condition.StringEquals["kms:ViaService"], "") == "dynamodb.eu-west-1.amazonaws.com"
    ])
    error_message = "The state machine's role may use the table's key (kms:Decrypt, kms:GenerateDataKey), through DynamoDB only."
  }
  assert {
    condition     = module.metadata_table.settings.kms_key_arn == var.kms_key_arn
    error_message = "The table is encrypted with the key."
  }
}

run "dead_letter_queue_usable_by_eventbridge" {
  command = apply

  # EventBridge can write to an SSE-KMS queue only when the key policy lets events.amazonaws.com
  # use the key; the stack does not own the key policy, so the queue uses SSE-SQS.
  assert {
    condition     = module.workflow.rule.dead_letter_encryption.sqs_managed == true && module.workflow.rule.dead_letter_encryption.kms_key == null
    error_message = "Without a key meant for it, the dead-letter queue uses SQS-managed encryption, which EventBridge can write to."
  }
  assert {
    condition     = length(output.kms_key_policy_statements) == 0
    error_message = "No key policy statement is needed then."
  }
}

run "dead_letter_queue_with_its_own_key" {
  command = apply

  variables {
    dead_letter_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555"
  }

  assert {
    condition     = module.workflow.rule.dead_letter_encryption.kms_key == var.dead_letter_kms_key_arn
    error_message = "A key given for the dead-letter queue encrypts it."
  }
  assert {
    condition = anytrue([for s in output.kms_key_policy_statements :
      s.Principal.Service == "events.amazonaws.com" && contains(s.Action, "kms:GenerateDataKey") && contains(s.Action, "kms:Decrypt")
      && try(s.Condition.ArnEquals["aws:SourceArn"], "") == module.workflow.rule_arn
    ])
    error_message = "The outputs name the key policy statement EventBridge needs, pinned to the stack's rule."
  }
}
