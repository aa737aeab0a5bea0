"""Eval fixtures: the bundled English SQuAD sample, indexed once with the real default embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragtune.config import Config
from ragtune.pipeline import Pipeline

SQUAD_SAMPLE = Path(__file__).resolve().parents[2] / "ragtune" / "demo" / "data" / "squad_sample.json"


@pytest.fixture(scope="session")
def squad_sample() -> Path:
    return SQUAD_SAMPLE


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    folder = tmp_path_factory.mktemp("eval_sample") / "index"
    pipeline = Pipeline(folder, Config(), embedder=embedder, progress=False)
    pipeline.read([SQUAD_SAMPLE])
    return folder


@pytest.fixture
def sample_pipeline(sample_index, embedder, tmp_path) -> Pipeline:
    """A pipeline over the shared sample index whose generation cache lives in this test's tmp_path."""
    pipeline = Pipeline(sample_index, Config(cache_dir=tmp_path / "cache"), embedder=embedder, progress=False)
    return pipeline
