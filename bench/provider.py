"""Part 2, provider: `terraform plan` (with refresh) of N `saas_tenant`
resources on SQLite against the same plan of N `terraform_data` resources
(Terraform's builtin, no plugin: the floor); the provider's peak RSS during
that plan, and its start-to-handshake time."""

import os
import select
import subprocess
import time

from common import BenchError, Spread, ratios, run, spawn_timed, verdict

MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

SAAS_CONFIG = """terraform {{
  required_providers {{
    saas = {{ source = "saasctl/saas" }}
  }}
}}

provider "saas" {{
  registry = "sqlite://{registry}"
}}

resource "saas_application" "bench" {{
  name = "bench"
  state {{
    region     = "us-east-1"
    bucket     = "bench-state"
    lock_table = "bench-locks"
  }}
}}

resource "saas_tenant" "t" {{
  for_each     = toset([for i in range({n}) : format("t%05d", i)])
  id           = each.key
  name         = "Tenant ${{each.key}}"
  email        = "ops@${{each.key}}.example"
  tier         = "basic"
  applications = [saas_application.bench.id]
  variables    = {{ replicas = "2", plan_message = "bench" }}
  labels       = {{ wave = "w1" }}
}}
"""

# The same shape of data, in Terraform's builtin resource.
DATA_CONFIG = """resource "terraform_data" "bench" {{
  input = {{ name = "bench", region = "us-east-1", bucket = "bench-state", lock_table = "bench-locks" }}
}}

resource "terraform_data" "t" {{
  for_each = toset([for i in range({n}) : format("t%05d", i)])
  input = {{
    id           = each.key
    name         = "Tenant ${{each.key}}"
    email        = "ops@${{each.key}}.example"
    tier         = "basic"
    applications = [terraform_data.bench.output.name]
    variables    = {{ replicas = "2", plan_message = "bench" }}
    labels       = {{ wave = "w1" }}
  }}
}}
"""

PLAN = ["terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode"]


def applied_config(ctx, name: str, text: str):
    """A directory holding `text` as main.tf, initialised and applied."""
    work = ctx.work / "provider" / name
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.tf").write_text(text)
    run(["terraform", "init", "-input=false", "-no-color"], cwd=work, env=ctx.env)
    seconds, _, _ = spawn_timed(
        ["terraform", "apply", "-input=false", "-no-color", "-auto-approve"],
        ctx.env, cwd=work, log=work / "apply.log")
    return work, seconds


def handshake_ms(ctx) -> float:
    """Milliseconds from starting the provider binary to its go-plugin
    handshake line (`1|6|tcp|ADDR|grpc|CERT`) on stdout."""
    env = dict(ctx.env, TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE)
    start = time.perf_counter()
    proc = subprocess.Popen([ctx.provider], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        elapsed = (time.perf_counter() - start) * 1000
    finally:
        proc.kill()
        proc.wait()
    if not line.startswith("1|6|tcp|"):
        raise BenchError(f"the provider printed {line!r} instead of a 1|6|tcp| handshake")
    return elapsed


def section(ctx, stamp: str) -> str:
    n = ctx.provider_resources
    registry = ctx.work / "provider" / "registry.db"
    saas_dir, saas_apply = applied_config(ctx, "saas", SAAS_CONFIG.format(registry=registry, n=n))
    data_dir, data_apply = applied_config(ctx, "data", DATA_CONFIG.format(n=n))
    saas, data, peaks = [], [], []
    for _ in range(ctx.rounds):
        # -detailed-exitcode 0: the refresh read every tenant back unchanged.
        seconds, _, peak = spawn_timed(PLAN, ctx.env, cwd=saas_dir, rss=True,
                                       child_prefix="terraform-provider-saas",
                                       log=saas_dir / "plan.log")
        saas.append(seconds)
        peaks.append(peak)
        seconds, _, _ = spawn_timed(PLAN, ctx.env, cwd=data_dir, log=data_dir / "plan.log")
        data.append(seconds)
    if None in peaks:
        raise BenchError("no terraform-provider-saas process was seen during a plan")
    handshakes = Spread.of([handshake_ms(ctx) for _ in range(max(ctx.rounds, 10))])
    vs = ratios(saas, data)
    peak = Spread.of(peaks)
    size_mb = os.path.getsize(ctx.provider) / 1024 / 1024
    return f"""## 2. provider: `terraform plan` of {n} `saas_tenant` resources on SQLite

{stamp}

Reproduce: `scripts/bench provider --provider-resources {n} --rounds {ctx.rounds}`.
Both configs are applied first; the plans refresh every resource and find no
changes (`-detailed-exitcode` 0, checked). The floor is the same data in
{n} `terraform_data` resources (Terraform's builtin: no plugin at all).

| figure | median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
| plan time, `saas_tenant` ÷ `terraform_data` | {vs.fmt()} | ≤ 1.3 | {verdict(vs.median, 1.3, True)} |
| provider peak RSS (VmHWM of `terraform-provider-saas` during the plan) | {peak.fmt(1, ' MB')} | ≤ 25 MB | {verdict(peak.median, 25, True)} |
| provider start to handshake line ({max(ctx.rounds, 10)} starts) | {handshakes.fmt(1, ' ms')} | | |

Context: plan `saas_tenant` {Spread.of(saas).fmt(2, ' s')}, `terraform_data`
{Spread.of(data).fmt(2, ' s')}; the first apply took {saas_apply:.1f} s and
{data_apply:.1f} s; provider binary {size_mb:.1f} MB ({ctx.profile} build).
"""
