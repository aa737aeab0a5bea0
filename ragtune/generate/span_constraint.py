"""Constrained decoding to verbatim spans: the answer must be a substring of one of the given passages.

Matching works on bytes, not on the passages' own tokenisation: a byte-level BPE merges characters across
word boundaries ("市长" is one Qwen token), so a span such as "北京市" is only reachable if any token whose bytes
continue the span at that point is allowed. The state of a decoded row is the set of byte positions in the
passages where its text so far ends; the allowed next tokens are those whose bytes occur at one of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

import torch

#: a span ends with the end of the answer or with the start of a citation marker ("1889 [1]" in the prompt's example)
_CITATION_START = (b"[", b" [", b"\xe3\x80\x90", b" \xe3\x80\x90")  # "[" and "【"
_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
#: longest token (in bytes) looked up at each passage position; longer vocabulary entries are code indentation
MAX_TOKEN_BYTES = 32


@lru_cache(maxsize=4)
def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, reversed: how byte-level BPE vocabularies spell raw bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class TokenBytes:
    """Every vocabulary entry's bytes, and the reverse map, for one tokenizer (built once, ~1 s for 150k)."""

    def __init__(self, tokenizer):
        vocab = tokenizer.get_vocab()
        special = set(tokenizer.all_special_ids)
        byte_level = sum("Ġ" in token for token in list(vocab)[:5000]) > 50
        decode = _bytes_to_unicode()
        self.by_bytes: dict[bytes, list[int]] = defaultdict(list)
        for token, token_id in vocab.items():
            if token_id in special:
                continue
            if byte_level:
                try:
                    raw = bytes(decode[ch] for ch in token)
                except KeyError:  # added tokens outside the byte alphabet
                    raw = token.encode("utf-8")
            elif match := _BYTE_TOKEN.match(token):
                raw = bytes([int(match.group(1), 16)])
            else:  # SentencePiece: "▁" is a space
                raw = token.replace("▁", " ").encode("utf-8")
            if raw:
                self.by_bytes[raw].append(token_id)
        self.max_len = min(MAX_TOKEN_BYTES, max(map(len, self.by_bytes)))
        self.citation_starts = {i for b in _CITATION_START for i in self.by_bytes.get(b, [])}
        self.lengths = {i: len(b) for b, ids in self.by_bytes.items() for i in ids}


class SpanTable:
    """For one prompt: which tokens match at each byte position of its passages (and of the IDK reply)."""

    def __init__(self, vocab: TokenBytes, passages: list[str], idk: str):
        self.vocab = vocab
        self.texts = [p.encode("utf-8") for p in passages] + [idk.encode("utf-8")]
        self.idk_source = len(passages)
        # (source, byte offset) -> {token id: byte length}
        self.matches: dict[tuple[int, int], dict[int, int]] = {}
        for source, text in enumerate(self.texts):
            for start in range(len(text)):
                found: dict[int, int] = {}
                for length in range(1, min(vocab.max_len, len(text) - start) + 1):
                    for token_id in vocab.by_bytes.get(text[start : start + length], ()):
                        found[token_id] = length
                if found:
                    self.matches[(source, start)] = found

    def starts(self) -> set[tuple[int, int]]:
        """Where an answer may begin: any character boundary of a passage, or the start of the IDK reply."""
        out = {(s, i) for (s, i) in self.matches if s != self.idk_source and (self.texts[s][i] & 0xC0) != 0x80}
        if (self.idk_source, 0) in self.matches:
            out.add((self.idk_source, 0))
        return out

    def allowed(self, state: set[tuple[int, int]]) -> set[int]:
        tokens: set[int] = set()
        for position in state:
            tokens.update(self.matches.get(position, ()))
        return tokens

    def at_boundary(self, state: set[tuple[int, int]]) -> bool:
        """Whether the text so far ends on a whole character somewhere (so the answer may end there)."""
        return any(i >= len(self.texts[s]) or (self.texts[s][i] & 0xC0) != 0x80 for s, i in state)

    def advance(self, state: set[tuple[int, int]], token_id: int) -> set[tuple[int, int]]:
        out = set()
        for source, offset in state:
            length = self.matches.get((source, offset), {}).get(token_id)
            if length is not None:
                out.add((source, offset + length))
        return out


class SpanLogitsProcessor:
    """A transformers logits processor that keeps each row of a greedy batch on a verbatim span of its passages.

    Rows end with EOS or with a citation's opening bracket (then only EOS is allowed); what the row decoded is
    a span, or the IDK reply when the model starts that instead.
    """

    def __init__(self, tables: list[SpanTable], eos_ids: list[int]):
        self.tables = tables
        self.eos_ids = [i for i in eos_ids if i is not None]
        self.states: list[set[tuple[int, int]] | None] = [None] * len(tables)
        self.closed = [False] * len(tables)
        self.prompt_len: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_len is None:
            self.prompt_len = input_ids.shape[1]
        mask = torch.full_like(scores, float("-inf"))
        for row, table in enumerate(self.tables):
            allowed = self._step(row, table, input_ids[row], input_ids.shape[1] - self.prompt_len)
            mask[row, list(allowed)] = 0.0
        return scores + mask

    def _step(self, row: int, table: SpanTable, ids: torch.LongTensor, generated: int) -> set[int]:
        if generated == 0:
            self.states[row] = table.starts()
            return table.allowed(self.states[row])
        last = int(ids[-1])
        if self.closed[row] or last in self.eos_ids:
            self.closed[row] = True
            return set(self.eos_ids)
        if last in table.vocab.citation_starts and last not in table.allowed(self.states[row]):
            self.closed[row] = True
            return set(self.eos_ids)
        self.states[row] = table.advance(self.states[row], last)
        allowed = table.allowed(self.states[row])
        if not table.at_boundary(self.states[row]):
            return allowed  # mid-character: the span cannot end before the character does
        return allowed | set(self.eos_ids) | table.vocab.citation_starts
