# The mocked AWS provider every test file uses (mock_provider "aws" { source = "./tests/mocks" }).
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}
# Computed ARNs feed arguments the provider validates, so they must look like ARNs.
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
}
mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:partner-intake-copy" }
}
mock_resource "aws_sfn_state_machine" {
  defaults = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:partner-intake-transfer" }
}
mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:partner-intake-undelivered-events" }
}
mock_resource "aws_dynamodb_table" {
  defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/partner-intake-file-transfer-metadata" }
}
mock_resource "aws_transfer_server" {
  defaults = {
    id                   = "s-0123456789abcdef0"
    arn                  = "arn:aws:transfer:eu-west-1:123456789012:server/s-0123456789abcdef0"
    endpoint             = "s-0123456789abcdef0.server.transfer.eu-west-1.amazonaws.com"
    host_key_fingerprint = "SHA256:mockmockmockmockmockmockmockmockmockmockmo"
  }
}
mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}
mock_resource "aws_cloudwatch_event_rule" {
  defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/partner-intake-transfer-object-created" }
}

override_resource {
  target = module.storage.aws_s3_bucket.this["source"]
  values = { arn = "arn:aws:s3:::partner-intake-source-123456789012" }
}

override_resource {
  target = module.storage.aws_s3_bucket.this["destination"]
  values = { arn = "arn:aws:s3:::partner-intake-destination-123456789012" }
}
