data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  definition = templatefile(var.state_machine_file, {
    copy_function_arn = var.function_arn
    metadata_table    = var.table_name
  })
  event_pattern = templatefile(var.event_pattern_file, { source_bucket = var.source_bucket })

  # The copy task's retry for Lambda throttling, as the definition has it (the first retrier that
  # matches Lambda.TooManyRequestsException applies): how long a throttled execution keeps trying.
  # (Reporting only: a definition without exactly one lambda:invoke task reports nothing.)
  copy_task        = try(one([for name, st in jsondecode(local.definition).States : merge(st, { Name = name }) if try(st.Resource, "") == "arn:aws:states:::lambda:invoke"]), null)
  throttle_retrier = try([for r in local.copy_task.Retry : r if contains(r.ErrorEquals, "Lambda.TooManyRequestsException")][0], null)
  throttle_waits = local.throttle_retrier == null ? [] : [
    for n in range(try(local.throttle_retrier.MaxAttempts, 3)) :
    min(try(local.throttle_retrier.IntervalSeconds, 1) * pow(try(local.throttle_retrier.BackoffRate, 2), n), try(local.throttle_retrier.MaxDelaySeconds, 31622400))
  ]
  transformer = jsondecode(templatefile(var.input_transformer_file, { destination_bucket = var.destination_bucket }))
  rule_target = jsondecode(file(var.rule_target_file))
  logging     = jsondecode(file(var.logging_file))
}

# --- State machine ---

resource "aws_cloudwatch_log_group" "states" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted with the CloudWatch Logs service key unless a key is given.
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# Assumed by Step Functions for this state machine only (its ARN is known from its name, so the
# role can name it before it exists).
resource "aws_iam_role" "states" {
  name = "${var.name}-states"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${var.name}" }
      }
    }]
  })
  tags = var.tags
}

locals {
  states_statements = concat(
    [
      {
        Sid      = "InvokeCopyFunction"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [var.function_arn, "${var.function_arn}:*"]
      },
      {
        # The Catch records failures the function could not record.
        Sid      = "RecordFailures"
        Effect   = "Allow"
        Action   = ["dynamodb:UpdateItem"]
        Resource = [var.table_arn]
      },
      {
        # CloudWatch Logs delivery for Step Functions takes no resource narrower than "*" (AWS documents this).
        Sid      = "LogDelivery"
        Effect   = "Allow"
        Action   = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
        Resource = ["*"]
      },
    ],
    # DynamoDB encrypts and decrypts the table's items with the caller's permissions on a customer
    # managed key: without these, RecordFailure is denied and crashes and timeouts go unrecorded.
    var.table_kms_key_arn == null ? [] : [{
      Sid       = "MetadataTableKey"
      Effect    = "Allow"
      Action    = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      Resource  = [var.table_kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = "dynamodb.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}" } }
    }],
    var.tracing_enabled ? [{
      Sid      = "Tracing"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      Resource = ["*"]
    }] : [],
  )
}

resource "aws_iam_role_policy" "states" {
  #checkov:skip=CKV_AWS_290:Log delivery and X-Ray actions accept only "*" as resource; every other statement names its resource.
  #checkov:skip=CKV_AWS_355:Same: log delivery and X-Ray actions accept only "*".
  name   = "workflow"
  role   = aws_iam_role.states.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.states_statements })
}

resource "aws_sfn_state_machine" "this" {
  name       = var.name
  role_arn   = aws_iam_role.states.arn
  definition = local.definition
  type       = "STANDARD"

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.states.arn}:*"
    include_execution_data = local.logging.include_execution_data
    level                  = local.logging.level
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.states]
}

# --- EventBridge: Object Created -> StartExecution ---

resource "aws_cloudwatch_event_rule" "object_created" {
  name          = "${var.name}-object-created"
  description   = "Object Created in the source bucket starts a transfer"
  event_pattern = local.event_pattern
  tags          = var.tags
}

# Assumed by EventBridge for this rule only.
resource "aws_iam_role" "events" {
  name = "${var.name}-events"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnEquals    = { "aws:SourceArn" = aws_cloudwatch_event_rule.object_created.arn }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "events" {
  name = "start-execution"
  role = aws_iam_role.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "StartTransfer"
      Effect   = "Allow"
      Action   = ["states:StartExecution"]
      Resource = [aws_sfn_state_machine.this.arn]
    }]
  })
}

# EventBridge writes to an SSE-KMS queue only if the key's policy lets events.amazonaws.com use
# it, and this stack does not own key policies: the queue uses SQS-managed encryption unless a key
# is given for it on purpose (dead_letter_kms_key_arn; its statement is in dead_letter_key_policy_statement).
resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-undelivered-events"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = var.dead_letter_kms_key_arn == null ? true : null
  kms_master_key_id         = var.dead_letter_kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dead_letters.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.object_created.arn } }
    }]
  })
}

resource "aws_cloudwatch_event_target" "start_transfer" {
  rule      = aws_cloudwatch_event_rule.object_created.name
  target_id = "start-transfer"
  arn       = aws_sfn_state_machine.this.arn
  role_arn  = aws_iam_role.events.arn

  input_transformer {
    input_paths    = local.transformer.InputPathsMap
    input_template = local.transformer.InputTemplate
  }

  retry_policy {
    maximum_event_age_in_seconds = local.rule_target.RetryPolicy.MaximumEventAgeInSeconds
    maximum_retry_attempts       = local.rule_target.RetryPolicy.MaximumRetryAttempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}
