"""BENCHMARKS.md: one section per part between markers, so `scripts/bench
<part>` replaces its own section and keeps the others."""

import os
import re
import subprocess
import time
from pathlib import Path

HEADER = """# Benchmarks

Produced by `scripts/bench` (all parts) or `scripts/bench PART` (one of
`fanout`, `provider`, `registry`, `pipeline`, `locks`, `page`), which rewrites that part's
section below. Every figure is a **ratio measured side by side in one run**:
each round runs every contender once, one after the other (A B A B …), the
ratio is taken per round, and the table shows its median with the min–max
over the rounds in parentheses. Absolute times are context only: the machine
is shared (2 cores, other builds and tests running), so they move from run to
run while the ratios move much less. Release builds throughout. Nothing here
is asserted by the test suite, which only runs `scripts/bench --smoke` (tiny
sizes) so the script cannot rot.
"""


def machine() -> str:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GB memory, load average {load:.1f} at the start"


def commit(root: Path) -> str:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} (with uncommitted changes)" if dirty else head


def stamp(root: Path, machine_line: str) -> str:
    """The provenance line every section carries."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"*Machine: {machine_line}. Date: {date}. Commit: {commit(root)}.*"


def markers(part: str):
    return f"<!-- bench:{part} -->", f"<!-- /bench:{part} -->"


def update(path: Path, part: str, body: str, parts):
    """Replaces the section of `part` in `path` (a new file gets one
    placeholder per part, in the order of `parts`)."""
    begin, end = markers(part)
    section = f"{begin}\n{body.strip()}\n{end}"
    if path.exists():
        text = path.read_text()
    else:
        text = HEADER + "".join(
            f"\n{markers(p)[0]}\n## {p}\n\nNot measured yet: `scripts/bench {p}`.\n{markers(p)[1]}\n"
            for p in parts
        )
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
