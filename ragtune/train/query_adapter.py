"""The trainable half of a frozen embedder: a residual linear map on query vectors, and the InfoNCE loss.

Passage vectors never change, so the index stays valid and training runs on stored vectors only (no encoder
forward passes): thousands of steps a minute on a laptop CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


class QueryAdapter(torch.nn.Module):
    """q' = normalize(q + W q), W zero-initialised: training starts from the base retriever exactly."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(dim, dim))

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        return F.normalize(queries + queries @ self.weight.T, dim=-1)

    def save(self, path: Path) -> None:
        """Weights only, as safetensors: `ask` applies them with numpy (ragtune/index/embedders/adapted.py)."""
        from safetensors.torch import save_file

        save_file({"weight": self.weight.detach().float().contiguous()}, str(path))


def info_nce(queries: torch.Tensor, passages: torch.Tensor, targets: torch.Tensor, allowed: torch.Tensor,
             temperature: float) -> torch.Tensor:
    """Cross-entropy of each query's positive column against the allowed other columns (cosine / temperature)."""
    logits = queries @ passages.T / temperature
    logits = logits.masked_fill(~allowed, float("-inf"))
    return F.cross_entropy(logits, targets)


def batch_tensors(batch, query_vectors: np.ndarray, passage_vectors: np.ndarray
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(base query vectors, passage vectors, targets, allowed) of a ContrastiveBatch."""
    return (torch.from_numpy(np.ascontiguousarray(query_vectors[batch.queries], dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(passage_vectors[batch.columns], dtype=np.float32)),
            torch.tensor(batch.targets, dtype=torch.long),
            torch.from_numpy(batch.allowed))


def adapter_loss(adapter: QueryAdapter, tensors, temperature: float) -> torch.Tensor:
    queries, passages, targets, allowed = tensors
    return info_nce(adapter(queries), passages, targets, allowed, temperature)


def adapter_step(adapter: QueryAdapter, optimizer: torch.optim.Optimizer, tensors, temperature: float) -> float:
    """One optimizer step on one batch; returns the loss before the step."""
    loss = adapter_loss(adapter, tensors, temperature)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def dense_mrr(adapter: QueryAdapter, query_vectors: np.ndarray, passage_vectors: np.ndarray,
              positives: list[set[int]], k: int = 10, chunk: int = 64) -> float:
    """MRR@k of the positive rows when passages are ranked by the adapted query vectors alone."""
    if not positives:
        return 0.0
    with torch.no_grad():
        adapted = adapter(torch.from_numpy(np.ascontiguousarray(query_vectors, dtype=np.float32))).numpy()
    total = 0.0
    for start in range(0, len(adapted), chunk):
        scores = adapted[start : start + chunk] @ passage_vectors.T
        depth = min(k, scores.shape[1])
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)
        for ranked, wanted in zip(top.tolist(), positives[start : start + chunk]):
            total += next((1.0 / rank for rank, row in enumerate(ranked, start=1) if row in wanted), 0.0)
    return total / len(positives)
