# The copy task's retries: Lambda.ClientExecutionTimeoutException is retried like the other
# transient Lambda errors, and Lambda.TooManyRequestsException keeps a throttled execution trying
# long enough to drain a burst of 1,000 uploads at a concurrency of 10 even if every copy ran its
# whole timeout (60 s): 1,000 x 60 s / 10 = 6,000 s, with a 25% margin. With FULL jitter the
# expected total wait is half the sum of the capped intervals. See infra/README.md, Throttling.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
  burst_uploads   = 1000
  concurrency     = 10
}

run "client_execution_timeouts_are_retried" {
  command = apply

  assert {
    condition     = contains(module.workflow.retries.retried_errors, "Lambda.ClientExecutionTimeoutException")
    error_message = "Lambda.ClientExecutionTimeoutException is not retried (${module.workflow.retries.task} retries ${join(", ", module.workflow.retries.retried_errors)})."
  }
}

run "throttling_budget_drains_a_burst_of_1000" {
  command = apply

  assert {
    condition     = module.workflow.retries.throttling.expected_wait_seconds >= 1.25 * var.burst_uploads * jsondecode(file("definitions/copy-function.json")).timeout_seconds / var.concurrency
    error_message = "A throttled execution waits ${module.workflow.retries.throttling.expected_wait_seconds} s in total (expected, ${module.workflow.retries.throttling.max_attempts} attempts): less than 1.25 x ${var.burst_uploads} x 60 s / ${var.concurrency} = ${1.25 * var.burst_uploads * 60 / var.concurrency} s, so a burst of ${var.burst_uploads} uploads ends with files failed."
  }
}
