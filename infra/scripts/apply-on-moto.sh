#!/usr/bin/env bash
# A real `terraform apply` of examples/complete against a moto server: a copy of infra/ in a temp
# dir, the endpoints in a provider override file written there (never in the shipped stack), then
# `terraform output -json` and `terraform destroy`. Prints each resource created on moto and each
# skipped (with the error naming it, or the failed resource it depends on).
#
#   infra/scripts/apply-on-moto.sh [OUTPUTS_JSON]     (or APPLY_ON_MOTO_OUTPUTS=FILE)
#
# OUTPUTS_JSON receives `terraform output -json` of the applied stack (for `harness stack show
# --stack OUTPUTS_JSON`). Exit 0 when the apply ran (even partly) and the lists were produced;
# non-zero when terraform or moto is missing, init fails, moto does not start, or nothing was
# created. See apply_on_moto.py for the details. PYTHON names the interpreter with moto (default
# python3; the tests pass the environment testkit provisions, with moto at its pinned version).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "${PYTHON:-python3}" "$here/apply_on_moto.py" "$@"
