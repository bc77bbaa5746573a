"""Part 3, registry: list every tenant of one application, in process
(`registry/examples/bench_list.rs`), against the floor of each backend read
side by side in the same process: the same SELECT through rusqlite for
SQLite, a plain aws-sdk Query loop for DynamoDB on moto."""

import json
import os

from common import BenchError, Spread, ratios, run, verdict


def listing(ctx, url: str):
    out = run([ctx.bench_list, "list", url, "bench", str(ctx.rounds)], env=ctx.env,
              stdout=-1).stdout
    return json.loads(out)


def dynamodb_url(ctx, tenants: int) -> str:
    url = f"dynamodb://saas-bench-registry-{os.getpid()}?region=us-east-1"
    run([ctx.bench_list, "seed", url, "bench", str(tenants)], env=ctx.env)
    return url


def section(ctx, stamp: str) -> str:
    n = ctx.list_tenants
    sqlite = listing(ctx, ctx.seeded_sqlite(n))
    dynamo = listing(ctx, dynamodb_url(ctx, n))
    for result in (sqlite, dynamo):
        if result["tenants"] != n:
            raise BenchError(f"{result['backend']} listed {result['tenants']} of {n} tenants")
    sq_ms = Spread.of(sqlite["registry_ms"])
    dy_ms = Spread.of(dynamo["registry_ms"])

    def per_second(ms):
        return f"{n / (ms / 1000):,.0f}"

    def vs(result, floor):
        return ratios(result["registry_ms"], result[floor]).fmt()

    rows = [
        f"| SQLite: `list_tenants` time | {sq_ms.fmt(1, ' ms')} | ≤ 50 ms | {verdict(sq_ms.median, 50, True)} |",
        f"| SQLite: `list_tenants` ÷ the same SELECT through rusqlite | {vs(sqlite, 'floor_ms')} | | |",
        f"| SQLite: `list_tenants` ÷ that SELECT + decoding the bodies into `Tenant`s | {vs(sqlite, 'floor_decoded_ms')} | | |",
        f"| DynamoDB on moto: `list_tenants` ÷ a plain aws-sdk Query loop | {vs(dynamo, 'floor_ms')} | | |",
        f"| DynamoDB on moto: `list_tenants` ÷ that Query loop + decoding | {vs(dynamo, 'floor_decoded_ms')} | | |",
        f"| DynamoDB on moto: `list_tenants` throughput, tenants/s | {per_second(dy_ms.median)} "
        f"({per_second(dy_ms.high)}–{per_second(dy_ms.low)}) | | |",
    ]
    floor = Spread.of(dynamo["floor_ms"])
    return f"""## 3. registry: list {n:,} tenants of one application

{stamp}

Reproduce: `scripts/bench registry --list-tenants {n} --rounds {ctx.rounds}`. In one
process (`cargo run --release -p saas-registry --example bench_list -- list URL bench ROUNDS`),
after one warm-up listing, per round: `Registry::list_tenants`, the floor (the
backend's rows read raw), the floor plus decoding the JSON bodies.
Tenants carry two variables and one label, as real ones do.

| figure | median (min–max), {ctx.rounds} rounds | target | |
| --- | --- | --- | --- |
{chr(10).join(rows)}

Context: SQLite floor {Spread.of(sqlite['floor_ms']).fmt(1, ' ms')}, decoded
{Spread.of(sqlite['floor_decoded_ms']).fmt(1, ' ms')}; DynamoDB
`list_tenants` {dy_ms.fmt(0, ' ms')}, Query-loop floor {floor.fmt(0, ' ms')}
({per_second(floor.median)} items/s). moto answers one request at a time
(`scripts/moto_server_serial.py`) and is Python, so the DynamoDB figures say
what the client adds on top of the server, not what AWS would take.
"""
