"""Progress for long steps: a tqdm bar on a terminal, plain log lines otherwise.

A tqdm bar redrawn with carriage returns is unreadable in a log file and tqdm disabled there shows nothing,
so a training run redirected to a file would be silent until its first evaluation. Off a terminal,
`progress_bar` returns a `LogBar` that prints one newline-terminated line every so many updates instead.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

#: log lines for the whole of a main step (training, synthesis): one every 10% of it
MAIN_MARKS = 10
#: inner, short steps (`leave=False`) log every 25%, and only once they have run for SUB_DELAY seconds
SUB_MARKS = 4
SUB_DELAY = 2.0
#: a line at least this often, however far the next mark is
HEARTBEAT = 60.0


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 enabled: bool = True, initial: int = 0, leave: bool = True, every: int | None = None,
                 terminal: bool | None = None, **tqdm_kwargs: Any):
    """A tqdm bar when stderr is a terminal (`terminal` forces either way), else a `LogBar`.

    `every`: in log mode, a line at least every this many updates (default: every 10% of `total`, 25% for
    `leave=False` bars). Other keyword arguments go to tqdm only.
    """
    if terminal is None:
        terminal = sys.stderr.isatty()
    if terminal:
        tqdm_kwargs.setdefault("dynamic_ncols", True)
        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, initial=initial, leave=leave,
                    **tqdm_kwargs)
    return LogBar(iterable, total=total, desc=desc, unit=unit, enabled=enabled, initial=initial, every=every,
                  delay=0.0 if leave else SUB_DELAY, marks=MAIN_MARKS if leave else SUB_MARKS)


class LogBar:
    """The part of tqdm's interface ragtune uses, printing `desc: n/total unit (p%) …` lines to stderr."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, initial: int = 0, every: int | None = None,
                 delay: float = 0.0, marks: int = MAIN_MARKS, heartbeat: float = HEARTBEAT):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # as tqdm: the iterable's length, whatever `initial`
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.disable = not enabled
        self.n = self.initial = initial
        step = math.ceil((total - initial) / marks) if total and total > initial else 100
        self.every = max(1, min(every, step) if every else step)
        self.delay, self.heartbeat = delay, heartbeat
        self.postfix = ""
        self.start = self._last_time = time.perf_counter()
        self._last_n = initial
        self._next = self._mark_after(initial)
        self._printed = self._closed = False

    def _mark_after(self, n: int) -> int:
        return (n // self.every + 1) * self.every

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.disable or self._closed:
            return
        now = time.perf_counter()
        due = self.n >= self._next or now - self._last_time >= self.heartbeat
        if due and now - self.start >= self.delay:
            self._emit(now)

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{key}={value}" for key, value in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def write(self, s: str, file=None, end: str = "\n", nolock: bool = False) -> None:
        """Like tqdm.write: printed even when the bar itself is disabled."""
        print(s, file=file or sys.stderr, end=end, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        now = time.perf_counter()
        if not self.disable and self.n != self._last_n and (self._printed or now - self.start >= self.delay):
            self._emit(now)

    def line(self, now: float | None = None) -> str:
        """`desc: 30/200 step (15%) in 00:42, 1.40 s/step, eta 03:58, loss=2.310`."""
        elapsed = (time.perf_counter() if now is None else now) - self.start
        done = self.n - self.initial
        parts = [f"{self.n}/{self.total} {self.unit}" if self.total else f"{self.n} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        parts[0] += f" in {tqdm.format_interval(elapsed)}"
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.2f} {self.unit}/s" if rate >= 1 else f"{1 / rate:.2f} s/{self.unit}")
            if self.total and self.total > self.n:
                parts.append(f"eta {tqdm.format_interval((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        return f"{self.desc}: " * bool(self.desc) + ", ".join(parts)

    def _emit(self, now: float) -> None:
        self.write(self.line(now))
        self._printed, self._last_time, self._last_n = True, now, self.n
        self._next = self._mark_after(self.n)

    def __iter__(self) -> Iterator:
        try:
            for item in () if self.iterable is None else self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LogBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
