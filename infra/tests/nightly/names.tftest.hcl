# Run by infra/tests/nightly/test_nightly.py (terraform test -test-directory=tests/nightly), which
# renders the settings of nightly runs with .ci/nightly-stack.py and passes them as
# var.nightly_runs: [first run, its rerun (next attempt), the next run]. No stack of one run shares
# a resource name with another's, so an apply never collides with what an earlier run left.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "first_run" {
  command = plan

  variables {
    name                      = var.nightly_runs[0].name
    users                     = var.nightly_runs[0].users
    allowed_cidrs             = var.nightly_runs[0].allowed_cidrs
    force_destroy             = var.nightly_runs[0].force_destroy
    table_deletion_protection = var.nightly_runs[0].table_deletion_protection
    lambda_architecture       = var.nightly_runs[0].lambda_architecture
    lambda_zip_path           = "tests/fixtures/bootstrap.zip"
  }

  assert {
    condition     = alltrue([for k, n in output.resource_names : strcontains(n, var.nightly_runs[0].name)])
    error_message = "Every resource of the run's stack carries the run's name."
  }
  assert {
    condition     = !module.metadata_table.settings.deletion_protection && alltrue([for role, b in module.storage.settings : b.force_destroy])
    error_message = "The nightly stack can be destroyed: no deletion protection, versioned buckets emptied on destroy."
  }
  assert {
    condition     = module.sftp.settings.ingress_cidrs == var.nightly_runs[0].allowed_cidrs && length(module.sftp.settings.users) == length(var.nightly_runs[0].users)
    error_message = "Port 22 is open to the runner's address, for every user the scenarios need."
  }
}

run "rerun_of_the_first_run" {
  command = plan

  variables {
    name                      = var.nightly_runs[1].name
    users                     = var.nightly_runs[1].users
    allowed_cidrs             = var.nightly_runs[1].allowed_cidrs
    force_destroy             = var.nightly_runs[1].force_destroy
    table_deletion_protection = var.nightly_runs[1].table_deletion_protection
    lambda_architecture       = var.nightly_runs[1].lambda_architecture
    lambda_zip_path           = "tests/fixtures/bootstrap.zip"
  }

  assert {
    condition     = length(setintersection(toset(values(run.first_run.resource_names)), toset(values(output.resource_names)))) == 0
    error_message = "A rerun (the next attempt) shares no resource name with the first attempt's stack: ${join(", ", setintersection(toset(values(run.first_run.resource_names)), toset(values(output.resource_names))))}"
  }
}

run "next_run" {
  command = plan

  variables {
    name                      = var.nightly_runs[2].name
    users                     = var.nightly_runs[2].users
    allowed_cidrs             = var.nightly_runs[2].allowed_cidrs
    force_destroy             = var.nightly_runs[2].force_destroy
    table_deletion_protection = var.nightly_runs[2].table_deletion_protection
    lambda_architecture       = var.nightly_runs[2].lambda_architecture
    lambda_zip_path           = "tests/fixtures/bootstrap.zip"
  }

  assert {
    condition = length(setintersection(
      toset(concat(values(run.first_run.resource_names), values(run.rerun_of_the_first_run.resource_names))),
      toset(values(output.resource_names)),
    )) == 0
    error_message = "The next run shares no resource name with either earlier stack."
  }
}
