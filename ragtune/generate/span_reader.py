"""An extractive reader on the generator's own weights: start/end logits from its hidden states (+ LoRA).

The question comes first, so every passage token is read in its light (the model is causal). Each position's
logits see its own hidden state and the next one's, so a start can look one token ahead. Scores are
comparable across passages because training normalises them over a question's gold passage *and* its
distractor together (shared normalisation, Clark & Gardner 2018), so ask takes the best span of the top-k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ragtune.adapters import READER, READER_HEAD_FILE, read_meta
from ragtune.errors import RagtuneError, first_line
from ragtune.generate.prompt import LABELS
from ragtune.hardware import resolve_bf16
from ragtune.text import language_of

#: tokens of a passage read at ask time (ask's passages are chunks of about 400 units)
READ_TOKENS = 512
#: weight of the retrieval prior for readers trained before `train reader` fitted one
DEFAULT_RETRIEVAL_WEIGHT = 1.0


class SpanHead(torch.nn.Module):
    """(start, end) logits from [h_i; h_{i+1}]."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = torch.nn.Linear(2 * hidden, 2)
        torch.nn.init.normal_(self.proj.weight, std=0.02)
        torch.nn.init.zeros_(self.proj.bias)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        after = torch.cat([hidden[:, 1:], torch.zeros_like(hidden[:, :1])], dim=1)
        logits = self.proj(torch.cat([hidden, after], dim=-1).float())
        return logits[..., 0], logits[..., 1]


class SpanReaderModel(torch.nn.Module):
    """A (LoRA-wrapped) causal LM's decoder without its LM head, and a SpanHead."""

    def __init__(self, lm, head: SpanHead):
        super().__init__()
        self.lm = lm
        self.head = head
        base = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
        self.decoder = getattr(base, base.base_model_prefix)  # Qwen2Model, LlamaModel, ...: no 150k-vocab logits

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        return self.head(hidden)


@dataclass
class EncodedPair:
    """Question prefix + one passage window: token ids, where the passage starts, each passage token's chars."""

    input_ids: list[int]
    passage_start: int
    offsets: list[tuple[int, int]]  # character span in `text` of each passage token
    text: str  # the passage window as the reader saw it (title excluded)

    def __len__(self) -> int:
        return len(self.input_ids)


def prefix_text(question: str, title: str) -> str:
    passages_label, question_label = LABELS[language_of(question)]
    return f"{question_label}: {question}\n{passages_label}: " + (f"{title}: " if title else "")


def encode_pair(tokenizer, question: str, title: str, text: str, max_passage_tokens: int,
                keep_chars: tuple[int, int] | None = None) -> EncodedPair:
    """Tokens of question + passage; a passage longer than `max_passage_tokens` keeps a window that holds
    `keep_chars` (the answer, when training) or else its beginning."""
    prefix = tokenizer(prefix_text(question, title), add_special_tokens=False)["input_ids"]
    body = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = body["input_ids"], [tuple(o) for o in body["offset_mapping"]]
    if len(ids) > max_passage_tokens:
        first = 0
        if keep_chars is not None:
            end_token = next((t for t, (_, e) in enumerate(offsets) if e >= keep_chars[1]), len(ids) - 1)
            first = min(max(0, end_token - max_passage_tokens // 2), len(ids) - max_passage_tokens)
        ids, offsets = ids[first : first + max_passage_tokens], offsets[first : first + max_passage_tokens]
    return EncodedPair(prefix + ids, len(prefix), offsets, text)


def token_span(pair: EncodedPair, start_char: int, end_char: int) -> tuple[int, int] | None:
    """Positions in `pair.input_ids` of the first and last passage tokens overlapping [start_char, end_char)."""
    inside = [t for t, (s, e) in enumerate(pair.offsets) if s < end_char and e > start_char]
    if not inside:
        return None
    return pair.passage_start + inside[0], pair.passage_start + inside[-1]


def collate_pairs(pairs: list[EncodedPair], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask, and a mask of passage positions (where a span may start or end)."""
    width = max(len(p) for p in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    passage = torch.zeros((len(pairs), width), dtype=torch.bool)
    for i, pair in enumerate(pairs):
        ids[i, : len(pair)] = torch.tensor(pair.input_ids)
        mask[i, : len(pair)] = 1
        passage[i, pair.passage_start : len(pair)] = True
    return ids, mask, passage


@dataclass
class SpanCandidate:
    score: float
    pair: int  # which encoded pair
    start: int  # token positions, inclusive
    end: int

    def text(self, pairs: list[EncodedPair]) -> str:
        pair = pairs[self.pair]
        first, last = pair.offsets[self.start - pair.passage_start], pair.offsets[self.end - pair.passage_start]
        return pair.text[first[0] : last[1]].strip()


def best_spans(start: torch.Tensor, end: torch.Tensor, passage: torch.Tensor, max_answer_tokens: int
               ) -> list[SpanCandidate]:
    """Each row's best (start <= end < start + max_answer_tokens) span inside its passage, scored start + end."""
    out = []
    neg = torch.finfo(start.dtype).min / 4
    start = start.masked_fill(~passage, neg)
    end = end.masked_fill(~passage, neg)
    width = start.shape[1]
    i = torch.arange(width)
    allowed = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_answer_tokens)  # [start, end]
    for row in range(start.shape[0]):
        scores = (start[row][:, None] + end[row][None, :]).masked_fill(~allowed, neg)
        flat = int(torch.argmax(scores))
        s, e = divmod(flat, width)
        out.append(SpanCandidate(float(scores[s, e]), row, s, e))
    return out


def truncate_layers(lm, layers: int | None) -> None:
    """Keep only the first `layers` decoder layers (in place): the reader reads middle-layer states, and each
    layer dropped is a pass of compute saved at training and ask time."""
    if not layers:
        return
    decoder = getattr(lm, lm.base_model_prefix)
    if layers < len(decoder.layers):
        decoder.layers = decoder.layers[:layers]
        lm.config.num_hidden_layers = layers
        if isinstance(getattr(lm.config, "layer_types", None), list):
            lm.config.layer_types = lm.config.layer_types[:layers]


def passage_spans(model: SpanReaderModel, tokenizer, groups: list[list[EncodedPair]], max_answer_tokens: int,
                  bf16: bool | None, batch_rows: int = 8) -> list[list[tuple[float, str]]]:
    """For each question's passages (pairs), each passage's best span: (start + end logit, text)."""
    flat = [(g, p) for g, pairs in enumerate(groups) for p in range(len(pairs))]
    found: list[list[tuple[float, str]]] = [[(float("-inf"), "")] * len(pairs) for pairs in groups]
    order = sorted(range(len(flat)), key=lambda i: len(groups[flat[i][0]][flat[i][1]]))
    device = next(model.parameters()).device
    enabled = resolve_bf16(bf16, device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
        for at in range(0, len(order), batch_rows):
            rows = order[at : at + batch_rows]
            pairs = [groups[flat[i][0]][flat[i][1]] for i in rows]
            ids, mask, passage = collate_pairs(pairs, tokenizer.pad_token_id)
            start, end = model(ids.to(device), mask.to(device))
            for candidate, i in zip(best_spans(start.float().cpu(), end.float().cpu(), passage, max_answer_tokens),
                                    rows, strict=True):
                g, p = flat[i]
                found[g][p] = (candidate.score, candidate.text(pairs))
    return found


def retrieval_priors(scores: list[float], weight: float) -> list[float]:
    """`weight` x each passage's retrieval score min-max scaled over the question's passages (best 1, worst 0):
    scale-free, whatever scored them (fusion, a cross-encoder, the generator's query likelihood)."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    return [weight * ((s - low) / (high - low) if high > low else 1.0) for s in scores]


def choose_span(spans: list[tuple[float, str]], priors: list[float] | None = None) -> tuple[str, int]:
    """The best span over a question's passages, span score plus prior: (text, 0-based passage), or ("", -1)."""
    best, text, at = float("-inf"), "", -1
    for p, (score, span) in enumerate(spans):
        total = score + (priors[p] if priors else 0.0)
        if span and total > best:
            best, text, at = total, span, p
    return text, at


def read_answers(model: SpanReaderModel, tokenizer, groups: list[list[EncodedPair]], max_answer_tokens: int,
                 bf16: bool | None, priors: list[list[float]] | None = None) -> list[tuple[str, int]]:
    """For each question's passages (pairs), the best span's text and the 0-based passage it came from;
    `priors` (per passage) are added to the span scores (retrieval_priors)."""
    spans = passage_spans(model, tokenizer, groups, max_answer_tokens, bf16)
    return [choose_span(s, priors[g] if priors else None) for g, s in enumerate(spans)]


def save_head(head: SpanHead, folder: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(folder / READER_HEAD_FILE))


def load_reader(config, folder: Path, dtype: torch.dtype, device) -> tuple[object, SpanReaderModel]:
    """(tokenizer, SpanReaderModel in eval mode) from a `train reader` folder: its base generator + LoRA + head."""
    from safetensors.torch import load_file

    from ragtune.generate.hf import load_causal_lm, with_adapter

    meta = read_meta(folder)
    if meta is None or meta.kind != READER or not (folder / READER_HEAD_FILE).is_file():
        raise RagtuneError(f"{folder}: not a reader adapter (train one with `ragtune train reader`)")
    tokenizer, lm = load_causal_lm(meta.base_model or config.generator.name, config.resolved_cache_dir, dtype)
    truncate_layers(lm, meta.layers)
    lm = with_adapter(lm, folder)
    head = SpanHead(lm.config.hidden_size)
    try:
        head.load_state_dict(load_file(str(folder / READER_HEAD_FILE)))
    except Exception as exc:  # a torn file (safetensors) or a head for another hidden size (torch)
        raise RagtuneError(f"{folder / READER_HEAD_FILE}: cannot load the span head: {first_line(exc)}") from exc
    model = SpanReaderModel(lm, head).to(device).eval()
    tokenizer.padding_side = "right"
    return tokenizer, model
