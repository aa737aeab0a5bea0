"""A dense search must leave the process's OpenMP thread count as it found it: faiss shares that runtime with
torch, and a search that left it at 1 made every later LoRA step and torch generation use one core."""

from __future__ import annotations

import faiss
import torch


def test_retrieval_leaves_torch_threads_alone(mixed_index):
    torch.set_num_threads(2)
    mixed_index.retrieve_many(["长江有多长？", "What did Tesla invent?"], 20)
    assert torch.get_num_threads() == 2 and faiss.omp_get_max_threads() == 2
    torch.set_num_threads(1)  # whatever the caller chose stays chosen
    mixed_index.retrieve_many(["黄河有多长？"], 5)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
