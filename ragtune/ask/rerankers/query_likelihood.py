"""Query-likelihood reranking with the generator LLM (UPR: Sachan et al. 2022, zero-shot question generation).

A passage scores the mean log-probability of the question's tokens, given a prompt that shows the passage and
asks for a question it answers. No packaged cross-encoder reads Chinese; the packaged generator does, so this
covers Chinese and English. It costs one LLM forward pass per candidate (seconds per question on a CPU), so it
re-scores only the fused top few, only for questions whose fused leader is not clear (`candidates`, `margin`),
and its model loads only when a question is first reranked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ragtune.ask.rerankers.base import Reranker
from ragtune.config import Config, GeneratorConfig
from ragtune.text import language_of

INSTRUCTION = {"zh": "请根据这段资料提出一个问题。", "en": "Write a question that this passage answers."}


class QueryLikelihoodReranker(Reranker):
    name = "generator-ql"
    languages = frozenset({"zh", "en"})

    def __init__(self, generator: GeneratorConfig | None = None, cache_dir: Path | None = None,
                 max_passage_tokens: int = 256, batch_size: int = 8, candidates: int | None = 5,
                 margin: float | None = 0.25):
        self.generator = generator or GeneratorConfig()
        self.candidates, self.margin = candidates, margin
        self.cache_dir = cache_dir if cache_dir is not None else Config().resolved_cache_dir
        self.max_passage_tokens = max_passage_tokens
        self.batch_size = batch_size
        self.tokenizer = self.model = None
        self._generator: Callable[[], object] | None = None

    @classmethod
    def from_config(cls, config: Config) -> QueryLikelihoodReranker:
        settings = config.retrieval.generator_rerank
        return cls(config.generator, config.resolved_cache_dir, settings.max_passage_tokens,
                   config.generator.batch_size, settings.candidates, settings.margin)

    def use_generator(self, generator: Callable[[], object]) -> None:
        self._generator = generator

    def load(self) -> None:
        """The generator's base weights (no LoRA adapter: it scores, it does not answer), in eval mode; once.

        The pipeline's generator when it offered one (ask and eval then hold one copy of the model)."""
        if self.model is not None:
            return
        if self._generator is not None:
            shared = self._generator()
            self.tokenizer, self.model = shared.tokenizer, shared.model
            return
        import torch

        from ragtune.generate.hf import load_causal_lm, torch_dtype
        from ragtune.hardware import resolve_device

        if self.generator.threads:
            torch.set_num_threads(self.generator.threads)
        device = resolve_device(self.generator.device)
        # bfloat16 only where the device computes it natively (generator.dtype "auto"), else float32
        self.tokenizer, model = load_causal_lm(self.generator.name, self.cache_dir,
                                               torch_dtype(self.generator.dtype, device))
        self.model = model.to(device).eval()

    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, np.float32)
        self.load()
        question = self.tokenizer(query, add_special_tokens=False)["input_ids"]
        if not question:
            return np.zeros(len(passages), np.float32)
        prompts = [self._prompt_ids(p, language_of(query)) for p in passages]
        # similar lengths together pad less; scores go back in input order
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out = np.zeros(len(prompts), np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._mean_logprobs([prompts[i] for i in rows], question)
        return out

    def _prompt_ids(self, passage: str, language: str) -> list[int]:
        """Chat-template tokens up to the assistant's turn: the passage (cut to the token budget) and the request."""
        encoded = self.tokenizer(passage, add_special_tokens=False, return_offsets_mapping=True)
        if len(encoded["input_ids"]) > self.max_passage_tokens:
            # cut at a token's end in the original text, so no character is split
            passage = passage[: encoded["offset_mapping"][self.max_passage_tokens - 1][1]] + " …"
        messages = [{"role": "user", "content": f"{passage}\n\n{INSTRUCTION[language]}"}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _mean_logprobs(self, prompts: list[list[int]], question: list[int]) -> np.ndarray:
        """Mean log p(question tokens | prompt) per prompt, in one forward pass.

        Left padding puts every row's question (the same tokens) in the last positions, so logits are computed
        only where they predict a question token (the LM head over 151k words is a quarter of the model).
        """
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(len(p) for p in prompts) + len(question)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            tokens = prompt + question
            ids[row, width - len(tokens) :] = torch.tensor(tokens)
            mask[row, width - len(tokens) :] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)  # each row counts from its first real token
        n = len(question)
        device = self.model.device
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                position_ids=positions.to(device), logits_to_keep=n + 1, use_cache=False).logits
            logp = logits[:, :n].float().log_softmax(-1)  # position t predicts token t + 1: drop the last
            target = torch.tensor(question, device=device).expand(len(prompts), n)
            return logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).mean(1).cpu().numpy()
