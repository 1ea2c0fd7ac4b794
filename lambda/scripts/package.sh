#!/usr/bin/env bash
# Builds the deployable zip of the copy function for the `provided.al2023` runtime:
#   target/lambda/copy-lambda/bootstrap.zip  (one executable named `bootstrap`)
# and refuses a binary that needs a newer glibc than Amazon Linux 2023's (2.34).
#
# Usage: lambda/scripts/package.sh            # x86_64, release profile
# Terraform's `lambda_zip_path` variable points at the zip this prints.
set -euo pipefail
cd "$(dirname "$0")/../.."

AL2023_GLIBC="2.34"
out_dir="target/lambda/copy-lambda"

cargo build --release --locked -p copy-lambda --bin bootstrap
bin="target/release/bootstrap"

# The highest GLIBC_x.y symbol version the binary references.
needed=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
if [ "$(printf '%s\n%s\n' "$needed" "$AL2023_GLIBC" | sort -V | tail -1)" != "$AL2023_GLIBC" ]; then
  echo "error: $bin needs glibc $needed, newer than Amazon Linux 2023's $AL2023_GLIBC." >&2
  echo "       Build on an older distribution, or with cargo-zigbuild --target x86_64-unknown-linux-gnu.$AL2023_GLIBC." >&2
  exit 1
fi

mkdir -p "$out_dir"
python3 - "$bin" "$out_dir/bootstrap.zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # a regular, executable file
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read())
PY
echo "built $out_dir/bootstrap.zip (needs glibc <= $needed; $(du -h "$out_dir/bootstrap.zip" | cut -f1))"
