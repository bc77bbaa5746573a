"""Part 1, fanout: `saasctl plan -jJ` against what users would run instead.

Per round, on the same registry, moto and tenants:
  (a) the naive CI loop: per tenant, copy the stack, `terraform init
      -reconfigure` with the args `saasctl backend config` prints, `plan`;
  (b) the same per-tenant script under `xargs -PJ`;
  (c) the limit: bare `terraform plan` in the dirs (b) left initialised,
      J at a time;
  (d) `saasctl plan -jJ` (which also writes plan.json, report.json, junit).
Then once: `saasctl plan -jJ` over many more tenants, for the orchestrator's
own peak RSS against the 100-tenant runs (flat means it does not grow)."""

import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import BenchError, Spread, ratios, run, spawn_timed, verdict

NAIVE_ONE = r"""#!/usr/bin/env bash
# One tenant of the hand-written CI script: copy the stack, init -reconfigure with the
# tenant's backend as `saasctl backend config` prints it, plan.
set -euo pipefail
t="$1" dir="$2/$1"
mkdir -p "$dir" && cp -r "$BENCH_STACK/." "$dir/"
eval "backend=( $("$BENCH_SAASCTL" backend config -a bench -t "$t") )"
printf '{"tenant_id":"%s","tenant_name":"Tenant %s","tenant_tier":"basic","replicas":"2","plan_message":"bench"}' \
  "$t" "$t" >"$dir/tenant.tfvars.json"
cd "$dir"
terraform init -input=false -no-color -reconfigure "${backend[@]}" >/dev/null
terraform plan -input=false -no-color -var-file=tenant.tfvars.json >/dev/null
"""


BARE_PLAN = 'cd "$1/$2" && terraform plan -input=false -no-color -var-file=tenant.tfvars.json >/dev/null'


def tenant_ids(n: int):
    return "".join(f"t{i:05d}\n" for i in range(n))


def prepare(ctx, tenants: int, name: str):
    """A registry of `tenants` tenants with their backends bootstrapped;
    returns the environment the contenders run in."""
    env = dict(ctx.env, SAAS_REGISTRY=ctx.seeded_sqlite(tenants))
    env.update(BENCH_STACK=str(ctx.root / "examples/tenant-stack"), BENCH_SAASCTL=ctx.saasctl)
    run([ctx.saasctl, "backend", "bootstrap", "-a", "bench", "--encryption", "aes256"], env=env)
    work = ctx.work / name
    work.mkdir(parents=True, exist_ok=True)
    return env, work


def saasctl_plan(ctx, env, work: Path, run_id: str):
    """(seconds, peak RSS MB) of one `saasctl plan` over every tenant."""
    cmd = [ctx.saasctl, "plan", "-a", "bench", "-s", str(ctx.root / "examples/tenant-stack"),
           "-j", str(ctx.jobs), "--runs-dir", str(work / "runs"), "--run-id", run_id]
    # 1: some tenant failed (counted from report.json); 2: changes, as expected.
    seconds, _, peak = spawn_timed(cmd, env, ok=(1, 2), rss=True, log=work / f"{run_id}.log")
    report = json.loads((work / "runs" / run_id / "report.json").read_text())
    return seconds, peak, report


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


def one_round(ctx, env, work: Path, r: int):
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
    times["d"], peak, report = saasctl_plan(ctx, env, work, f"round{r}")
    # A lock saasctl had to release was a failure it papered over: it counts too.
    failed["d"] = sum(1 for t in report["tenants"] if t["result"] == "failed" or t.get("released_locks"))
    return times, failed, peak, report


def measure(ctx):
    """`ctx.rounds` valid rounds. A round in which any contender had a failed
    tenant is invalid: it is re-run (at most `ctx.rounds` times in all) and
    counted. No lock is ever cleared between contenders: the local moto must
    not fake lock conflicts (scripts/moto_server_serial.py)."""
    env, work = prepare(ctx, ctx.fanout_tenants, "fanout")
    naive = work / "naive-one"
    naive.write_text(NAIVE_ONE)
    naive.chmod(0o755)
    times = {k: [] for k in "abcd"}
    peaks, reports, invalid = [], [], []
    r = 0
    while len(reports) < ctx.rounds:
        t, failed, peak, report = one_round(ctx, env, work, r)
        r += 1
        if any(failed.values()):
            invalid.append(failed)
            if len(invalid) > ctx.rounds:
                raise BenchError(f"{len(invalid)} invalid fanout rounds (failed tenants per contender: {invalid})")
            continue
        for k, v in t.items():
            times[k].append(v)
        peaks.append(peak)
        reports.append(report)
    print(f"fanout: {len(invalid)} invalid round(s) re-run: {invalid}", flush=True)
    return times, invalid, peaks, reports[-1]


def measure_rss(ctx):
    env, work = prepare(ctx, ctx.rss_tenants, "fanout-rss")
    seconds, peak, report = saasctl_plan(ctx, env, work, "rss")
    return seconds, peak, len(report["tenants"])


def profile(report) -> str:
    t = report["tenants"]
    init = [x.get("init_ms") or 0 for x in t]
    dur = [x.get("duration_ms") or 0 for x in t]
    results = sorted({x["result"] for x in t})
    counts = ", ".join(f"{k} {sum(1 for x in t if x['result'] == k)}" for k in results)
    return (f"per tenant (last round): median {statistics.median(dur) / 1000:.2f} s, of which "
            f"`terraform init` median {statistics.median(init):.0f} ms; results: {counts}")


def invalid_detail(invalid) -> str:
    return "".join("; failed tenants " + ", ".join(f"({k}) {v}" for k, v in f.items()) for f in invalid)


def section(ctx, stamp: str) -> str:
    n, j = ctx.fanout_tenants, ctx.jobs
    times, invalid, peaks, report = measure(ctx)
    rss_seconds, rss_peak, rss_n = measure_rss(ctx)
    cmd = f"scripts/bench fanout --tenants {n} --rss-tenants {ctx.rss_tenants} --rounds {ctx.rounds}"
    vs_c = ratios(times["d"], times["c"])
    vs_a = ratios(times["a"], times["d"])
    vs_b = ratios(times["b"], times["d"])
    ctxline = ", ".join(f"({k}) {Spread.of(v).fmt(1, ' s')}" for k, v in times.items())
    return f"""## 1. fanout: {n} tenants of `examples/tenant-stack` at -j{j} on moto

{stamp}

Reproduce: `{cmd}`. Plans against empty state (every tenant has changes), one
moto for all contenders, the registry in SQLite. The naive loop gets each
tenant's backend from `saasctl backend config`, as users' scripts would.

| figure | ratio median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
| `saasctl plan -j{j}` time ÷ (c) bare `terraform plan` on pre-initialised dirs, {j} at a time | {vs_c.fmt()} | ≤ 1.25 | {verdict(vs_c.median, 1.25, True)} |
| (a) naive sequential loop (init -reconfigure + plan) ÷ `saasctl plan -j{j}`: times faster | {vs_a.fmt()} | ≥ 2.5 | {verdict(vs_a.median, 2.5, False)} |
| (b) the same loop under `xargs -P{j}` ÷ `saasctl plan -j{j}`: times faster | {vs_b.fmt()} | ≥ 1.5 | {verdict(vs_b.median, 1.5, False)} |

Context, wall time median (min–max): {ctxline}; (d) is saasctl. saasctl {profile(report)}.
Invalid rounds, re-run (a contender had a failed tenant): {len(invalid)}{invalid_detail(invalid)}.
No lock is cleared between contenders.

| orchestrator peak RSS (VmHWM of the `saasctl` process only) | MB | target |
| --- | --- | --- |
| `saasctl plan -j{j}`, {n} tenants (max over the rounds) | {max(p for p in peaks if p):.1f} | |
| `saasctl plan -j{j}`, {rss_n} tenants (one run, {rss_seconds:.0f} s) | {rss_peak:.1f} | ≤ 50 ({verdict(rss_peak, 50, True)}) |
"""
