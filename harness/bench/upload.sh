#!/usr/bin/env bash
# Upload throughput of one large file, with OpenSSH's sftp client, to the simulator and to
# OpenSSH's sshd (internal-sftp), side by side; and the simulator's peak memory (VmHWM).
#   harness/bench/upload.sh [SIZE_MIB] [ROUNDS]     (default 2048 MiB, 3 rounds)
# Uses target/release/harness when built (cargo build --release -p harness), else debug.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mib="${1:-2048}"
rounds="${2:-3}"
harness=target/release/harness
[ -x "$harness" ] || harness=target/debug/harness
work=$(mktemp -d)
sshd_dir=$(mktemp -d -p /run harness-bench-sshd-XXXX)
trap 'kill "${sim_pid:-}" "${sshd_pid:-}" 2>/dev/null || true; rm -rf "$work" "$sshd_dir"' EXIT

# Incompressible content, so neither side gains from compression.
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/big.bin"

"$harness" sim --json --sftp-port 0 --port 0 --dynamodb-port 0 --key-dir "$work" > "$work/sim.json" 2>/dev/null &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
sim_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sftp"].split(":")[1])' "$work/sim.json")
sim_user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"])' "$work/sim.json")

ssh-keygen -q -t ed25519 -N "" -f "$sshd_dir/host"
cp "$work/${sim_user}_ed25519" "$sshd_dir/user" && chmod 600 "$sshd_dir/user"
ssh-keygen -y -f "$sshd_dir/user" > "$sshd_dir/authorized_keys"
mkdir -p "$sshd_dir/chroot" /run/sshd
sshd_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$sshd_dir/sshd_config" <<CFG
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $sshd_dir/host
PidFile $sshd_dir/pid
AuthorizedKeysFile $sshd_dir/authorized_keys
PasswordAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
ChrootDirectory $sshd_dir/chroot
ForceCommand internal-sftp
CFG
/usr/sbin/sshd -D -f "$sshd_dir/sshd_config" &
sshd_pid=$!
sleep 0.5

put() { # port user key
  printf 'put %s big.bin\n' "$work/big.bin" > "$work/batch"
  local start end
  start=$(date +%s.%N)
  # A failed upload must not pass for a fast one.
  sftp -q -b "$work/batch" -P "$1" -i "$3" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o Ciphers=aes128-gcm@openssh.com "$2@127.0.0.1" > /dev/null ||
    { echo "upload to port $1 failed" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(round($size_mib / ($end - $start), 1))"
}

echo "one ${size_mib} MiB file, OpenSSH sftp client, cipher aes128-gcm@openssh.com, $harness"
for r in $(seq "$rounds"); do
  sim=$(put "$sim_port" "$sim_user" "$work/${sim_user}_ed25519") || exit 1
  ssh=$(put "$sshd_port" "$(id -un)" "$sshd_dir/user") || exit 1
  echo "round $r: simulator $sim MiB/s, sshd $ssh MiB/s, ratio $(python3 -c "print(round($sim / $ssh, 2))")"
done
echo "simulator peak memory: $(grep VmHWM /proc/$sim_pid/status | awk '{print $2/1024 " MiB"}')"
