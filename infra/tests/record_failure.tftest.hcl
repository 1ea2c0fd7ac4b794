# RecordFailure writes the record the copy function would have written: the same attribute
# names (`key`, not `raw_key`) and both indexes' keys (`customer_id`, `upload_timestamp`, with
# `status`), so a crash or a timeout shows up in by-status and by-customer like any failure; and
# it does not stop on an error without a Cause.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
}

run "record_failure_has_the_functions_schema" {
  command = apply

  assert {
    condition     = jsondecode(module.workflow.rule.definition).States.RecordFailure.Resource == "arn:aws:states:::dynamodb:updateItem"
    error_message = "RecordFailure updates the metadata table's item."
  }
  # The attributes the SET clause assigns, #placeholders resolved.
  assert {
    condition = alltrue([for attribute in ["key", "customer_id", "upload_timestamp", "status"] :
      contains([for m in regexall("(?:SET|,)\\s*(#?[A-Za-z_][A-Za-z0-9_]*)\\s*=", jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.UpdateExpression) :
        lookup(try(jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.ExpressionAttributeNames, {}), m[0], m[0])
      ], attribute)
    ])
    error_message = "RecordFailure sets key, customer_id and upload_timestamp (the by-customer and by-status index keys) and status, as the function's records have them."
  }
  assert {
    condition = !contains([for m in regexall("(?:SET|,)\\s*(#?[A-Za-z_][A-Za-z0-9_]*)\\s*=", jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.UpdateExpression) :
      lookup(try(jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.ExpressionAttributeNames, {}), m[0], m[0])
    ], "raw_key")
    error_message = "RecordFailure writes no raw_key: the function's records have key."
  }
  assert {
    condition = alltrue([for m in regexall(":[A-Za-z_][A-Za-z0-9_]*", jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.UpdateExpression) :
    contains(keys(jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters.ExpressionAttributeValues), m)])
    error_message = "Every :value the update uses is defined."
  }
}

run "an_error_without_a_cause_is_recorded" {
  command = apply

  # "S.$": "$.error.Cause" raises States.Runtime (which no Catch catches) when the error has no
  # Cause: either RecordFailure does not read $.error.Cause, or the Catch leads to a Choice that
  # tests it with IsPresent first.
  assert {
    condition = (
      !strcontains(jsonencode(jsondecode(module.workflow.rule.definition).States.RecordFailure.Parameters), "$.error.Cause")
      || anytrue([for c in jsondecode(module.workflow.rule.definition).States.TransferFile.Catch :
        try(jsondecode(module.workflow.rule.definition).States[c.Next].Type, "") == "Choice"
        && strcontains(try(jsonencode(jsondecode(module.workflow.rule.definition).States[c.Next].Choices), ""), "\"IsPresent\":true")
        && strcontains(try(jsonencode(jsondecode(module.workflow.rule.definition).States[c.Next].Choices), ""), "$.error.Cause")
      ])
    )
    error_message = "RecordFailure reads $.error.Cause unguarded: an error without a Cause fails the execution with States.Runtime instead of being recorded."
  }
}
