#!/usr/bin/env python3
"""Offline test of the nightly end-to-end workflow's deploy/destroy pair.

- The workflow's apply and destroy read the same settings (the same var files and nothing else),
  written by .ci/nightly-stack.py, and destroy runs whatever happened before it.
- The settings the script renders for a run, its rerun and the next run give three different
  stack names, each valid for var.name; and Terraform (terraform test against the mocked provider,
  tests/nightly/names.tftest.hcl) finds no resource name shared between the three stacks.
- The scenarios the workflow runs (--tag nightly) are the ones the script counted users for, and
  it creates as many users as the most demanding of them declares, each passed to the harness.

Run: python3 infra/tests/nightly/test_nightly.py   (needs PyYAML, ssh-keygen; terraform for the
collision check, skipped with a message without it). infra/scripts/check.sh runs it.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra"
WORKFLOW = REPO / ".github/workflows/nightly.yml"
SCRIPT = REPO / ".ci/nightly-stack.py"
failures = []


def check(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def steps() -> list[dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    return doc["jobs"]["aws"]["steps"], doc


def step(all_steps: list[dict], needle: str) -> dict:
    found = [s for s in all_steps if needle in s.get("run", "")]
    assert len(found) == 1, f"expected one step running {needle!r}, found {len(found)}"
    return found[0]


def terraform_args(run: str, command: str) -> list[str]:
    """The arguments of `terraform COMMAND` in a step's script, without the ones that only make
    it non-interactive."""
    for line in run.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if words[:2] == ["terraform", command]:
            return sorted(w for w in words[2:] if w not in ("-input=false", "-auto-approve"))
    raise AssertionError(f"no terraform {command} in {run!r}")


def render(run_id: str, attempt: str, work: Path, ip: str) -> tuple[dict, list[str]]:
    out = work / f"{run_id}-{attempt}"
    out.mkdir()
    subprocess.run(
        [sys.executable, str(SCRIPT), "--run-id", run_id, "--run-attempt", attempt, "--runner-ip", ip,
         "--architecture", "x86_64", "--zip", "/tmp/bootstrap.zip", "--keys", str(out / "keys"),
         "--tfvars", str(out / "nightly.tfvars.json"), "--user-args", str(out / "user-args"), "--tag", "nightly"],
        check=True, env={k: v for k, v in os.environ.items() if not k.startswith("NIGHTLY_")},
    )
    return json.loads((out / "nightly.tfvars.json").read_text()), (out / "user-args").read_text().splitlines()


def main() -> int:
    all_steps, doc = steps()

    # --- apply and destroy act on the same stack ---
    deploy, destroy = step(all_steps, "terraform apply"), step(all_steps, "terraform destroy")
    settings = step(all_steps, ".ci/nightly-stack.py")
    apply_args, destroy_args = terraform_args(deploy["run"], "apply"), terraform_args(destroy["run"], "destroy")
    check(apply_args == destroy_args, "apply and destroy read the same settings", f"{apply_args} != {destroy_args}")
    check(all(a.startswith("-var-file=") for a in apply_args) and any("nightly.tfvars.json" in a for a in apply_args),
          "the stack's settings are files only (no -var that destroy could miss)", str(apply_args))
    check(f'--tfvars "$RUNNER_TEMP/nightly.tfvars.json"' in settings["run"], "the settings step writes the file apply and destroy read")
    check(deploy.get("working-directory") == destroy.get("working-directory"), "apply and destroy run in the same directory (the same state)")
    check("always()" in str(destroy.get("if", "")), "destroy runs whatever happened before it", str(destroy.get("if")))
    check("terraform init" in destroy["run"], "destroy initialises its directory itself")
    check(doc.get("concurrency", {}).get("cancel-in-progress") is False, "a run is never cancelled half-way by the next one")

    # --- names: a run, its rerun and the next run never share one ---
    name_re = re.search(r'can\(regex\("([^"]+)", var\.name\)\)', (INFRA / "variables.tf").read_text()).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [render("10123456789", "1", work, "203.0.113.10"), render("10123456789", "2", work, "203.0.113.10"),
                render("10123456790", "1", work, "203.0.113.11")]
        names = [r[0]["name"] for r in runs]
        check(len(set(names)) == 3, "a run, its rerun and the next run get three stack names", str(names))
        check(all(re.fullmatch(name_re, n) for n in names), f"every name satisfies var.name's validation {name_re}", str(names))
        check(all(r[0]["force_destroy"] and not r[0]["table_deletion_protection"] for r in runs),
              "every nightly stack can be destroyed (force_destroy, no deletion protection)")
        check(runs[0][0]["allowed_cidrs"] == ["203.0.113.10/32"], "port 22 is open to the runner's address only", str(runs[0][0]["allowed_cidrs"]))

        # --- users: as many as the most demanding nightly scenario, all passed to the harness ---
        scenario_step = step(all_steps, "scenario all")
        tag = re.search(r"--tag (\S+)", scenario_step["run"]).group(1)
        check(tag == "nightly" and "--tag nightly" in settings["run"], "the script counts users for the scenarios the workflow runs", tag)
        needed = {}
        for path in sorted((REPO / "scenarios").glob("*.toml")):
            d = tomllib.loads(path.read_text())
            if tag in d.get("tags", []):
                needed[d["name"]] = len(d.get("users", []))
        users = runs[0][0]["users"]
        check(len(needed) > 0 and len(users) == max(needed.values()),
              f"{len(users)} user(s): as many as the most demanding of the {len(needed)} nightly scenarios declares",
              f"needed {needed}")
        args = runs[0][1]
        check(args[0::2] == ["--user"] * len(users) and [a.split("=", 1)[0] for a in args[1::2]] == list(users),
              "every user is passed to the harness as --user NAME=KEYFILE", str(args))
        check('"${user_args[@]}"' in scenario_step["run"] and "$RUNNER_TEMP/user-args" in scenario_step["run"],
              "the scenario step passes the script's --user arguments")
        check(all(len(u["ssh_public_keys"]) == 1 and u["ssh_public_keys"][0].startswith("ssh-ed25519 ") for u in users.values()),
              "each user has its own fresh key")
        check(len({k for u in users.values() for k in u["ssh_public_keys"]}) == len(users), "no two users share a key")
        arch_env = doc.get("env", {}).get("LAMBDA_ARCHITECTURE")
        package = step(all_steps, "package.sh")
        check(arch_env in ("x86_64", "arm64") and '--arch "$LAMBDA_ARCHITECTURE"' in package["run"]
              and '--architecture "$LAMBDA_ARCHITECTURE"' in settings["run"],
              "package.sh builds the architecture the stack deploys")

        # --- Terraform: the three stacks' resource names do not collide ---
        if shutil.which("terraform") is None:
            print("SKIPPED the resource-name collision check: terraform is not installed")
        else:
            runs_file = work / "nightly-runs.json"
            runs_file.write_text(json.dumps({"nightly_runs": [r[0] for r in runs]}))
            env = dict(os.environ, TF_IN_AUTOMATION="1", TF_CLI_CONFIG_FILE=os.environ.get("TF_CLI_CONFIG_FILE", "/dev/null"))
            if not (INFRA / ".terraform").is_dir():
                init = ["terraform", "init", "-backend=false", "-input=false"]
                if os.environ.get("TF_PLUGIN_DIR"):
                    init.append(f"-plugin-dir={os.environ['TF_PLUGIN_DIR']}")
                subprocess.run(init, cwd=INFRA, env=env, check=True, stdout=subprocess.DEVNULL)
            result = subprocess.run(
                ["terraform", "test", "-no-color", "-test-directory=tests/nightly",
                 "-var-file=examples/complete/terraform.tfvars", f"-var-file={runs_file}"],
                cwd=INFRA, env=env, capture_output=True, text=True,
            )
            out = result.stdout + result.stderr
            print("\n".join("    " + l for l in result.stdout.splitlines() if "run " in l))
            check(result.returncode == 0 and "3 passed, 0 failed" in out,
                  "terraform finds no resource name shared by the three stacks", out[-3000:])

    print(f"nightly: {'all checks passed' if not failures else f'{len(failures)} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
