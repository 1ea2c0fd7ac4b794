#!/usr/bin/env bash
# Builds the deployable zip of the copy function for the `provided.al2023` runtime, for the
# architecture Terraform deploys it on:
#   target/lambda/copy-lambda/bootstrap.zip   one executable named `bootstrap`
#   target/lambda/copy-lambda/bootstrap.json  what it was built for (architecture, Rust target,
#                                             ELF machine, glibc, the zip's SHA-256); Terraform
#                                             refuses a zip whose manifest names another
#                                             architecture than lambda_architecture
# It checks the binary's ELF machine type against the architecture, and refuses a binary that
# needs a newer glibc than Amazon Linux 2023's (2.34).
#
# Usage: lambda/scripts/package.sh [--arch x86_64|arm64]
#        lambda/scripts/package.sh --check-only BINARY x86_64|arm64   # only the machine-type check
#        lambda/scripts/package.sh --print-arch                       # the architecture it would build
# The architecture is --arch, else $LAMBDA_ARCHITECTURE, else the default of Terraform's
# `lambda_architecture` variable (infra/variables.tf), so a plain run builds what a plain apply
# deploys. A build for the other architecture than the host's needs the Rust target
# (rustup target add) and either cargo-zigbuild (with zig) or a cross gcc.
# Terraform's `lambda_zip_path` variable points at the zip this prints.
set -euo pipefail
cd "$(dirname "$0")/../.."

AL2023_GLIBC="2.34"
out_dir="target/lambda/copy-lambda"

die() {
  printf 'error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '       %s\n' "$line" >&2; done
  exit 1
}

# The ELF e_machine each Lambda architecture needs.
expected_machine() {
  case "$1" in
    x86_64) echo "3e" ;; # EM_X86_64
    arm64) echo "b7" ;;  # EM_AARCH64
    *) die "unknown architecture '$1': Lambda runs x86_64 or arm64" ;;
  esac
}

machine_name() {
  case "$1" in
    3e) echo "x86_64" ;;
    b7) echo "arm64 (aarch64)" ;;
    28) echo "32-bit ARM" ;;
    03) echo "i386" ;;
    *) echo "e_machine 0x$1" ;;
  esac
}

# check_machine BINARY ARCH: the binary is a 64-bit little-endian ELF executable for ARCH.
check_machine() {
  local bin="$1" arch="$2" want header magic class data machine
  want=$(expected_machine "$arch")
  [ -f "$bin" ] || die "$bin: no such file"
  # e_ident (16 bytes), e_type (2), e_machine (2, little-endian on both Lambda architectures).
  header=$(od -An -v -t x1 -N 20 "$bin" | tr -s ' \n' ' ')
  read -r -a bytes <<<"$header"
  [ "${#bytes[@]}" -eq 20 ] || die "$bin is not an ELF executable (shorter than an ELF header)"
  magic="${bytes[0]}${bytes[1]}${bytes[2]}${bytes[3]}"
  class="${bytes[4]}"
  data="${bytes[5]}"
  [ "$magic" = "7f454c46" ] || die "$bin is not an ELF executable (magic $magic)"
  [ "$class" = "02" ] && [ "$data" = "01" ] || die "$bin is not a 64-bit little-endian ELF (class $class, data $data)"
  machine="${bytes[18]}"
  [ "${bytes[19]}" = "00" ] || machine="${bytes[19]}${bytes[18]}"
  if [ "$machine" != "$want" ]; then
    die "$bin is built for $(machine_name "$machine"), but the function is deployed on $arch." \
      "Lambda could not start it (Runtime.InvalidEntrypoint / exec format error)." \
      "Build for $arch (lambda/scripts/package.sh --arch $arch), or deploy with lambda_architecture = \"$(machine_arch "$machine")\"."
  fi
  echo "ok: $bin is an ELF executable for $arch (e_machine 0x$machine)"
}

machine_arch() {
  case "$1" in
    3e) echo "x86_64" ;;
    b7) echo "arm64" ;;
    *) echo "?" ;;
  esac
}

# The default of `variable "lambda_architecture"` in infra/variables.tf.
terraform_default_arch() {
  sed -n '/^variable "lambda_architecture"/,/^}/s/^[[:space:]]*default[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' infra/variables.tf
}

arch="${LAMBDA_ARCHITECTURE:-}"
print_arch=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check-only)
      [ $# -eq 3 ] || die "usage: $0 --check-only BINARY x86_64|arm64"
      check_machine "$2" "$3"
      exit 0
      ;;
    --arch)
      [ $# -ge 2 ] || die "--arch needs x86_64 or arm64"
      arch="$2"
      shift 2
      ;;
    --arch=*)
      arch="${1#--arch=}"
      shift
      ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    --print-arch)
      print_arch=1
      shift
      ;;
    *) die "unknown argument '$1' (usage: $0 [--arch x86_64|arm64] | --check-only BINARY ARCH)" ;;
  esac
done
if [ -z "$arch" ]; then
  arch=$(terraform_default_arch)
  [ -n "$arch" ] || die "cannot read the default of lambda_architecture from infra/variables.tf; pass --arch"
fi
expected_machine "$arch" >/dev/null
if [ "$print_arch" = 1 ]; then
  echo "$arch"
  exit 0
fi

case "$arch" in
  x86_64) triple="x86_64-unknown-linux-gnu" gcc_prefix="x86_64-linux-gnu" ;;
  arm64) triple="aarch64-unknown-linux-gnu" gcc_prefix="aarch64-linux-gnu" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) host_arch="x86_64" ;;
  aarch64 | arm64) host_arch="arm64" ;;
  *) host_arch="$(uname -m)" ;;
esac

build=(cargo build)
target_arg="$triple"
if [ "$arch" != "$host_arch" ]; then
  # A cross build: the Rust target's standard library, then a linker (and C compiler) for it.
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    die "building for $arch on this $host_arch host needs the Rust target $triple:" \
      "rustup target add $triple"
  fi
  if cargo zigbuild --version >/dev/null 2>&1 && command -v zig >/dev/null 2>&1; then
    # zig links against glibc $AL2023_GLIBC's symbols, which also settles the glibc check.
    build=(cargo zigbuild)
    target_arg="$triple.$AL2023_GLIBC"
  elif command -v "$gcc_prefix-gcc" >/dev/null 2>&1; then
    triple_env=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${triple_env}_LINKER=$gcc_prefix-gcc"
    export "CC_${triple//-/_}=$gcc_prefix-gcc"
  else
    die "building for $arch on this $host_arch host needs a linker for $triple, and none was found:" \
      "either cargo-zigbuild and zig (cargo install --locked cargo-zigbuild; pip install ziglang)," \
      "or a cross gcc ($gcc_prefix-gcc: apt-get install gcc-$gcc_prefix)," \
      "or build on a $arch machine (e.g. a $arch CI runner, or docker buildx --platform linux/$arch)."
  fi
fi

"${build[@]}" --release --locked -p copy-lambda --bin bootstrap --target "$target_arg"
bin="${CARGO_TARGET_DIR:-target}/$triple/release/bootstrap"

check_machine "$bin" "$arch"

# The highest GLIBC_x.y symbol version the binary references (readelf reads any architecture).
needed=$(readelf -W --dyn-syms "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
if [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$needed" "$AL2023_GLIBC" | sort -V | tail -1)" != "$AL2023_GLIBC" ]; then
  die "$bin needs glibc $needed, newer than Amazon Linux 2023's $AL2023_GLIBC." \
    "Build on an older distribution (docker/lambda.Dockerfile), or with cargo-zigbuild --target $triple.$AL2023_GLIBC."
fi

mkdir -p "$out_dir"
python3 - "$bin" "$out_dir/bootstrap.zip" "$out_dir/bootstrap.json" "$arch" "$triple" "$(expected_machine "$arch")" "${needed:-none}" <<'PY'
import hashlib, json, sys, zipfile
src, dst, manifest, arch, triple, machine, glibc = sys.argv[1:]
info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # a regular, executable file
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read())
with open(dst, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
with open(manifest, "w") as f:
    json.dump({"architecture": arch, "rust_target": triple, "elf_machine": "0x" + machine,
               "glibc_needed": glibc, "zip_sha256": digest}, f, indent=2)
    f.write("\n")
PY
echo "built $out_dir/bootstrap.zip for $arch (needs glibc <= ${needed:-none}; $(du -h "$out_dir/bootstrap.zip" | cut -f1)) and $out_dir/bootstrap.json"
