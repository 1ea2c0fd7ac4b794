output "function_name" {
  description = "Function name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Function ARN."
  value       = aws_lambda_function.this.arn
}

output "log_group" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "role_policy" {
  description = "The function role's policy document (for tests and reviews)."
  value       = aws_iam_role_policy.this.policy
}

output "settings" {
  description = "Runtime, limits and environment, as deployed (for tests)."
  value = {
    runtime              = aws_lambda_function.this.runtime
    architectures        = aws_lambda_function.this.architectures
    package_architecture = try(local.manifest.architecture, null)
    handler              = aws_lambda_function.this.handler
    timeout              = aws_lambda_function.this.timeout
    memory_size          = aws_lambda_function.this.memory_size
    reserved_concurrency = aws_lambda_function.this.reserved_concurrent_executions
    environment          = one(aws_lambda_function.this.environment).variables
  }
}

output "resource_names" {
  description = "The name of every named resource of this module."
  value = {
    "lambda_function"         = aws_lambda_function.this.function_name
    "iam_role.copy_function"  = aws_iam_role.this.name
    "log_group.copy_function" = aws_cloudwatch_log_group.this.name
  }
}

output "trust_policy" {
  description = "The role's trust policy (for tests and reviews)."
  value       = aws_iam_role.this.assume_role_policy
}
