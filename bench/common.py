"""Shared benchmark plumbing: machine description, CPU load, and appending results to BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RAGTUNE = [str(ROOT / ".venv" / "bin" / "ragtune")]


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the whole machine so far (/proc/stat; (0, 0) where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


#: the machine's counters when this benchmark started: on a shared VM the hypervisor may run other guests on
#: "our" cores (steal time), which slows every wall-clock figure of the run without any sign in its own numbers
_STARTED = cpu_ticks()


def steal_share() -> float | None:
    """Share of the machine's CPU time stolen by the hypervisor since the benchmark started (None: unknown)."""
    steal, total = cpu_ticks()
    if total <= _STARTED[1]:
        return None
    return (steal - _STARTED[0]) / (total - _STARTED[1])


def run_cli(args: list[str], log: list[str]) -> str:
    """Run a ragtune command as a user would, keep its command line for the record, return its stdout."""
    shown = " ".join(shlex.quote(a) for a in ["ragtune", *args])
    print(f"$ {shown}", file=sys.stderr, flush=True)
    log.append(shown)
    done = subprocess.run([*RAGTUNE, *args], stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shown}")
    return done.stdout


def run_child(module: str, args: list[str]) -> dict:
    """`python -m module ARGS` in its own process (so its peak RSS is its own); the JSON of its last stdout line."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """A process's resident size now (VmRSS) and at its peak (VmHWM), in MB, from /proc ({} where there is none:
    the process ended, or not Linux)."""
    fields = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return fields
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def steal_note() -> str:
    share = steal_share()
    return "" if share is None else f"; CPU time stolen by the hypervisor during the run: {share:.0%}"


def machine() -> str:
    """CPU model, cores, memory, Python, and whether the CPU computes bf16 natively (it decides the precision)."""
    from ragtune.hardware import native_bf16

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    bf16 = "native bf16" if native_bf16("cpu") else "no native bf16"
    return f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB, {bf16}, Python {platform.python_version()}"


class CpuMeter:
    """Wall time and this process's CPU utilisation (CPU seconds / wall seconds / cores) over a block."""

    def __enter__(self):
        self.wall = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = usage.ru_utime + usage.ru_stime
        self.load = os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.wall
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_util = (usage.ru_utime + usage.ru_stime - self.cpu) / max(self.seconds, 1e-9) / os.cpu_count()
        self.load_after = os.getloadavg()[0]


def command_line() -> str:
    """The command that ran this benchmark, as it is typed: `.venv/bin/python -m bench.<name> ARGS` (under -m,
    sys.argv[0] is the module's file path, so the module name comes from __main__'s spec)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    head = ["-m", spec.name] if spec is not None else sys.argv[:1]
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", *head, *sys.argv[1:]])


def commands(log: list[str]) -> str:
    """The commands a benchmark ran, as BENCHMARKS.md notes quote them."""
    return "; ".join(f"`{c}`" for c in log)


def record(title: str, result: dict, notes: str = "") -> None:
    """Print the JSON line and append a section to BENCHMARKS.md with the command that made it."""
    line = json.dumps(result, ensure_ascii=False)
    print(line)
    command = command_line()
    section = [
        f"\n### {title} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n",
        f"- command: `{command}`",
        f"- machine: {machine()}{steal_note()}",
    ]
    if notes:
        section.append(f"- notes: {notes}")
    section.append(f"\n```json\n{line}\n```\n")
    with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(section))
