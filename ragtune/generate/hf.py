"""Causal LMs through transformers: greedy decoding, token streaming, left-padded batches, LoRA adapters."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path

import torch

from ragtune.adapters import PEFT_CONFIG, is_peft_folder
from ragtune.config import GeneratorConfig
from ragtune.errors import RagtuneError, first_line
from ragtune.generate.base import Candidates, Generator, Message, OnBatch, SpanSources, encode_prompts, in_batches
from ragtune.generate.batching import BatchDecoder, BoundaryDecoder
from ragtune.generate.context import PromptBudget, prompt_budget
from ragtune.generate.packaged import resolve_generator_path
from ragtune.generate.span_constraint import SpanLogitsProcessor, SpanTable, TokenBytes
from ragtune.hardware import generation_precision, resolve_device, resolve_dtype


class HFGenerator(Generator):
    """Greedy decoding of a causal LM in memory: what ask, eval and synth answer with (`load`), and what training
    scores its held-out questions with (the model being trained, wrapped as it is)."""

    holds_torch_model = True

    @classmethod
    def cache_key(cls, config: GeneratorConfig) -> str:
        return generation_precision(config)

    def __init__(self, model, tokenizer, config: GeneratorConfig, bf16: bool = False):
        """`model` is used in the mode (train/eval) and on the device it is in; `bf16`: decode under bf16
        autocast (a float32 model being trained, as its training steps run)."""
        self.config = config
        self.name = config.name
        self.model, self.tokenizer = model, tokenizer
        self.device = model.device
        self.bf16 = bf16
        #: prompt tokens allowed (None: the model does not say how long its context is)
        self.budget: PromptBudget | None = prompt_budget(tokenizer, model.config, config.max_new_tokens)

    @classmethod
    def load(cls, config: GeneratorConfig, cache_dir: Path, adapter: str | Path | None = None) -> HFGenerator:
        """The configured generator (packaged name, HF id or folder) in eval mode, with a LoRA `adapter`."""
        if config.threads:
            torch.set_num_threads(config.threads)
        device = resolve_device(config.device)
        tokenizer, model = load_causal_lm(config.name, cache_dir, torch_dtype(config.dtype, device))
        if adapter is not None:
            model = with_adapter(model, Path(adapter))
        model.to(device).eval()
        tokenizer.padding_side = "left"
        generator = cls(model, tokenizer, config)
        generator.adapter = adapter
        return generator

    def _decoding(self) -> contextlib.ExitStack:
        """No gradients (not inference_mode: a model being trained must stay trainable), bf16 if asked."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.no_grad())
        if self.bf16:
            stack.enter_context(torch.autocast(self.device.type, dtype=torch.bfloat16))
        return stack

    def _encode(self, batch: list[list[Message]]) -> dict:
        return encode_prompts(self.tokenizer, self.budget, batch, "pt").to(self.device)

    def _generate_kwargs(self, spans: list[SpanSources] | None = None) -> dict:
        kwargs = dict(max_new_tokens=self.config.max_new_tokens, do_sample=False, temperature=None, top_p=None,
                      top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        if spans is not None:
            from transformers import LogitsProcessorList

            tables = [SpanTable(self._token_bytes, s.passages, s.idk) for s in spans]
            eos = self.model.generation_config.eos_token_id
            eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos, self.tokenizer.eos_token_id]
            kwargs["logits_processor"] = LogitsProcessorList([SpanLogitsProcessor(tables, eos_ids)])
        return kwargs

    @cached_property
    def _token_bytes(self) -> TokenBytes:
        return TokenBytes(self.tokenizer)

    def stream(self, messages: list[Message], spans: SpanSources | None = None) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        inputs = self._encode([messages])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []
        kwargs = self._generate_kwargs(None if spans is None else [spans])

        def run():
            try:
                with self._decoding():
                    self.model.generate(**inputs, streamer=streamer, **kwargs)
            except BaseException as exc:  # re-raised in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if errors:
            raise errors[0]

    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None,
                 spans: list[SpanSources] | None = None) -> list[str]:
        def answer(rows: list[int]) -> list[str]:
            inputs = self._encode([batch[i] for i in rows])
            kwargs = self._generate_kwargs(None if spans is None else [spans[i] for i in rows])
            with self._decoding():
                out = self.model.generate(**inputs, **kwargs)
            return self._new_texts(out, inputs)

        return in_batches(batch, self.config.batch_size, answer, progress, on_batch)

    def candidates(self, batch: list[list[Message]], candidates: Candidates, progress: bool = False,
                   on_batch: Callable[[dict[int, list[str]]], None] | None = None) -> list[list[str]]:
        n = candidates.n
        asked: dict = {"num_return_sequences": n}
        if candidates.method == "beam":
            asked["num_beams"] = n
        else:
            asked.update(do_sample=True, temperature=candidates.temperature, top_p=candidates.top_p)

        def answer(rows: list[int]) -> list[list[str]]:
            inputs = self._encode([batch[i] for i in rows])
            # the seed of this batch, on a forked generator: a model being trained keeps its own random stream
            with self._decoding(), torch.random.fork_rng(devices=[]):
                torch.manual_seed(candidates.seed)
                out = self.model.generate(**inputs, **{**self._generate_kwargs(), **asked})
            texts = self._new_texts(out, inputs)
            return [texts[row * n : (row + 1) * n] for row in range(len(rows))]

        return in_batches(batch, self.config.batch_size, answer, progress, on_batch)

    def _new_texts(self, out, inputs) -> list[str]:
        """The text each generated row added after its (left-padded) prompt."""
        texts = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [t.strip() for t in texts]

    # ---- serving: batches whose rows stream -------------------------------------------------
    @cached_property
    def stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos) if isinstance(eos, (list, tuple)) else {eos}
        return {int(i) for i in ids | {self.tokenizer.eos_token_id} if i is not None}

    def make_decoder(self) -> BatchDecoder:
        def encode(messages: list[Message]) -> list[int]:
            return self._encode([messages])["input_ids"][0].tolist()

        return BoundaryDecoder(self.tokenizer, self.stop_ids, encode, self.decode_together,
                               self.config.decode_batch)

    def decode_together(self, batch: list[list[Message]], on_tokens: Callable[[int, list[int]], bool]) -> None:
        """One left-padded batch, greedy as `generate`, each step's new token reported per row by
        `on_tokens(row, [token])`; a row it answers False for (ended, or its client left) stops there."""
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        wanted = torch.ones(len(batch), dtype=torch.bool)

        class RowStreamer(BaseStreamer):
            prompt_seen = False

            def put(self, value):
                if not self.prompt_seen:  # the first call carries the prompts
                    self.prompt_seen = True
                    return
                for row, token in enumerate(value.reshape(-1).tolist()):
                    if wanted[row]:
                        wanted[row] = on_tokens(row, [token])

            def end(self):
                pass

        class Unwanted(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return ~wanted.to(input_ids.device)

        inputs = self._encode(batch)
        kwargs = self._generate_kwargs()
        with self._decoding():
            self.model.generate(**inputs, streamer=RowStreamer(),
                                stopping_criteria=StoppingCriteriaList([Unwanted()]), **kwargs)


def torch_dtype(name: str, device=None) -> torch.dtype:
    """The torch dtype a config names (`generator.dtype`, `auto` resolved for `device`), or a one-line error."""
    dtype = resolve_dtype(name, device)
    if dtype is None:
        raise RagtuneError(f"generator.dtype {name!r} is not a torch dtype or 'auto'")
    return dtype


def load_causal_lm(name: str, cache_dir: Path, dtype: torch.dtype):
    """(tokenizer with a pad token, model) for a packaged name, HF id or folder; quiet, one-line errors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = resolve_generator_path(name, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise RagtuneError(f"generator {name!r}: cannot load: {first_line(exc)}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def with_adapter(model, adapter: Path):
    """The model wrapped with a trained PEFT adapter folder; whatever peft cannot load is a one-line error."""
    from peft import PeftModel

    if not is_peft_folder(adapter):
        raise RagtuneError(f"{adapter}: not a PEFT adapter folder (no {PEFT_CONFIG})")
    with warnings.catch_warnings():  # peft's deprecation notices are not the user's business
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return PeftModel.from_pretrained(model, str(adapter))
        except Exception as exc:  # peft raises many kinds (config, shapes, safetensors, missing modules)
            raise RagtuneError(f"{adapter}: cannot load this adapter onto the generator: {first_line(exc)}"
                               ) from exc
