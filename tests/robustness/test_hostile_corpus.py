"""Issue 19's proof: every hostile input ends in a clean read or a one-line error naming it, within the timeout,
never a traceback, a hang or raw control characters on the terminal (cases and rules: hostile.py)."""

from __future__ import annotations

import pytest
from hostile import BUILDERS, CLEAN, ERROR, build_case, run_case

CASES = [pytest.param(name, id=name, marks=[pytest.mark.slow] if slow else [])
         for name, (_, slow) in BUILDERS.items()]


@pytest.mark.parametrize("name", CASES)
def test_hostile_input(name, tmp_path):
    case = build_case(name, tmp_path)
    verdict = run_case(case)
    outputs = "\n".join(f"--- step {i}: exit {o.returncode} in {o.seconds:.1f}s\nstdout: {o.stdout[-800:]}\n"
                        f"stderr: {o.stderr[-1500:]}" for i, o in enumerate(verdict.outcomes, start=1))
    assert verdict.outcome in (CLEAN, ERROR), (
        f"{name} ({case.attack}) ended in {verdict.outcome}: {verdict.problem}\n{outputs}")
