"""Entry point of scripts/bench: runs the parts asked for and writes their
sections of the report. Run through scripts/bench, which builds the binaries,
starts a private moto and sets the environment up."""

import argparse
import os
import sys
import time
from pathlib import Path

import fanout
import locks
import page
import pipeline
import provider
import registry
import report
from common import BenchError, Ctx

PARTS = {"fanout": fanout, "provider": provider, "registry": registry, "pipeline": pipeline,
         "locks": locks, "page": page}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/bench")
    p.add_argument("parts", nargs="*", metavar="PART",
                   help="fanout, provider, registry, pipeline, locks, page (default: all)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; report to --out only")
    p.add_argument("--rounds", type=int)
    p.add_argument("--tenants", type=int, help="fanout tenants (default 100)")
    p.add_argument("--rss-tenants", type=int, help="tenants of the RSS run (default 1000)")
    p.add_argument("--provider-resources", type=int, help="saas_tenant resources (default 500)")
    p.add_argument("--list-tenants", type=int, help="registry and pipeline tenants (default 10000)")
    p.add_argument("--lock-keys", type=int, default=40, help="locks: distinct state keys (40)")
    p.add_argument("--lock-rounds", type=int, default=8, help="locks: plans per key (8)")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--target", type=Path, required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown:
        p.error(f"unknown part {unknown[0]!r}: choose from {', '.join(PARTS)}")
    return args


def main(argv) -> int:
    args = parse_args(argv)
    small = args.smoke
    ctx = Ctx(
        root=args.root, work=args.work, target=args.target, profile=args.profile, smoke=small,
        rounds=args.rounds or (2 if small else 5),
        fanout_tenants=args.tenants or (3 if small else 100),
        rss_tenants=args.rss_tenants or (4 if small else 1000),
        provider_resources=args.provider_resources or (5 if small else 500),
        list_tenants=args.list_tenants or (20 if small else 10000),
        lock_keys=args.lock_keys, lock_rounds=args.lock_rounds,
        jobs=args.jobs, env=dict(os.environ),
    )
    machine = report.machine()
    for name in args.parts or list(PARTS):
        print(f"==> bench {name}", file=sys.stderr, flush=True)
        start = time.monotonic()
        try:
            body = PARTS[name].section(ctx, report.stamp(ctx.root, machine))
        except BenchError as e:
            print(f"error: bench {name}: {e}", file=sys.stderr)
            return 1
        report.update(args.out, name, body, list(PARTS))
        print(f"    {name}: {time.monotonic() - start:.0f} s, written to {args.out}",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
