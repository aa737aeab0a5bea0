"""Training fixtures: a tiny real SQuAD slice, indexed once, and one short LoRA run on the real generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.config import Config
from ragtune.pipeline import Pipeline

SQUAD_SAMPLE = Path(__file__).resolve().parents[2] / "ragtune" / "demo" / "data" / "squad_sample.json"
#: Apollo, Geology, Genghis Khan, Yuan dynasty: 13 questions over 8 paragraphs
ARTICLES = (2, 3, 4, 8)


@pytest.fixture(scope="session")
def train_config() -> Config:
    """Small enough for 2 CPU cores: short sequences, rank 4, six steps, one evaluation at the end."""
    return Config(
        retrieval={"reranker": "none"},
        train={"max_length": 256, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.1, "batch_size": 2,
               "grad_accum": 1, "lr": 1e-3, "warmup_ratio": 0.0, "max_steps": 6, "eval_every": 6, "eval_size": 2,
               "eval_batch_size": 2, "eval_max_new_tokens": 8, "top_k": 3, "bucket_batches": 2},
    )


@pytest.fixture(scope="session")
def squad_slice(tmp_path_factory) -> Path:
    data = json.loads(SQUAD_SAMPLE.read_text(encoding="utf-8"))
    data["data"] = [data["data"][i] for i in ARTICLES]
    path = tmp_path_factory.mktemp("train_data") / "squad_slice.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def train_pipeline(tmp_path_factory, train_config, embedder, squad_slice) -> Pipeline:
    pipeline = Pipeline(tmp_path_factory.mktemp("train_index") / "index", train_config, embedder=embedder,
                        progress=False)
    pipeline.read([squad_slice])
    return pipeline


@pytest.fixture(scope="session")
def trained(tmp_path_factory, train_pipeline, squad_slice):
    """One finished six-step run: (result, OUT)."""
    from ragtune.train.generator import train_generator

    out = tmp_path_factory.mktemp("trained") / "adapter"
    return train_generator(train_pipeline, squad_slice, out, progress=False), out


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from ragtune.generate.packaged import resolve_generator_path

    config = Config()
    return AutoTokenizer.from_pretrained(resolve_generator_path(config.generator.name, config.resolved_cache_dir))
