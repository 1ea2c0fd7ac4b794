#!/usr/bin/env python3
"""Apply infra/examples/complete against a moto server, list what was created and what was
skipped (and why), write `terraform output -json`, destroy. Called by apply-on-moto.sh.

The shipped .tf files are not changed: infra/ is copied to a temp dir, and the copy of the example
gets a provider override file (moto_override.tf) pointing every service the stack uses at moto,
and moto.auto.tfvars.json with what the example needs from its environment (a VPC and two subnets
created on moto first, a stand-in function zip with its manifest, and the settings of a stack that
is destroyed again).

Where moto lacks an API the stack calls, the resource's create fails, Terraform goes on with every
resource that does not depend on it, and the table below names the failure; the resources that
depend on it are listed as skipped, "depends on <failed resource>".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True  # importing moto_stubs must not leave __pycache__ in the tree
INFRA = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
EXAMPLE = "examples/complete"
REGION = "eu-west-1"
# Every service the stack's resources and data sources call (provider 5.x endpoint names).
SERVICES = ["dynamodb", "ec2", "events", "iam", "lambda", "logs", "s3", "sfn", "sqs", "sts", "transfer"]


class Failure(Exception):
    """Something the test did not expect: exit non-zero."""


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_plugin_dir() -> str | None:
    if os.environ.get("TF_PLUGIN_DIR"):
        return os.environ["TF_PLUGIN_DIR"]
    out = subprocess.run(
        ["find", "/", "-name", "terraform-provider-aws*", "-type", "f", "-not", "-path", "/proc/*",
         "-not", "-path", "*/.terraform/*"],
        capture_output=True, text=True).stdout.split()
    if not out:
        return None
    # <dir>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_...
    return str(Path(out[0]).parents[5])


def start_moto(workdir: Path, stubs: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logf = open(workdir / "moto.log", "w")
    # AWS managed policies (the function's AWSXRayDaemonWriteAccess) exist on moto only when loaded.
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    server = [str(Path(__file__).with_name("moto_stubs.py"))] if stubs else ["-m", "moto.server"]
    proc = subprocess.Popen([sys.executable, *server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"moto server exited ({proc.returncode}); see {workdir / 'moto.log'}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    raise Failure("moto server did not answer within 30 s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def network_on_moto(url: str) -> dict:
    """The VPC and subnets the example expects to exist already (terraform.tfvars names real ones)."""
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=url, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{REGION}{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    return {"vpc_id": vpc, "subnet_ids": subnets}


def transfer_server_ids(url: str) -> set[str]:
    import boto3

    transfer = boto3.client("transfer", endpoint_url=url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return {s["ServerId"] for s in transfer.list_servers()["Servers"]}


def transfer_user_exists(url: str, user_id: str) -> bool:
    import boto3

    transfer = boto3.client("transfer", endpoint_url=url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    server_id, _, user = user_id.partition("/")
    try:
        transfer.describe_user(ServerId=server_id, UserName=user)
        return True
    except Exception:  # noqa: BLE001 (moto's UserNotFound/ServerNotFound)
        return False


def stand_in_zip(workdir: Path) -> Path:
    """A function zip and the manifest lambda/scripts/package.sh writes beside it (moto does not run
    the function, so no build is needed)."""
    zip_path = workdir / "lambda" / "bootstrap.zip"
    zip_path.parent.mkdir()
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho stand-in for the copy function\n")
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (zip_path.with_suffix(".json")).write_text(json.dumps({"architecture": "x86_64", "zip_sha256": digest}))
    return zip_path


def override(url: str) -> str:
    endpoints = "\n".join(f"    {s:<8} = \"{url}\"" for s in SERVICES)
    return f"""# Written by infra/scripts/apply_on_moto.py into a temp copy: every service at moto.
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false # moto answers sts:GetCallerIdentity (account 123456789012)
  s3_use_path_style           = true
  # moto answers an API it lacks with a 500, which the SDK retries (25 times by default, with
  # backoff): the resource would fail only after minutes.
  max_retries = 1

  endpoints {{
{endpoints}
  }}
}}
"""


class Terraform:
    def __init__(self, cwd: Path, workdir: Path):
        self.cwd = cwd
        self.workdir = workdir
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", TF_CLI_CONFIG_FILE="/dev/null",
                        TF_DATA_DIR=str(cwd / ".terraform"), CHECKPOINT_DISABLE="1",
                        # The provider must not find real credentials or profiles.
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                        AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
            self.env.pop(k, None)

    def run(self, *args: str, check: bool = True, name: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(["terraform", *args], cwd=self.cwd, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Interrupted, Terraform stops starting resources and saves the state of those it made.
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise Failure(f"terraform {args[0]} took longer than {timeout:.0f} s; interrupted")
        p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if name:
            (self.workdir / f"{name}.out").write_text(p.stdout)
            (self.workdir / f"{name}.err").write_text(p.stderr)
        if check and p.returncode != 0:
            raise Failure(f"terraform {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        return p


def resource_of(addr: str) -> str:
    """module.a.aws_x.y["k"] -> module.a.aws_x.y (graph nodes are resources, not instances)."""
    return re.sub(r"\[[^\]]*\]", "", addr)


def dependencies(tf: Terraform) -> dict[str, set[str]]:
    """Resource -> the resources it depends on, transitively (`terraform graph`, resources only)."""
    dot = tf.run("graph", name="graph").stdout
    direct: dict[str, set[str]] = {}
    for a, b in re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', dot):
        clean = lambda s: re.sub(r"^\[root\]\s*|\s*\(expand\)$", "", s)
        direct.setdefault(clean(a), set()).add(clean(b))
    closure: dict[str, set[str]] = {}

    def walk(n: str, seen: set[str]) -> set[str]:
        if n in closure:
            return closure[n]
        out: set[str] = set()
        for d in direct.get(n, ()):
            if d not in seen:
                out |= {d} | walk(d, seen | {n})
        closure[n] = out
        return out

    for n in list(direct):
        walk(n, set())
    return closure


def managed_in_state(tf: Terraform, ids: dict[str, str] | None = None) -> dict[str, bool]:
    """Managed resource instance address -> tainted (and, into ids, address -> id)."""
    p = tf.run("show", "-json", name="state")
    doc = json.loads(p.stdout or "{}")
    out: dict[str, bool] = {}

    def visit(mod: dict) -> None:
        for r in mod.get("resources", []):
            if r.get("mode") == "managed":
                out[r["address"]] = bool(r.get("tainted"))
                if ids is not None:
                    ids[r["address"]] = (r.get("values") or {}).get("id", "")
        for child in mod.get("child_modules", []):
            visit(child)

    visit(doc.get("values", {}).get("root_module", {}))
    return out


def parse_apply(stdout: str) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """From `terraform apply -json`: errors per address, addresses whose apply started, and errors
    naming no resource."""
    errors: dict[str, list[str]] = {}
    started: set[str] = set()
    unattributed: list[str] = []
    for line in stdout.splitlines():
        try:
            m = json.loads(line)
        except json.JSONDecodeError:
            continue
        if m.get("type") == "apply_start":
            started.add(m["hook"]["resource"]["addr"])
        elif m.get("type") == "diagnostic" and m["diagnostic"].get("severity") == "error":
            d = m["diagnostic"]
            text = d.get("summary", "")
            detail = " ".join(d.get("detail", "").split())
            if detail:
                text += ": " + detail
            text = re.sub(r"\s+", " ", text)
            if d.get("address"):
                errors.setdefault(d["address"], []).append(text)
            else:
                unattributed.append(text)
    return errors, started, unattributed


def short(text: str, n: int = 220) -> str:
    # The provider's messages carry a request id and an HTTP status; the operation and moto's answer
    # are what tells a reader which API is missing.
    text = re.sub(r",? ?RequestID: [^,]*", "", text)
    return text if len(text) <= n else text[: n - 3] + "..."


def main() -> int:
    t0 = time.monotonic()
    args = sys.argv[1:]
    stubs = "--stub-missing" in args or os.environ.get("APPLY_ON_MOTO_STUBS") == "1"
    args = [a for a in args if a != "--stub-missing"]
    outputs_path = Path(args[0] if args else os.environ.get("APPLY_ON_MOTO_OUTPUTS", "")
                        or "moto-outputs.json").resolve()
    if shutil.which("terraform") is None:
        raise Failure("terraform is not installed")
    try:
        import moto  # noqa: F401
    except ImportError:
        raise Failure("moto is not installed (pip install 'moto[server]')")
    plugin_dir = find_plugin_dir()

    workdir = Path(tempfile.mkdtemp(prefix="apply-on-moto-"))
    keep = os.environ.get("APPLY_ON_MOTO_KEEP") == "1"
    moto_proc = None
    try:
        shutil.copytree(INFRA, workdir / "infra",
                        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
        example = workdir / "infra" / EXAMPLE
        moto_proc, url = start_moto(workdir, stubs)
        log(f"== moto server {url} (log {workdir / 'moto.log'})")
        if stubs:
            from moto_stubs import STUBBED

            log(f"== --stub-missing: stand-ins that check nothing for {', '.join(STUBBED)}")

        net = network_on_moto(url)
        zip_path = stand_in_zip(workdir)
        tfvars = {
            **net,
            "region": REGION,
            "lambda_zip_path": str(zip_path),
            "table_deletion_protection": False,
            "force_destroy": True,
        }
        (example / "moto.auto.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        (example / "moto_override.tf").write_text(override(url))
        log(f"== network on moto: {net['vpc_id']} {', '.join(net['subnet_ids'])}")

        tf = Terraform(example, workdir)
        init = ["init", "-input=false"]
        if plugin_dir:
            init.append(f"-plugin-dir={plugin_dir}")
        tf.run(*init, name="init")
        log(f"== terraform init (provider from {plugin_dir or 'the registry'})")

        tf.run("plan", "-input=false", "-out=plan.tfplan", "-no-color", name="plan")
        plan = json.loads(tf.run("show", "-json", "plan.tfplan").stdout)
        planned = [rc["address"] for rc in plan.get("resource_changes", [])
                   if rc.get("mode") == "managed" and "create" in rc["change"]["actions"]]
        log(f"== terraform plan: {len(planned)} to create")

        t_apply = time.monotonic()
        p = tf.run("apply", "-input=false", "-json", "plan.tfplan", check=False, name="apply")
        apply_s = time.monotonic() - t_apply
        errors, started, unattributed = parse_apply(p.stdout)
        log(f"== terraform apply: exit {p.returncode} in {apply_s:.1f} s")

        state = managed_in_state(tf)
        deps = dependencies(tf)
        created = [a for a in planned if a in state and not state[a]]
        failed = {a for a in planned if a in errors or state.get(a)}
        rows = []
        for a in planned:
            if a in created:
                rows.append(("created", a, ""))
                continue
            if a in errors:
                why = "; ".join(short(e) for e in errors[a])
                if state.get(a):
                    why = "created but tainted: " + why
            else:
                upstream = sorted({f for f in failed if resource_of(f) in deps.get(resource_of(a), set())})
                if upstream:
                    why = "depends on " + ", ".join(upstream)
                elif a in started:
                    why = "apply started but did not finish, and no error names it"
                else:
                    why = "never started, and no error names it"
            rows.append(("skipped", a, why))

        log("")
        for kind, a, why in rows:
            log(f"{kind:<8} {a}" + (f"  ({why})" if why else ""))
        for e in unattributed:
            log(f"error    (no resource) {short(e, 400)}")
        skipped = [r for r in rows if r[0] == "skipped"]
        log(f"\n== {len(created)} created on moto, {len(skipped)} skipped, of {len(planned)} planned")

        # Outputs: what Terraform saved in the state after the (possibly partial) apply.
        out = tf.run("output", "-json", name="output")
        outputs_path.parent.mkdir(parents=True, exist_ok=True)
        outputs_path.write_text(out.stdout)
        doc = json.loads(out.stdout or "{}")
        if "harness" in doc:
            log(f"== terraform output -json -> {outputs_path} (harness output present)")
        else:
            log(f"== terraform output -json -> {outputs_path}: no `harness` output "
                f"(outputs present: {', '.join(sorted(doc)) or 'none'}); an output depending on a "
                "skipped resource is not saved by a failed apply")

        t_destroy = time.monotonic()
        # -refresh=false: the refresh walk before a destroy plans the resources that were never
        # created, calling the APIs moto lacks again (the state machine's definition check).
        d = tf.run("destroy", "-input=false", "-auto-approve", "-refresh=false", "-json", check=False,
                   name="destroy")
        ids: dict[str, str] = {}
        left = managed_in_state(tf, ids)
        d_errors, _, d_unattr = parse_apply(d.stdout)
        # moto answers DescribeServer for a deleted server with ServerNotFound, where AWS answers
        # ResourceNotFoundException: the provider's delete waiter takes that for a failure. A server
        # moto no longer lists is gone: forget it, then destroy what waited on it.
        for round_ in range(2, 5):
            servers = transfer_server_ids(url)
            gone = [a for a, i in ids.items() if a in left and (
                resource_of(a).endswith("aws_transfer_server.this") and i not in servers
                or resource_of(a).endswith("aws_transfer_user.this") and not transfer_user_exists(url, i))]
            if not gone:
                break
            for a in gone:
                log(f"== {a}: deleted on moto ({ids[a]} no longer there), though the provider's delete "
                    "waiter did not recognize moto's ServerNotFound/UserNotFound; removed from the state")
            tf.run("state", "rm", *gone, name=f"state-rm-{round_}")
            d = tf.run("destroy", "-input=false", "-auto-approve", "-refresh=false", "-json", check=False,
                       name=f"destroy-{round_}")
            ids = {}
            left = managed_in_state(tf, ids)
            e2, _, u2 = parse_apply(d.stdout)
            d_errors = {**{a: e for a, e in d_errors.items() if a in left}, **e2}
            d_unattr = [e for e in d_unattr + u2 if "ServerNotFound" not in e and "UserNotFound" not in e]
        log(f"== terraform destroy: exit {d.returncode} in {time.monotonic() - t_destroy:.1f} s, "
            f"{len(left)} left in the state")
        for a in sorted(left):
            log(f"left     {a}  ({'; '.join(short(e) for e in d_errors.get(a, [])) or 'no error names it'})")
        for a in sorted(set(d_errors) - set(left)):
            log(f"error    (destroy) {a}: {'; '.join(short(e) for e in d_errors[a])}")
        for e in d_unattr:
            log(f"error    (destroy) {short(e, 400)}")

        log(f"== apply-on-moto wall time {time.monotonic() - t0:.1f} s")
        if not created:
            raise Failure("nothing was created on moto")
        return 0
    finally:
        stop(moto_proc)
        if keep:
            log(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def on_signal(signum, _frame):
    raise Failure(f"interrupted (signal {signum})")


if __name__ == "__main__":
    # The moto server and the temp dir go with the run, whichever way it ends.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAILED apply-on-moto: {e}", file=sys.stderr)
        sys.exit(1)
