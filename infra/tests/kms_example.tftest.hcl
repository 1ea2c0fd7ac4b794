# examples/kms, the KMS-enabled variant of the stack, against the mocked provider: one customer
# managed key for everything, and a key policy that lets each service that needs it use the key.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
}

run "kms_example" {
  command = apply

  module {
    source = "./examples/kms"
  }

  assert {
    condition     = aws_kms_key.intake.enable_key_rotation
    error_message = "The example's key rotates."
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_kms_key_policy.intake.policy).Statement :
      try(s.Principal.Service, "") == "events.amazonaws.com" && contains(flatten([s.Action]), "kms:GenerateDataKey") && contains(flatten([s.Action]), "kms:Decrypt")
    ])
    error_message = "The key policy lets EventBridge write to the dead-letter queue encrypted with the key."
  }
  assert {
    condition     = jsondecode(aws_kms_key_policy.intake.policy).Statement[1] == module.partner_intake.kms_key_policy_statements[0]
    error_message = "The key policy holds the stack's own statement (kms_key_policy_statements), not a copy."
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_kms_key_policy.intake.policy).Statement :
      try(s.Principal.AWS, "") == "arn:aws:iam::123456789012:root" && s.Action == "kms:*"
    ])
    error_message = "The key policy delegates to the account's IAM policies, which grant the stack's roles."
  }
}
