"""Batch tensors: widths rounded to a multiple, and the head's positions padded the same way, without changing
which tokens are scored."""

from __future__ import annotations

import torch

from ragtune.train.batches import collate
from ragtune.train.model import predicting_positions
from ragtune.train.tokenize import IGNORE, Encoded


def row(prompt: int, answer: int) -> Encoded:
    return Encoded(input_ids=list(range(1, prompt + answer + 1)), labels=[IGNORE] * prompt + [7] * answer)


def test_collate_pads_to_a_multiple_and_marks_padding_unscored():
    ids, mask, labels = collate([row(50, 5), row(70, 3)], pad_id=0, multiple=32)
    assert ids.shape == mask.shape == labels.shape == (2, 96)
    assert mask.sum(1).tolist() == [55, 73]
    assert (labels[mask == 0] == IGNORE).all() and (ids[mask == 0] == 0).all()
    assert collate([row(50, 5), row(70, 3)], pad_id=0)[0].shape == (2, 73)  # multiple 1: the longest row
    assert collate([row(60, 4)], pad_id=0, multiple=32)[0].shape == (1, 64)


def test_padded_positions_keep_every_labelled_one_in_order():
    _, _, labels = collate([row(50, 5), row(70, 3)], pad_id=0, multiple=32)
    targets = labels[:, 1:]
    plain = predicting_positions(targets)
    padded = predicting_positions(targets, 6)
    assert plain.tolist() == [49, 50, 51, 52, 53, 69, 70, 71] and len(padded) == 12
    assert torch.equal(predicting_positions(targets, 8), plain)  # already a multiple
    assert set(plain.tolist()) <= set(padded.tolist()) and torch.equal(padded, padded.sort().values)
    extra = sorted(set(padded.tolist()) - set(plain.tolist()))
    assert (targets[:, extra] == IGNORE).all()
    assert len(predicting_positions(targets[:, 45:60], 64)) == 15  # never more than the sequence has
