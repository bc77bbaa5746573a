"""Part 5, locks: spurious state-lock conflicts of the local S3/DynamoDB.

Side by side in one run, three moto servers on private ports:
  (pypi) `moto_server` as PyPI ships it (werkzeug's threaded server);
  (old)  the project's launcher before the fix, as commit 4da9074 had it
         (one request at a time, headers and body in two send() calls);
  (new)  scripts/moto_server_serial.py, which every moto of the project
         runs through (one AWS request at a time, each response in one
         send()).
On each, `terraform plan` cycles (lock, read state, unlock) over distinct
state keys, J at a time, with the SDK's default retries and with
`max_retries=1` (a lost response then fails the plan instead of being retried
into a conflict with its own lock). Every failed plan is counted: distinct
keys cannot conflict, so each failure is spurious. Lock items a failed plan
left are removed before the next round, so one fault is counted once."""

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import BenchError, run

OLD_LAUNCHER = "4da9074:scripts/moto_server_serial.py"


def old_launcher(root: Path, work: Path):
    """The old launcher's file, or None where the clone lacks that commit
    (a shallow clone): that contender is then left out and said so."""
    path = work / "old_moto_server_serial.py"
    if not path.exists():
        shown = subprocess.run(["git", "-C", str(root), "show", OLD_LAUNCHER],
                               capture_output=True, text=True)
        if shown.returncode != 0:
            return None
        path.write_text(shown.stdout)
    return str(path)


SERVERS = {
    "pypi": lambda venv, root, work: [str(venv / "bin/moto_server")],
    "old": lambda venv, root, work: [str(venv / "bin/python"), old_launcher(root, work)],
    "new": lambda venv, root, work: [str(venv / "bin/python"), str(root / "scripts/moto_server_serial.py")],
}
NAMES = {
    "pypi": "`moto_server` (PyPI, threaded)",
    "old": "the launcher before the fix (4da9074: serial, split sends)",
    "new": "`scripts/moto_server_serial.py`",
}
RETRIES = {"default retries": [], "max_retries=1": ["-backend-config=max_retries=1"]}
STACK = 'terraform {\n  backend "s3" {}\n}\nresource "terraform_data" "x" {\n  input = "y"\n}\n'


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cmd, log: Path):
    port = free_port()
    proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise BenchError(f"{cmd[-1]} did not come up; see {log}")


def clients(url):
    import boto3

    kw = dict(endpoint_url=url, region_name="us-east-1",
              aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("s3", **kw), boto3.client("dynamodb", **kw)


def backend_args(key: int):
    return [f"-backend-config={kv}" for kv in (
        "bucket=locks-bench", f"key=t{key}/terraform.tfstate", "region=us-east-1",
        "dynamodb_table=locks-bench", "use_path_style=true", "skip_credentials_validation=true",
        "skip_requesting_account_id=true", "skip_metadata_api_check=true",
        "skip_region_validation=true")]


def count_failures(ctx, url: str, work: Path, keys: int, rounds: int, extra) -> int:
    s3, ddb = clients(url)
    env = dict(ctx.env, AWS_ENDPOINT_URL_S3=url, AWS_ENDPOINT_URL_DYNAMODB=url)
    stack = work / "stack"
    stack.mkdir(parents=True, exist_ok=True)
    (stack / "main.tf").write_text(STACK)
    data = lambda k: dict(env, TF_DATA_DIR=str(work / f"data-{k}"))
    for k in range(keys):
        run(["terraform", f"-chdir={stack}", "init", "-input=false", "-no-color",
             *backend_args(k), *extra], env=data(k))

    def plan(k) -> bool:
        cmd = ["terraform", f"-chdir={stack}", "plan", "-input=false", "-no-color", "-lock-timeout=0s"]
        return subprocess.run(cmd, env=data(k), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    failures = 0
    with ThreadPoolExecutor(ctx.jobs) as pool:
        for _ in range(rounds):
            failed = sum(1 for ok in pool.map(plan, range(keys)) if not ok)
            failures += failed
            if failed:
                for page in ddb.get_paginator("scan").paginate(TableName="locks-bench"):
                    for item in page["Items"]:
                        if not item["LockID"]["S"].endswith("-md5"):
                            ddb.delete_item(TableName="locks-bench", Key={"LockID": item["LockID"]})
    return failures


def measure(ctx):
    keys, rounds = (2, 2) if ctx.smoke else (ctx.lock_keys, ctx.lock_rounds)
    venv = ctx.root / ".tools/venv"
    counts = {}
    for name, cmd in SERVERS.items():
        argv = cmd(venv, ctx.root, ctx.work)
        if None in argv:
            print(f"    locks: {name} left out: {OLD_LAUNCHER} is not in this clone", flush=True)
            continue
        for mode, extra in RETRIES.items():
            work = ctx.work / "locks" / name / mode.replace(" ", "-")
            work.mkdir(parents=True, exist_ok=True)
            proc, url = start_server(argv, work / "moto.log")
            try:
                s3, ddb = clients(url)
                s3.create_bucket(Bucket="locks-bench")
                ddb.create_table(TableName="locks-bench", BillingMode="PAY_PER_REQUEST",
                                 KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
                start = time.perf_counter()
                failed = count_failures(ctx, url, work, keys, rounds, extra)
                counts[(name, mode)] = (failed, time.perf_counter() - start)
            finally:
                proc.kill()
                proc.wait()
            print(f"    locks: {name}, {mode}: {failed}/{keys * rounds} plans failed", flush=True)
    return keys, rounds, counts


def section(ctx, stamp: str) -> str:
    keys, rounds, counts = measure(ctx)
    plans = keys * rounds
    rows = "\n".join(
        f"| {NAMES[name]} "
        f"| {mode} | {failed} / {plans} | {seconds:.1f} s |"
        for (name, mode), (failed, seconds) in counts.items())
    new_failed = sum(f for (name, _), (f, _) in counts.items() if name == "new")
    cmd = f"scripts/bench locks --lock-keys {keys} --lock-rounds {rounds} -j {ctx.jobs}"
    return f"""## 5. locks: spurious lock conflicts of the local S3/DynamoDB

{stamp}

Reproduce: `{cmd}`. {keys} distinct state keys, {rounds} rounds of one
`terraform plan -lock-timeout=0s` per key, {ctx.jobs} at a time; distinct keys
cannot conflict, so every failed plan is spurious.

| server | SDK retries | failed plans | wall |
| --- | --- | --- | --- |
{rows}

Target: 0 failed plans on the project's server ({'met' if new_failed == 0 else '**missed**'}).
"""
