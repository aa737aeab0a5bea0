"""Constrained decoding to verbatim spans, with the real packaged tokenizer (no model needed)."""

from __future__ import annotations

import pytest
import torch

from ragtune.config import Config
from ragtune.generate.span_constraint import SpanLogitsProcessor, SpanTable, TokenBytes

PASSAGES = ["北京市长城位于中国北方，总长度约21196千米。",
            "The Eiffel Tower in Paris was completed in 1889 [citation]."]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from ragtune.generate.packaged import resolve_generator_path

    config = Config()
    return AutoTokenizer.from_pretrained(resolve_generator_path(config.generator.name, config.resolved_cache_dir))


@pytest.fixture(scope="module")
def vocab(tokenizer) -> TokenBytes:
    return TokenBytes(tokenizer)


def _reachable(table: SpanTable, ids: list[int]) -> bool:
    state = table.starts()
    for token in ids:
        if token not in table.allowed(state):
            return False
        state = table.advance(state, token)
    return True


def test_spans_inside_merged_tokens_stay_reachable(tokenizer, vocab):
    # in context "市长" is one token, so the passage's own tokens cannot spell "北京市"; bytes can
    ids = tokenizer.encode("北京市长城")
    assert "北京市" not in {tokenizer.decode(ids[:n]) for n in range(len(ids) + 1)}
    table = SpanTable(vocab, PASSAGES, "我不知道")
    for span in ("北京市", "约21196千米", "Paris", " Eiffel Tower", "1889", "我不知道"):
        assert _reachable(table, tokenizer.encode(span, add_special_tokens=False)), span
    for outside in ("上海", "London", "1890", "不知道"):  # IDK only from its start
        assert not _reachable(table, tokenizer.encode(outside, add_special_tokens=False)), outside


def test_greedy_decoding_under_random_logits_only_writes_spans(tokenizer, vocab):
    """Whatever the model prefers, each row decodes a substring of its own passages, or the IDK reply."""
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    tables = [SpanTable(vocab, [p], "I don't know") for p in PASSAGES]
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        processor = SpanLogitsProcessor(tables, [eos])
        ids = torch.zeros((2, 3), dtype=torch.long)
        for _ in range(12):
            scores = torch.randn((2, len(tokenizer)), generator=generator)
            scores[:, eos] -= 2.0  # keep rows going for a few tokens
            ids = torch.cat([ids, processor(ids, scores).argmax(-1, keepdim=True)], dim=1)
        for row, passage in enumerate(PASSAGES):
            tokens = [t for t in ids[row, 3:].tolist() if t != eos]
            text = tokenizer.decode(tokens).rstrip("[【 ")
            assert text.strip() in passage or text == "I don't know", text
