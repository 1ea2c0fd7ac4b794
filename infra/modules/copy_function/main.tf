data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Logs are encrypted with the CloudWatch Logs service key unless kms_key_arn is set.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# Assumed by Lambda in this account only. Lambda documents no aws:SourceArn for assuming an
# execution role, so the function is not named: a condition on a key the request lacks would keep
# the function from starting.
resource "aws_iam_role" "this" {
  name = "${var.function_name}-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = var.tags
}

locals {
  statements = concat(
    [
      {
        Sid      = "ReadSource"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"]
        Resource = ["${var.source_bucket_arn}/*"]
      },
      {
        # Without ListBucket a missing key answers 403 instead of 404 NoSuchKey.
        Sid      = "ListSource"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.source_bucket_arn]
      },
      {
        Sid      = "WriteDestination"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = ["${var.destination_bucket_arn}/*"]
      },
      {
        Sid      = "Records"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = [var.table_arn]
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
      },
    ],
    var.kms_key_arn == null ? [] : [{
      Sid      = "Encryption"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }],
  )
}

resource "aws_iam_role_policy" "this" {
  name   = "copy"
  role   = aws_iam_role.this.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.statements })
}

resource "aws_iam_role_policy_attachment" "xray" {
  count      = var.tracing_enabled ? 1 : 0
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# lambda/scripts/package.sh writes bootstrap.json beside the zip: the architecture it built for
# and the zip's digest. A binary for the other architecture cannot start (exec format error), so
# the plan stops instead.
locals {
  manifest_path = "${trimsuffix(var.zip_path, ".zip")}.json"
  manifest      = fileexists(local.manifest_path) ? jsondecode(file(local.manifest_path)) : null
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function reaches only S3 and DynamoDB through public AWS endpoints; a VPC adds NAT cost without a security gain here.
  #checkov:skip=CKV_AWS_116:Step Functions invokes the function synchronously and its Catch records failures; a Lambda DLQ applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the platform team owns; the zip comes from the repository's build.
  #checkov:skip=CKV_AWS_115:No concurrency is reserved by default, on purpose: accounts whose limit is 10 cannot reserve any, and the state machine's throttling retries absorb bursts; lambda_reserved_concurrency sets a reservation.
  #checkov:skip=CKV_AWS_173:Environment variables hold names and sizes, no secrets; they are encrypted with the Lambda service key.
  function_name                  = var.function_name
  role                           = aws_iam_role.this.arn
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  timeout                        = var.settings.timeout_seconds
  memory_size                    = var.settings.memory_size_mb
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = merge(
      {
        METADATA_TABLE           = var.table_name
        DESTINATION_BUCKET       = var.destination_bucket
        COPY_MULTIPART_THRESHOLD = tostring(var.multipart_threshold)
      },
      var.kms_key_arn == null ? {} : { DESTINATION_SSE = "aws:kms", DESTINATION_KMS_KEY_ID = var.kms_key_arn },
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = local.manifest != null
      error_message = "${local.manifest_path} is missing: build the zip with lambda/scripts/package.sh, which records the architecture it built for."
    }
    precondition {
      condition     = try(local.manifest.architecture, var.architecture) == var.architecture
      error_message = "${var.zip_path} is built for ${try(local.manifest.architecture, "?")}, but lambda_architecture is ${var.architecture}: the function could not start. Rebuild with lambda/scripts/package.sh --arch ${var.architecture}, or set lambda_architecture = \"${try(local.manifest.architecture, "?")}\"."
    }
    precondition {
      condition     = try(local.manifest.zip_sha256, "") == filesha256(var.zip_path) || local.manifest == null
      error_message = "${local.manifest_path} describes another build than ${var.zip_path} (its zip_sha256 differs): rebuild with lambda/scripts/package.sh."
    }
  }
}
