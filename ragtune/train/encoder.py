"""Fine-tuning a whole sentence-transformers encoder on the same masked InfoNCE as the query adapter.

The loss is MultipleNegativesRankingLoss (scale 1/temperature, in-batch plus hard negatives) with one addition:
a column that answers another question of the batch is masked, not pushed away. Queries and passages share the
encoder, so afterwards every stored passage vector is stale: `ragtune read --reembed` re-encodes the corpus.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ragtune.train.negatives import ContrastiveBatch
from ragtune.train.query_adapter import info_nce


def load_encoder(name: str):
    """A fresh trainable copy of the index's sentence-transformers model (the pipeline's own is left alone)."""
    from sentence_transformers import SentenceTransformer

    from ragtune.index.embedders.sentence_transformer import resolve_model_path

    return SentenceTransformer(resolve_model_path(name), device="cpu")


def embed(model, texts: Sequence[str]) -> torch.Tensor:
    features = model.tokenize(list(texts))
    return F.normalize(model(features)["sentence_embedding"], dim=-1)


def encoder_loss(model, batch: ContrastiveBatch, query_texts: Sequence[str], passage_texts: Sequence[str],
                 temperature: float) -> torch.Tensor:
    queries = embed(model, [query_texts[i] for i in batch.queries])
    passages = embed(model, [passage_texts[r] for r in batch.columns])
    return info_nce(queries, passages, torch.tensor(batch.targets), torch.from_numpy(batch.allowed), temperature)


def encoder_step(model, optimizer: torch.optim.Optimizer, batch: ContrastiveBatch, query_texts: Sequence[str],
                 passage_texts: Sequence[str], temperature: float) -> float:
    """One optimizer step on one batch; returns the loss before the step."""
    model.train()
    loss = encoder_loss(model, batch, query_texts, passage_texts, temperature)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss.item())
