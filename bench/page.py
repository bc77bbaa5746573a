"""Part 6, page: the release page of a big run. A report.json of N tenants
(default 10,000; three changed addresses each, one in fifty failed with a
diagnostic, two waves), rendered by `saasctl runs show --html`, then opened
in headless Debian chromium (tests/browser/check-page.cjs): the file's size,
the time to render it, and first paint, against the issue's limits."""

import json
import time

from common import BenchError, Spread, run, verdict


def synthetic_report(n: int):
    tenants = []
    for i in range(n):
        failed = i % 50 == 7
        start = 1 + i * 0.05
        tenants.append({
            "tenant": f"t{i:05d}",
            "name": f"Tenant <{i}> & Co",
            "wave": "canary" if i < 10 else "rest",
            "result": "failed" if failed else "changes",
            "counts": {"add": 0 if failed else 3, "change": 0, "destroy": 0},
            "changed": [] if failed else [
                "module.namespace.terraform_data.namespace", "terraform_data.replica[0]", "terraform_data.settings"],
            "started_at": iso(start),
            "finished_at": iso(start + 0.9),
            "duration_ms": 900,
            "attempts": 2,
            "dir": f"t{i:05d}",
            "log": f"t{i:05d}/terraform.log",
            "error": "terraform plan failed (exit 1, 1 attempt(s)): Resource precondition failed: fail_plan is set" if failed else None,
            "lock": None,
        })
    return {
        "run_id": "page", "command": "plan", "application": "bench", "stack": "stacks/portal",
        "started_at": iso(0), "finished_at": iso(1 + n * 0.05 + 1), "status": "failed", "jobs": 2,
        "terraform_version": "1.11.4", "tenants": tenants,
    }


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1796000000 + seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"


def measure(ctx, n: int):
    runs = ctx.work / "page-runs"
    (runs / "page").mkdir(parents=True, exist_ok=True)
    (runs / "page" / "report.json").write_text(json.dumps(synthetic_report(n)))
    render_ms = []
    for _ in range(ctx.rounds):
        (runs / "page" / "report.html").unlink(missing_ok=True)
        start = time.perf_counter()
        run([ctx.saasctl, "runs", "--runs-dir", str(runs), "show", "page", "--html"], env=ctx.env)
        render_ms.append((time.perf_counter() - start) * 1000)
    page = runs / "page" / "report.html"
    node_dir = ctx.root / ".tools/node/node_modules"
    env = dict(ctx.env, SAAS_PLAYWRIGHT=str(node_dir / "playwright-core"))
    paints, loads = [], []
    for _ in range(ctx.rounds):
        out = run([str(node_dir / ".bin/node"), str(ctx.root / "tests/browser/check-page.cjs"), str(page), ""],
                  env=env, stdout=-1).stdout
        seen = json.loads(out)
        if seen["errors"] or len(seen["rows"]) != n:
            raise BenchError(f"the page of {n} tenants did not load cleanly: {seen['errors'][:3]}, {len(seen['rows'])} rows")
        if seen["first_paint_ms"] is None:
            raise BenchError("chromium reported no first contentful paint within 10 s")
        paints.append(seen["first_paint_ms"])
        loads.append(seen["load_ms"])
    return page.stat().st_size, Spread.of(render_ms), Spread.of(paints), Spread.of(loads)


def section(ctx, stamp: str) -> str:
    n = ctx.list_tenants
    size, render_ms, paint, load = measure(ctx, n)
    mb = size / 1e6
    return f"""## 6. page: the release page of {n:,} tenants

{stamp}

Reproduce: `scripts/bench page --list-tenants {n} --rounds {ctx.rounds}`. A
synthetic `report.json` of {n:,} tenants (three changed addresses each, one
in fifty failed, two waves) rendered by `saasctl runs show --html`, then
opened in headless Debian chromium through Playwright
(`tests/browser/check-page.cjs`), {ctx.rounds} rounds.

| figure | median (min–max) | target | |
| --- | --- | --- | --- |
| `report.html` size | {mb:.2f} MB | < 5 MB | {verdict(mb, 5, True)} |
| first contentful paint in chromium | {paint.fmt(0, ' ms')} | < 2000 ms | {verdict(paint.median, 2000, True)} |
| new page to its `load` event (script included) | {load.fmt(0, ' ms')} | | |
| `saasctl runs show --html` (read report.json, render, write) | {render_ms.fmt(0, ' ms')} | | |
"""
