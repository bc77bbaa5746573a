"""What every benchmark part shares: running commands, timing them side by
side, sampling peak RSS from /proc, and the figures a table row shows."""

import os
import shlex
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class BenchError(Exception):
    """A step of a benchmark failed; the message says which and why."""


@dataclass
class Ctx:
    """One `scripts/bench` invocation: where things are and how big to go."""

    root: Path
    work: Path  # private scratch dir, removed by scripts/bench
    target: Path  # cargo's target/<profile> dir
    profile: str
    smoke: bool
    rounds: int
    fanout_tenants: int
    rss_tenants: int
    provider_resources: int
    list_tenants: int
    lock_keys: int
    lock_rounds: int
    jobs: int
    env: dict = field(default_factory=dict)
    _seeded: dict = field(default_factory=dict)

    @property
    def saasctl(self) -> str:
        return str(self.target / "saasctl")

    @property
    def provider(self) -> str:
        return str(self.target / "terraform-provider-saas")

    @property
    def bench_list(self) -> str:
        return str(self.target / "examples" / "bench_list")

    def seeded_sqlite(self, tenants: int) -> str:
        """A SQLite registry holding application `bench` with `tenants`
        tenants (seeded once per invocation and size)."""
        if tenants not in self._seeded:
            path = self.work / f"registry-{tenants}.db"
            url = f"sqlite://{path}"
            run([self.bench_list, "seed", url, "bench", str(tenants)], env=self.env)
            self._seeded[tenants] = url
        return self._seeded[tenants]


def run(cmd, cwd=None, env=None, ok=(0,), stdout=subprocess.DEVNULL):
    """Runs `cmd`; a failure raises with the tail of its stderr."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode not in ok:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BenchError(f"`{shlex.join(map(str, cmd))}` exited {proc.returncode}:\n{tail}")
    return proc


def timed(fn):
    """Wall seconds of `fn()`, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def status_kb(pid: int, key: str):
    """A `kB` field of /proc/PID/status (VmHWM, VmRSS), or None once gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def parent_of(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces and parentheses: split after the last ')'.
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def exe_name(pid: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def descendants_named(root: int, prefix: str):
    """Pids below `root` (any depth) whose executable name starts with `prefix`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if not exe_name(pid).startswith(prefix):
            continue
        ancestor = parent_of(pid)
        for _ in range(8):
            if ancestor in (None, 0, 1):
                break
            if ancestor == root:
                found.append(pid)
                break
            ancestor = parent_of(ancestor)
    return found


class PeakRss:
    """Samples VmHWM (the kernel's own peak RSS) of one process, or of every
    descendant of it whose executable starts with `child_prefix`, until
    stopped. VmHWM only grows, so the last sample before exit is the peak up
    to one sampling interval."""

    def __init__(self, pid: int, child_prefix=None, interval=0.05):
        self.pid, self.child_prefix, self.interval = pid, child_prefix, interval
        self.peak_kb = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set():
            pids = (
                descendants_named(self.pid, self.child_prefix)
                if self.child_prefix
                else [self.pid]
            )
            for pid in pids:
                hwm = status_kb(pid, "VmHWM")
                if hwm is not None:
                    self.peak_kb[pid] = max(hwm, self.peak_kb.get(pid, 0))
            self._stop.wait(self.interval)

    def stop(self):
        """Peak RSS in MB of the largest sampled process (None if none was seen)."""
        self._stop.set()
        self._thread.join()
        return max(self.peak_kb.values()) / 1024 if self.peak_kb else None


def spawn_timed(cmd, env, cwd=None, ok=(0,), rss=False, child_prefix=None, log=None):
    """Runs `cmd`, timing it and (optionally) sampling peak RSS. Returns
    (seconds, exit code, peak MB or None)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    sampler = PeakRss(proc.pid, child_prefix) if rss else None
    code = proc.wait()
    seconds = time.perf_counter() - start
    peak = sampler.stop() if sampler else None
    if log:
        out.close()
    if code not in ok:
        tail = Path(log).read_text().strip().splitlines()[-15:] if log else []
        raise BenchError(f"`{shlex.join(map(str, cmd))}` exited {code}:\n" + "\n".join(tail))
    return seconds, code, peak


@dataclass
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values):
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, digits=2, unit=""):
        return (
            f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}–{self.high:.{digits}f})"
        )


def ratios(numerators, denominators):
    """Per-round ratios: each pair was measured side by side in one round."""
    return Spread.of([n / d for n, d in zip(numerators, denominators)])


def verdict(value: float, target: float, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return "met" if met else "**missed**"
