"""Batches: each epoch's order (shuffled, or length-bucketed so similar lengths waste little compute on padding),
and right-padded tensors."""

from __future__ import annotations

import random

import torch

from ragtune.train.tokenize import IGNORE, Encoded


def length_plan(lengths: list[int], batch_size: int, bucket_batches: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's batches: shuffled, cut into buckets, sorted by length inside each, batches shuffled."""
    rng = random.Random(f"{seed}/epoch/{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), size):
        bucket = sorted(order[start : start + size], key=lambda i: lengths[i])
        batches.extend(bucket[b : b + batch_size] for b in range(0, len(bucket), batch_size))
    rng.shuffle(batches)
    return batches


def shuffled_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch of `n` examples: a seeded shuffle cut into batches (a short last batch is kept)."""
    order = list(range(n))
    random.Random(f"{seed}/{epoch}").shuffle(order)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def collate(rows: list[Encoded], pad_id: int, multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded input_ids, attention_mask, labels, as wide as the longest row rounded up to `multiple`: few
    widths mean few input shapes, and oneDNN keeps a primitive with its buffers for every shape it meets (training
    memory grows with each new one). Right padding under a causal mask leaves the loss of the real tokens as is."""
    width = round_up(max(len(r) for r in rows), multiple)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row.input_ids)
        mask[i, : len(row)] = 1
        labels[i, : len(row)] = torch.tensor(row.labels)
    return ids, mask, labels


def target_tokens(row: Encoded) -> int:
    return sum(label != IGNORE for label in row.labels[1:])
