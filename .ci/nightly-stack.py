#!/usr/bin/env python3
"""Settings of one nightly run's stack, written once and read by both `terraform apply` and
`terraform destroy` (so the two act on the same stack by construction):

- name: pi-nightly-<run id>-<run attempt>, so no two runs, nor two attempts of one run, share a
  resource name (every resource name carries var.name), and a stack a failed destroy left behind
  never collides with the next apply;
- users: as many SFTP users as the nightly scenarios need at most (the harness gives scenario
  users the --user accounts in order), each with a fresh Ed25519 key;
- allowed_cidrs: the runner's own address, the only network that must reach port 22;
- force_destroy and no deletion protection, so destroy removes everything;
- the function's zip and the architecture it was built for.

It writes a tfvars JSON file and a file of harness arguments (`--user NAME=KEYFILE`, one
argument per line). Usage (see .github/workflows/nightly.yml):

  .ci/nightly-stack.py --run-id ID --run-attempt N --runner-ip IP --architecture ARCH \\
      --zip PATH --keys DIR --tfvars FILE --user-args FILE [--scenarios DIR] [--tag nightly]

Network settings come from the environment: NIGHTLY_VPC_ID, NIGHTLY_SUBNET_IDS (a JSON list).
"""

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME_PREFIX = "pi-nightly"


def stack_name(run_id: str, run_attempt: str) -> str:
    if not run_id.isdigit() or not run_attempt.isdigit():
        raise SystemExit(f"run id and attempt must be numbers, got {run_id!r} and {run_attempt!r}")
    return f"{NAME_PREFIX}-{run_id}-{run_attempt}"


def name_pattern() -> re.Pattern:
    """The validation regex of infra/variables.tf's `name` variable."""
    text = (REPO / "infra/variables.tf").read_text()
    block = text[text.index('variable "name" {') :]
    m = re.search(r'can\(regex\("([^"]+)", var\.name\)\)', block)
    if not m:
        raise SystemExit("cannot find the validation regex of var.name in infra/variables.tf")
    return re.compile(m.group(1).replace("\\\\", "\\"))


def scenario_users(scenarios: Path, tag: str) -> dict[str, int]:
    """Scenario name -> number of [[users]], for the scenarios carrying `tag`."""
    counts = {}
    for path in sorted(scenarios.glob("*.toml")):
        doc = tomllib.loads(path.read_text())
        if tag in doc.get("tags", []):
            counts[doc.get("name", path.stem)] = len(doc.get("users", []))
    if not counts:
        raise SystemExit(f"no scenario in {scenarios} is tagged {tag!r}")
    return counts


def user_names(count: int) -> list[str]:
    return [f"nightly-{i}" for i in range(1, count + 1)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-id", default=os.environ.get("GITHUB_RUN_ID"))
    p.add_argument("--run-attempt", default=os.environ.get("GITHUB_RUN_ATTEMPT", "1"))
    p.add_argument("--runner-ip", required=True, help="the runner's public IPv4 address")
    p.add_argument("--architecture", required=True, choices=["x86_64", "arm64"])
    p.add_argument("--zip", required=True, help="the bootstrap.zip package.sh built")
    p.add_argument("--keys", required=True, type=Path, help="directory for the users' private keys")
    p.add_argument("--tfvars", required=True, type=Path)
    p.add_argument("--user-args", required=True, type=Path)
    p.add_argument("--scenarios", type=Path, default=REPO / "scenarios")
    p.add_argument("--tag", default="nightly")
    args = p.parse_args()
    if not args.run_id:
        raise SystemExit("--run-id (or GITHUB_RUN_ID) is required")

    name = stack_name(args.run_id, args.run_attempt)
    if not name_pattern().fullmatch(name):
        raise SystemExit(f"{name} does not satisfy infra/variables.tf's validation of var.name")
    ip = ipaddress.ip_address(args.runner_ip)
    internal = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8"]
    if ip.version != 4 or any(ip in ipaddress.ip_network(n) for n in internal):
        raise SystemExit(f"{args.runner_ip} is not the runner's public IPv4 address")

    needed = scenario_users(args.scenarios, args.tag)
    args.keys.mkdir(parents=True, exist_ok=True)
    users, user_args = {}, []
    for user in user_names(max(needed.values())):
        key = args.keys / user
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name} {user}", "-f", str(key)], check=True)
        users[user] = {"ssh_public_keys": [key.with_suffix(".pub").read_text().strip()]}
        user_args += ["--user", f"{user}={key}"]

    tfvars = {
        "name": name,
        "allowed_cidrs": [f"{ip}/32"],
        "users": users,
        "force_destroy": True,
        "table_deletion_protection": False,
        "lambda_zip_path": args.zip,
        "lambda_architecture": args.architecture,
    }
    if os.environ.get("NIGHTLY_VPC_ID"):
        tfvars["vpc_id"] = os.environ["NIGHTLY_VPC_ID"]
    if os.environ.get("NIGHTLY_SUBNET_IDS"):
        tfvars["subnet_ids"] = json.loads(os.environ["NIGHTLY_SUBNET_IDS"])
    args.tfvars.write_text(json.dumps(tfvars, indent=2) + "\n")
    args.user_args.write_text("".join(a + "\n" for a in user_args))
    widest = max(needed, key=needed.get)
    print(
        f"stack {name}: {len(users)} user(s) ({widest} needs the most of {len(needed)} {args.tag} scenarios), "
        f"port 22 from {ip}/32, {args.architecture}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
