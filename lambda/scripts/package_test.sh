#!/usr/bin/env bash
# Tests of package.sh that build nothing: the ELF machine-type check (--check-only) against this
# machine's /bin/true, the architecture it resolves (--arch, $LAMBDA_ARCHITECTURE, Terraform's
# default), and the refusal of a cross build without a Rust target. Never runs cargo.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
script=lambda/scripts/package.sh
failures=0

# expect NAME RC PATTERN -- COMMAND...: COMMAND exits with RC and its output matches PATTERN.
expect() {
  local name="$1" rc="$2" pattern="$3" out got
  shift 4
  out=$("$@" 2>&1)
  got=$?
  if [ "$got" = "$rc" ] && grep -Eq -- "$pattern" <<<"$out"; then
    echo "PASS $name"
  else
    echo "FAIL $name: exit $got (want $rc), output:"
    while IFS= read -r line; do echo "    $line"; done <<<"$out"
    failures=$((failures + 1))
  fi
}

case "$(uname -m)" in
  x86_64 | amd64) host=x86_64 other=arm64 ;;
  aarch64 | arm64) host=arm64 other=x86_64 ;;
  *)
    echo "SKIPPED package.sh tests: host $(uname -m) is neither Lambda architecture"
    exit 0
    ;;
esac

expect "a $host binary passes the $host check" 0 "ok: /bin/true is an ELF executable for $host" -- bash "$script" --check-only /bin/true "$host"
expect "a $host binary fails the $other check, naming both" 1 "built for $host.*deployed on $other" -- bash "$script" --check-only /bin/true "$other"
expect "the mismatch says how to fix it" 1 "package.sh --arch $other" -- bash "$script" --check-only /bin/true "$other"
expect "a script is not an ELF executable" 1 "is not an ELF executable" -- bash "$script" --check-only "$script" "$host"
expect "a missing binary is named" 1 "no such file" -- bash "$script" --check-only target/no-such-bootstrap "$host"
expect "only x86_64 and arm64 exist" 1 "unknown architecture 'aarch64'" -- bash "$script" --check-only /bin/true aarch64

tf_default=$(sed -n '/^variable "lambda_architecture"/,/^}/s/^[[:space:]]*default[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' infra/variables.tf)
expect "the default is Terraform's ($tf_default)" 0 "^$tf_default\$" -- env -u LAMBDA_ARCHITECTURE bash "$script" --print-arch
expect "LAMBDA_ARCHITECTURE chooses" 0 "^arm64\$" -- env LAMBDA_ARCHITECTURE=arm64 bash "$script" --print-arch
expect "--arch wins over the environment" 0 "^x86_64\$" -- env LAMBDA_ARCHITECTURE=arm64 bash "$script" --arch x86_64 --print-arch

other_triple=$([ "$other" = arm64 ] && echo aarch64-unknown-linux-gnu || echo x86_64-unknown-linux-gnu)
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx "$other_triple"; then
  expect "a cross build without the Rust target stops before cargo" 1 "rustup target add $other_triple" -- bash "$script" --arch "$other"
else
  echo "SKIP a cross build without the Rust target ($other_triple is installed, or rustup is absent: the check would build)"
fi

[ "$failures" = 0 ] && echo "package.sh: all checks passed" || echo "package.sh: $failures check(s) failed"
[ "$failures" = 0 ]
