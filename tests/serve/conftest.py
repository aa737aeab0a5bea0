"""A served copy of the demo index: the session's real models, an app per test module, no network."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from ragtune.pipeline import Pipeline
from ragtune.serve import create_app
from ragtune.serve.service import Service


@pytest.fixture(scope="module")
def service(tmp_path_factory, demo_pipeline) -> Service:
    """A copy of the demo index (tests upload and delete), with the demo pipeline's loaded models."""
    folder = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(demo_pipeline.index_dir, folder)
    pipeline = Pipeline(folder, demo_pipeline.config, embedder=demo_pipeline.embedder,
                        generator=demo_pipeline.generator, progress=False)
    return Service(folder, demo_pipeline.config, pipeline=pipeline)


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    with TestClient(create_app(service.index_dir, service.config, service=service)) as client:
        yield client
