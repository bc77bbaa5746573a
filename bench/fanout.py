"""Part 1, fanout: `saasctl plan -jJ` against what users would run instead,
on the fixture repository's `stacks/portal` (shared modules through
`../../modules/...`, a committed lock file, tfvars, typed variables).

Fleet, per round, on the same registry, moto and tenants (empty state: every
tenant has changes):
  (a) the naive CI loop: per tenant, copy the whole repository (the stack's
      modules are relative paths), `terraform init -reconfigure` in
      stacks/portal with the args `saasctl backend config` prints, `plan`;
  (b) the same per-tenant script under `xargs -PJ`;
  (c) the floor: bare `terraform plan` in the dirs (b) left initialised,
      J at a time;
  (d) `saasctl plan -jJ --root testdata/platform-repo` (which also writes
      the saved plans, report.json, junit).
Release: the fleet applied once (`saasctl apply`, which records each
tenant's fingerprint beside its state), then ONE tenant's variables changed
in the registry through the registry's own client (the `saas_tenant`
resource of the provider, imported and updated by `terraform apply`); per
round `saasctl plan -jJ` (full) against `saasctl plan -jJ --changed`, which
must plan exactly that tenant.
Then once: `saasctl plan -jJ` over many more tenants, for the orchestrator's
own peak RSS against the smaller runs (flat means it does not grow)."""

import json
import os
import shutil
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

from common import BenchError, Spread, ratios, run, spawn_timed, verdict

FIXTURE = "testdata/platform-repo"
STACK = "stacks/portal"

NAIVE_ONE = r"""#!/usr/bin/env bash
# One tenant of the hand-written CI script: copy the repository (the stack reaches its modules
# through ../../modules), init -reconfigure in the stack with the tenant's backend as
# `saasctl backend config` prints it, plan with the tenant's inputs (the stack's own tfvars
# give quota, settings, allowed_cidrs, public).
set -euo pipefail
t="$1" dir="$2/$1"
mkdir -p "$dir" && cp -r "$BENCH_REPO/." "$dir/"
eval "backend=( $("$BENCH_SAASCTL" backend config -a bench -t "$t") )"
cd "$dir/$BENCH_STACK"
printf '{"tenant_id":"%s","tenant_name":"Tenant %s","tenant_tier":"basic","replicas":2}' \
  "$t" "$t" >tenant.tfvars.json
terraform init -input=false -no-color -reconfigure "${backend[@]}" >/dev/null
terraform plan -input=false -no-color -var-file=tenant.tfvars.json >/dev/null
"""

BARE_PLAN = ('cd "$1/$2/$BENCH_STACK" && '
             'terraform plan -input=false -no-color -var-file=tenant.tfvars.json >/dev/null')

# The registry edit of the release figure: one tenant, as bench_list seeded it, but with
# replicas 3, written by the provider's saas_tenant resource (import, then update).
EDIT_TENANT = """terraform {{
  required_providers {{
    saas = {{ source = "saasctl/saas" }}
  }}
}}

# The registry comes from SAAS_REGISTRY.
provider "saas" {{}}

import {{
  to = saas_tenant.changed
  id = "{id}"
}}

resource "saas_tenant" "changed" {{
  id           = "{id}"
  name         = "Tenant {id}"
  email        = "ops@{id}.example"
  tier         = "basic"
  applications = ["bench"]
  variables    = {{ replicas = "3", plan_message = "bench" }}
  labels       = {{ wave = "{wave}" }}
}}
"""


def tenant_ids(n: int):
    return "".join(f"t{i:05d}\n" for i in range(n))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def prepare(ctx, tenants: int, name: str):
    """A registry of `tenants` tenants with their backends bootstrapped;
    returns the environment the contenders run in."""
    env = dict(ctx.env, SAAS_REGISTRY=ctx.seeded_sqlite(tenants))
    env.update(BENCH_REPO=str(ctx.root / FIXTURE), BENCH_STACK=STACK, BENCH_SAASCTL=ctx.saasctl)
    run([ctx.saasctl, "backend", "bootstrap", "-a", "bench", "--encryption", "aes256"], env=env)
    work = ctx.work / name
    work.mkdir(parents=True, exist_ok=True)
    return env, work


def saasctl(ctx, env, work: Path, verb: str, run_id: str, *extra, rss=False):
    """(seconds, peak RSS MB, report.json) of one `saasctl VERB` over every
    tenant of the fixture repository's stack."""
    repo = ctx.root / FIXTURE
    cmd = [ctx.saasctl, verb, "-a", "bench", "-s", str(repo / STACK), "--root", str(repo),
           "-j", str(ctx.jobs), "--runs-dir", str(work / "runs"), "--run-id", run_id, *extra]
    # 1: some tenant failed (counted from report.json); 2: changes.
    seconds, _, peak = spawn_timed(cmd, env, ok=(0, 1, 2), rss=rss, log=work / f"{run_id}.log")
    report = json.loads((work / "runs" / run_id / "report.json").read_text())
    return seconds, peak, report


def failed_tenants(report) -> int:
    """Failed tenants of a saasctl run; a lock it had to release was a
    failure it papered over, so it counts too."""
    return sum(1 for t in report["tenants"]
               if t["result"] in ("failed", "pending", "not-started") or t.get("released_locks"))


def piped(script: str, env, stdin: str) -> float:
    """Wall seconds of a bash `script` fed `stdin`."""
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", script], env=env, input=stdin, text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise BenchError(f"{script!r} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def failures(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


def fleet_round(ctx, env, work: Path, r: int):
    """Each contender once: ({contender: seconds}, {contender: failed tenants},
    saasctl's peak RSS, saasctl's report)."""
    n, j = ctx.fanout_tenants, ctx.jobs
    naive = work / "naive-one"
    # Per tenant: the contender's work, and its id in DIR.failed when that fails (the loops
    # have no retry; failures are counted, and they make the round invalid).
    one = f'"{naive}" "$1" "$2" </dev/null || echo "$1" >>"$2.failed"'
    bare = f'( {BARE_PLAN} ) </dev/null || echo "$2" >>"$3"'
    for d in ("a", "b"):
        shutil.rmtree(work / d, ignore_errors=True)
    for f in ("a.failed", "b.failed", "c.failed"):
        (work / f).unlink(missing_ok=True)
    ids = tenant_ids(n)
    times = {
        "a": piped(f"while read -r t; do bash -c '{one}' _ \"$t\" \"{work}/a\"; done", env, ids),
        "b": piped(f"xargs -P{j} -I{{}} bash -c '{one}' _ {{}} \"{work}/b\"", env, ids),
        "c": piped(f"xargs -P{j} -I{{}} bash -c '{bare}' _ \"{work}/b\" {{}} \"{work}/c.failed\"", env, ids),
    }
    failed = {k: failures(work / f"{k}.failed") for k in "abc"}
    times["d"], peak, report = saasctl(ctx, env, work, "plan", f"round{r}", rss=True)
    failed["d"] = failed_tenants(report)
    return times, failed, peak, report


def rounds_until_valid(ctx, name: str, one_round):
    """`ctx.rounds` valid rounds of `one_round(r)` -> (times, problems,
    extra): a round with any problem (a failed tenant of any contender) is
    invalid, re-run (at most `ctx.rounds` times in all) and counted."""
    times, extras, invalid = {}, [], []
    r = 0
    while len(extras) < ctx.rounds:
        t, problems, extra = one_round(r)
        r += 1
        if problems:
            invalid.append(problems)
            print(f"{name}: round {r} invalid: {problems}", flush=True)
            if len(invalid) > ctx.rounds:
                raise BenchError(f"{len(invalid)} invalid {name} rounds: {invalid}")
            continue
        for k, v in t.items():
            times.setdefault(k, []).append(v)
        extras.append(extra)
    print(f"{name}: {len(invalid)} invalid round(s) re-run: {invalid}", flush=True)
    return times, invalid, extras


def measure_fleet(ctx, env, work):
    """The fleet rounds. No lock is ever cleared between contenders: the
    local moto must not fake lock conflicts (scripts/moto_server_serial.py)."""
    naive = work / "naive-one"
    naive.write_text(NAIVE_ONE)
    naive.chmod(0o755)

    def one_round(r):
        t, failed, peak, report = fleet_round(ctx, env, work, r)
        problems = {f"({k})": v for k, v in failed.items() if v}
        return t, problems, (peak, report)

    times, invalid, extras = rounds_until_valid(ctx, "fanout fleet", one_round)
    return times, invalid, [p for p, _ in extras], extras[-1][1]


def apply_fleet(ctx, env, work):
    """`saasctl apply` of every tenant (recording the fingerprints); a tenant
    that failed is applied again by one `apply --changed`."""
    seconds, _, report = saasctl(ctx, env, work, "apply", "apply")
    if failed_tenants(report):
        more, _, report = saasctl(ctx, env, work, "apply", "apply-again", "--changed")
        seconds += more
        if failed_tenants(report):
            raise BenchError(f"apply: {failed_tenants(report)} tenants failed twice; see {work}")
    return seconds


def edit_tenant(ctx, env, work, index: int) -> str:
    """Changes tenant `index`'s variables (replicas "2" -> "3") in the
    registry through the provider's saas_tenant resource; returns its id."""
    tid = f"t{index:05d}"
    edit = work / "edit-tenant"
    edit.mkdir(parents=True, exist_ok=True)
    (edit / "main.tf").write_text(EDIT_TENANT.format(id=tid, wave=f"w{index % 4}"))
    run(["terraform", "init", "-input=false", "-no-color"], cwd=edit, env=env)
    run(["terraform", "apply", "-input=false", "-no-color", "-auto-approve"], cwd=edit, env=env)
    return tid


def stamp_s(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def changed_split(seconds: float, report):
    """Where `--changed`'s wall time goes: (before the one planned tenant
    starts, that tenant's run, after it), in seconds. `before` holds the
    process start, the registry listing, the run's one `terraform init` and
    the fingerprints with each tenant's recorded one read from S3."""
    planned = [t for t in report["tenants"] if t["result"] != "unchanged"]
    if len(planned) != 1 or not planned[0].get("started_at") or not planned[0].get("finished_at"):
        return None
    t = planned[0]
    start, end = stamp_s(report["started_at"]), stamp_s(report["finished_at"])
    began, done = stamp_s(t["started_at"]), stamp_s(t["finished_at"])
    process = seconds - (end - start)  # before report.started_at and after finished_at
    return process + (began - start), done - began, end - done, (t.get("init_ms") or 0) / 1000


def measure_release(ctx, env, work):
    """Apply once, change one tenant, then per round the full plan against
    the `--changed` one."""
    apply_seconds = apply_fleet(ctx, env, work)
    changed_id = edit_tenant(ctx, env, work, ctx.fanout_tenants // 2)

    def one_round(r):
        full_s, _, full = saasctl(ctx, env, work, "plan", f"full{r}")
        changed_s, _, changed = saasctl(ctx, env, work, "plan", f"changed{r}", "--changed")
        problems = {}
        if failed_tenants(full):
            problems["full failed"] = failed_tenants(full)
        if failed_tenants(changed):
            problems["--changed failed"] = failed_tenants(changed)
        planned = [t["tenant"] for t in changed["tenants"] if t["result"] != "unchanged"]
        if planned != [changed_id]:
            problems["--changed planned"] = planned[:5] + (["…"] if len(planned) > 5 else [])
        return {"full": full_s, "changed": changed_s}, problems, (full, changed, changed_s)

    times, invalid, extras = rounds_until_valid(ctx, "fanout release", one_round)
    return apply_seconds, changed_id, times, invalid, extras


def measure_rss(ctx):
    env, work = prepare(ctx, ctx.rss_tenants, "fanout-rss")
    seconds, peak, report = saasctl(ctx, env, work, "plan", "rss", rss=True)
    return seconds, peak, len(report["tenants"])


def results(report) -> str:
    t = report["tenants"]
    kinds = sorted({x["result"] for x in t})
    return ", ".join(f"{k} {sum(1 for x in t if x['result'] == k)}" for k in kinds)


def profile(report) -> str:
    t = report["tenants"]
    init = [x.get("init_ms") or 0 for x in t]
    dur = [x.get("duration_ms") or 0 for x in t]
    return (f"per tenant (last round): median {statistics.median(dur) / 1000:.2f} s, of which "
            f"`terraform init` median {statistics.median(init):.0f} ms; results: {results(report)}")


def invalid_detail(invalid) -> str:
    return "".join("; " + ", ".join(f"{k} {v}" for k, v in f.items()) for f in invalid)


def release_profile(extras) -> str:
    splits = [s for s in (changed_split(sec, ch) for _, ch, sec in extras) if s]
    if not splits:
        return "(no split: the planned tenant's timestamps are missing)"
    before, tenant, after, init = (Spread.of([s[i] for s in splits]) for i in range(4))
    return (f"`--changed` wall time, median (min–max): {before.fmt(2, ' s')} before the one "
            f"planned tenant starts (process start, registry listing, the run's one "
            f"`terraform init`, every tenant's fingerprint and its recorded one read from S3), "
            f"{tenant.fmt(2, ' s')} that tenant (of which its own `terraform init` "
            f"{init.fmt(2, ' s')}), {after.fmt(2, ' s')} after it (report, junit)")


def section(ctx, stamp: str) -> str:
    n, j = ctx.fanout_tenants, ctx.jobs
    load_start = load()
    env, work = prepare(ctx, n, "fanout")
    times, invalid, peaks, report = measure_fleet(ctx, env, work)
    apply_s, changed_id, rtimes, rinvalid, rextras = measure_release(ctx, env, work)
    rss_seconds, rss_peak, rss_n = measure_rss(ctx)
    load_end = load()
    cmd = f"scripts/bench fanout --tenants {n} --rss-tenants {ctx.rss_tenants} --rounds {ctx.rounds}"
    vs_c = ratios(times["d"], times["c"])
    vs_a = ratios(times["a"], times["d"])
    vs_b = ratios(times["b"], times["d"])
    release = ratios(rtimes["full"], rtimes["changed"])
    ctxline = ", ".join(f"({k}) {Spread.of(v).fmt(1, ' s')}" for k, v in times.items())
    full_last, changed_last, _ = rextras[-1]
    return f"""## 1. fanout: {n} tenants of `{FIXTURE}/{STACK}` at -j{j} on moto

{stamp}

Load average (1, 5, 15 min, as `uptime` shows it) at the start of this part:
{load_start}; at its end: {load_end}.

Reproduce: `{cmd}`. The fixture repository's `portal` stack: local modules
through `../../modules/...`, a committed lock file, `terraform.tfvars` and an
`*.auto.tfvars`, typed variables. saasctl runs with `--root {FIXTURE}`;
the naive loop copies the whole repository per tenant (the modules are
relative paths) and gets each tenant's backend from `saasctl backend
config`, as users' scripts would. One moto for all contenders, the registry
in SQLite, no lock cleared between contenders.

**Fleet**: plans against empty state (every tenant has changes).

| figure | ratio median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
| `saasctl plan -j{j}` time ÷ (c) bare `terraform plan` on pre-initialised dirs, {j} at a time | {vs_c.fmt()} | ≤ 1.05 | {verdict(vs_c.median, 1.05, True)} |
| (b) the naive init+plan loop under `xargs -P{j}` ÷ `saasctl plan -j{j}`: times faster | {vs_b.fmt()} | ≥ 1.3 | {verdict(vs_b.median, 1.3, False)} |
| (a) the same loop, sequential ÷ `saasctl plan -j{j}` (context) | {vs_a.fmt()} | | |

Context, wall time median (min–max): {ctxline}; (d) is saasctl. saasctl {profile(report)}.
Invalid rounds, re-run (a contender had a failed tenant): {len(invalid)}{invalid_detail(invalid)}.

**Release**: the fleet applied once (`saasctl apply -j{j}`, {apply_s:.0f} s,
which records each tenant's fingerprint beside its state), then one
tenant's variables changed in the registry (`{changed_id}`: `replicas` "2" →
"3", written by the provider's `saas_tenant` resource, imported and updated
by `terraform apply`). Per round: `saasctl plan -j{j}` of every tenant, then
`saasctl plan -j{j} --changed`; a round counts only if `--changed` planned
exactly `{changed_id}` and neither run had a failed tenant.

| figure | ratio median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
| full `saasctl plan -j{j}` ÷ `saasctl plan -j{j} --changed`: times faster | {release.fmt(1)} | ≥ 20 | {verdict(release.median, 20, False)} |

Context, wall time median (min–max): full {Spread.of(rtimes['full']).fmt(1, ' s')}, `--changed`
{Spread.of(rtimes['changed']).fmt(2, ' s')}. Results (last round): full: {results(full_last)};
`--changed`: {results(changed_last)}. {release_profile(rextras)}.
Invalid rounds, re-run: {len(rinvalid)}{invalid_detail(rinvalid)}.

| orchestrator peak RSS (VmHWM of the `saasctl` process only) | MB | target |
| --- | --- | --- |
| `saasctl plan -j{j}`, {n} tenants (max over the fleet rounds) | {max(p for p in peaks if p):.1f} | |
| `saasctl plan -j{j}`, {rss_n} tenants (one run, {rss_seconds:.0f} s) | {rss_peak:.1f} | ≤ 50 ({verdict(rss_peak, 50, True)}) |
"""
