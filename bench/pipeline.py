"""Part 4, pipeline: `saasctl pipeline gitlab` for N tenants against
`saasctl tenants -o json` over the same SQLite registry (the registry read
every generator has to do: the floor), and a check that every file it
writes stays inside GitLab's limits (docs in /work/shared/TOOLCHAIN.md)."""

import json
import shlex
import shutil

import yaml

from common import BenchError, Spread, ratios, spawn_timed, verdict

MAX_JOBS = 500  # --max-jobs-per-pipeline default: GitLab.com Free
MAX_NEEDS = 50
MAX_MATRIX = 200
MAX_INCLUDES = 3
MAX_DOWNSTREAM = 1000
MAX_FILE_BYTES = 5 * 1024 * 1024
NOT_JOBS = {"stages", "variables", "default", "workflow", "include", "image", "services",
            "before_script", "after_script", "cache"}


def matrix_size(job) -> int:
    matrix = (job.get("parallel") or {}).get("matrix") if isinstance(job.get("parallel"), dict) else None
    total = 0
    for entry in matrix or []:
        combos = 1
        for values in entry.values():
            combos *= len(values) if isinstance(values, list) else 1
        total += combos
    return total


def check_limits(out_dir, router: str, tenants: int):
    """Walks the router and every shard it triggers; returns (files, jobs,
    biggest file bytes, downstream pipelines). Raises on any limit broken."""
    seen, queue = set(), [router]
    jobs_total = biggest = downstream = 0
    planned = set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        path = out_dir / name
        size = path.stat().st_size
        biggest = max(biggest, size)
        if size > MAX_FILE_BYTES:
            raise BenchError(f"{name} is {size} bytes (GitLab: 5 MB)")
        doc = yaml.safe_load(path.read_text())
        jobs = {k: v for k, v in doc.items() if k not in NOT_JOBS and not k.startswith(".")}
        if len(jobs) > MAX_JOBS:
            raise BenchError(f"{name} has {len(jobs)} jobs (limit {MAX_JOBS})")
        jobs_total += len(jobs)
        for job_name, job in jobs.items():
            needs = len(job.get("needs") or [])
            if needs > MAX_NEEDS:
                raise BenchError(f"{name}: {job_name} has {needs} needs")
            if matrix_size(job) > MAX_MATRIX:
                raise BenchError(f"{name}: {job_name} has a matrix of {matrix_size(job)}")
            include = (job.get("trigger") or {}).get("include") if isinstance(job.get("trigger"), dict) else None
            if include:
                downstream += 1
                if len(include) > MAX_INCLUDES:
                    raise BenchError(f"{name}: {job_name} includes {len(include)} files")
                queue.extend(i["artifact"] for i in include if "artifact" in i)
            if job_name.startswith("plan:"):
                words = shlex.split(job["script"][0])
                planned.update(b for a, b in zip(words, words[1:]) if a == "--tenant")
    if downstream > MAX_DOWNSTREAM:
        raise BenchError(f"{downstream} downstream pipelines (limit {MAX_DOWNSTREAM})")
    if len(planned) != tenants:
        raise BenchError(f"the pipeline plans {len(planned)} tenants, the registry holds {tenants}")
    return len(seen), jobs_total, biggest, downstream


def generate_rounds(ctx, n: int, per_job: int, name: str):
    """`pipeline gitlab` for `n` tenants at `--tenants-per-job per_job`, side by
    side with `tenants -o json`, `ctx.rounds` times; returns (generate
    seconds, listing seconds, the last round's project dir)."""
    env = dict(ctx.env, SAAS_REGISTRY=ctx.seeded_sqlite(n))
    env.pop("CI_JOB_NAME", None)
    work = ctx.work / "pipeline" / name
    generate, listing = [], []
    for r in range(ctx.rounds):
        # A project directory, as the generate job has: shard files are job artifacts,
        # so the output goes to a path inside it.
        out_dir = work / f"round{r}"
        shutil.rmtree(out_dir, ignore_errors=True)
        (out_dir / "stack").mkdir(parents=True)
        seconds, _, _ = spawn_timed(
            [ctx.saasctl, "pipeline", "gitlab", "-a", "bench", "-s", "stack",
             "--tenants-per-job", str(per_job), "--out", "child.yml"],
            env, cwd=out_dir, log=work / "generate.log")
        generate.append(seconds)
        seconds, _, _ = spawn_timed([ctx.saasctl, "tenants", "-a", "bench", "-o", "json"], env,
                                    log=work / "tenants.json")
        listing.append(seconds)
    listed = json.loads((work / "tenants.json").read_text())
    if len(listed) != n:
        raise BenchError(f"`saasctl tenants` listed {len(listed)} of {n} tenants")
    return generate, listing, out_dir


def section(ctx, stamp: str) -> str:
    n = ctx.list_tenants
    generate, listing, out_dir = generate_rounds(ctx, n, 1, "one-per-job")
    files, jobs, biggest, downstream = check_limits(out_dir, "child.yml", n)
    ms = Spread.of([s * 1000 for s in generate])
    vs = ratios(generate, listing)
    batched_n, per_job = n // 2, 20
    b_generate, b_listing, b_dir = generate_rounds(ctx, batched_n, per_job, "batched")
    b_files, b_jobs, b_biggest, _ = check_limits(b_dir, "child.yml", batched_n)
    b_ms = Spread.of([s * 1000 for s in b_generate])
    b_vs = ratios(b_generate, b_listing)
    return f"""## 4. pipeline: `saasctl pipeline gitlab` for {n:,} tenants

{stamp}

Reproduce: `scripts/bench pipeline --list-tenants {n} --rounds {ctx.rounds}`. Both
commands are whole process runs over the same SQLite registry; the floor is
`saasctl tenants -a bench -o json` (the registry read any generator needs).

| figure | median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
| `pipeline gitlab` time, {n:,} tenants | {ms.fmt(0, ' ms')} | ≤ 150 ms | {verdict(ms.median, 150, True)} |
| `pipeline gitlab` ÷ `tenants -o json` | {vs.fmt()} | ≤ 3 | {verdict(vs.median, 3, True)} |
| `pipeline gitlab --tenants-per-job {per_job}` time, {batched_n:,} tenants | {b_ms.fmt(0, ' ms')} | | |
| the same ÷ `tenants -o json` of {batched_n:,} | {b_vs.fmt()} | | |

Within GitLab's limits (checked by parsing every file back): {files} files
(the router and its shards), {jobs:,} jobs in all, at most {MAX_JOBS} per file,
≤ {MAX_NEEDS} `needs` per job, ≤ {MAX_INCLUDES} `trigger:include` files,
{downstream} downstream pipelines (≤ {MAX_DOWNSTREAM}), largest file
{biggest / 1024:.0f} KB (≤ 5 MB); every tenant planned exactly once.
At `--tenants-per-job {per_job}`, {batched_n:,} tenants: {b_files} file(s), {b_jobs:,} jobs,
largest file {b_biggest / 1024:.0f} KB; every tenant planned exactly once.
Context: `tenants -o json` {Spread.of([s * 1000 for s in listing]).fmt(0, ' ms')}.
"""
