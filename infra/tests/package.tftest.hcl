# The copy function's module refuses a zip built for another architecture than it deploys, or a
# manifest (lambda/scripts/package.sh's bootstrap.json) that belongs to another build.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  function_name          = "partner-intake-copy"
  zip_path               = "tests/fixtures/bootstrap.zip" # its bootstrap.json says x86_64
  architecture           = "x86_64"
  settings               = { timeout_seconds = 60, memory_size_mb = 256 }
  source_bucket_arn      = "arn:aws:s3:::partner-intake-source-123456789012"
  destination_bucket     = "partner-intake-destination-123456789012"
  destination_bucket_arn = "arn:aws:s3:::partner-intake-destination-123456789012"
  table_name             = "partner-intake-file-transfer-metadata"
  table_arn              = "arn:aws:dynamodb:eu-west-1:123456789012:table/partner-intake-file-transfer-metadata"
  multipart_threshold    = 5368709120
  log_retention_days     = 30
  tracing_enabled        = false
}

run "a_package_for_its_architecture_deploys" {
  command = plan

  module {
    source = "./modules/copy_function"
  }

  assert {
    condition     = one(aws_lambda_function.this.architectures) == "x86_64"
    error_message = "An x86_64 package deploys on x86_64."
  }
}

run "a_package_for_the_other_architecture_stops_the_plan" {
  command = plan

  module {
    source = "./modules/copy_function"
  }

  variables {
    architecture = "arm64"
  }

  expect_failures = [aws_lambda_function.this]
}

run "a_zip_without_its_manifest_stops_the_plan" {
  command = plan

  module {
    source = "./modules/copy_function"
  }

  variables {
    zip_path = "tests/fixtures/unpackaged/bootstrap.zip"
  }

  expect_failures = [aws_lambda_function.this]
}
