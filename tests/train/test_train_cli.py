"""`ragtune train generator` and `ragtune export` as a user runs them: one-line errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_train_into_a_used_folder_is_one_line(trained, train_pipeline, squad_slice):
    _, out = trained
    result = ragtune("train", "generator", squad_slice, "--index", train_pipeline.index_dir, "--out", out,
                     "--max-steps", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"error: {out} is not empty: pass --resume to continue its training, or choose a new --out"]


def test_export_of_a_missing_adapter_is_one_line(tmp_path):
    result = ragtune("export", "--adapter", tmp_path / "none", "--out", tmp_path / "merged")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a PEFT adapter folder" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("what", ["generator", "joint"])
def test_data_with_only_long_answers_is_one_line(what, train_pipeline, tmp_path):
    data = tmp_path / "long.jsonl"
    data.write_text('{"question": "Why did the Yuan dynasty fall?", "answer": "because floods, famine, inflation '
                    'and revolts in the south weakened its hold on China over several decades"}\n', encoding="utf-8")
    result = ragtune("train", what, data, "--index", train_pipeline.index_dir, "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"error: {data}: no answer of at most 12 units (train.max_answer_units)"]
    assert not (tmp_path / "out").exists()
