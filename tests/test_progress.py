"""Progress off a terminal is a readable log line every so many steps; on a terminal it is a tqdm bar."""

from __future__ import annotations

import re

from tqdm import tqdm

from ragtune.progress import LogBar, progress_bar


def lines(captured: str) -> list[str]:
    return [line for line in captured.splitlines() if line.strip()]


def test_log_mode_prints_a_line_every_tenth_with_count_rate_and_postfix(capsys):
    bar = progress_bar(total=20, desc="training", unit="step")  # pytest's captured stderr is not a terminal
    assert isinstance(bar, LogBar)
    with bar:
        for step in range(20):
            bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
            bar.update(1)
    shown = lines(capsys.readouterr().err)
    assert [re.match(r"training: (\d+)/20 step", line).group(1) for line in shown] == [
        str(n) for n in range(2, 21, 2)]
    assert shown[0].startswith("training: 2/20 step (10%) in 00:00, ") and shown[0].endswith("loss=0.500")
    assert "step/s" in shown[-1] and "(100%)" in shown[-1] and shown[-1].endswith("loss=0.050")
    assert "eta" in shown[0] and "eta" not in shown[-1]


def test_every_makes_lines_more_frequent_and_the_end_is_always_logged(capsys):
    bar = progress_bar(range(50), desc="joint", unit="step", every=4, terminal=False)  # 10% would be 5
    assert [step for step in bar] == list(range(50))
    assert [line.split(" step")[0] for line in lines(capsys.readouterr().err)] == [
        f"joint: {n}/50" for n in [*range(4, 50, 4), 50]]


def test_resumed_run_counts_from_initial_and_write_shows_even_when_disabled(capsys):
    with progress_bar(total=100, initial=90, desc="training", unit="step", terminal=False) as bar:
        bar.update(5)
        bar.write("eval: step 95")
    shown = lines(capsys.readouterr().err)
    assert len(shown) == 2 and shown[0].startswith("training: 95/100 step (95%) in ") and shown[1] == "eval: step 95"
    quiet = progress_bar(total=3, desc="quiet", enabled=False, terminal=False)
    quiet.update(3)
    quiet.write("still shown")
    quiet.close()
    assert lines(capsys.readouterr().err) == ["still shown"]


def test_inner_bars_log_quarters_and_stay_silent_when_quick(capsys):
    for _ in progress_bar(range(8), desc="embedding passages", unit="text", leave=False, terminal=False):
        pass
    assert capsys.readouterr().err == ""  # done within SUB_DELAY: nothing to read in the log
    inner = LogBar(total=8, desc="embedding passages", unit="text", delay=0.0, marks=4)
    for _ in range(8):
        inner.update(1)
    inner.close()
    assert [line.split(" text")[0] for line in lines(capsys.readouterr().err)] == [
        f"embedding passages: {n}/8" for n in (2, 4, 6, 8)]


def test_terminal_mode_is_a_tqdm_bar(capsys):
    bar = progress_bar(total=5, desc="training", unit="step", terminal=True)
    assert isinstance(bar, tqdm) and bar.total == 5 and bar.desc == "training"
    bar.update(5)
    bar.close()
    assert "\r" in capsys.readouterr().err  # redrawn in place, as on a terminal
