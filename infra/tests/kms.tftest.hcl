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
