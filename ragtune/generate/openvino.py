"""OpenVINO GenAI: the packaged generators with int8/int4 weights, continuous batching, runtime LoRA.

Prompts are tokenized by the transformers tokenizer (so a prompt is exactly the tokens torch would see, and the
prompt budget is the same) and handed over as token ids; answers come back as token ids and are decoded the
same way. A PEFT adapter is applied at runtime from its safetensors file: GenAI scales A·B by the alpha it is
given, so PEFT's lora_alpha / r is passed explicitly. GenAI's prefix cache (a prompt prefix seen before, such
as the system prompt and a shared passage, is not computed again) is not keyed by adapter: a prefix computed
with the adapter would be reused with it switched off. So it is on for the base model only; a pipeline that
holds an adapter computes every prompt afresh, and switching its adapter off and on is exact.

Everything decodes through one `ContinuousDecoder`: a thread stepping a ContinuousBatchingPipeline, where a
prompt submitted from any thread joins the running batch at the next step. A batch call (`generate`) submits its
prompts together; a stream (`stream`, or a server's many users) reads its own tokens as they come.

Greedy decoding drafts from the prompt (GenAI's prompt-lookup decoding, `generator.prompt_lookup`): the answer's
last few tokens are looked up in the prompt and the tokens that followed them there are proposed, up to k at
once; one forward pass checks them all and keeps the longest run the model agrees with. A RAG answer quotes its
passages, and decoding one stream is bound by reading the weights once per pass, so agreed drafts come almost
free. A pipeline that drafts takes one greedy sequence per request: beams and samples go to a second, plain one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from ragtune.adapters import PEFT_CONFIG, PEFT_WEIGHTS, is_peft_folder
from ragtune.config import GeneratorConfig
from ragtune.errors import RagtuneError, first_line
from ragtune.generate.base import Candidates, Generator, Message, OnBatch, SpanSources, encode_prompts, in_batches
from ragtune.generate.batching import BatchDecoder, DecodeStream
from ragtune.generate.context import PromptBudget, prompt_budget
from ragtune.generate.packaged import PACKAGED_GENERATORS

#: the modules runtime LoRA can reach: the MatMuls openvino_export names
LORA_MODULES = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
#: KV-cache memory of the continuous-batching scheduler (GB): ~80k tokens of the 0.5B model
CACHE_GB = 1


def installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino_genai") is not None


def unsupported(config: GeneratorConfig, adapter: str | Path | None) -> str | None:
    """Why this backend cannot serve `config` with `adapter` (None: it can); nothing is loaded."""
    if not installed():
        return "openvino-genai is not installed"
    if config.name not in PACKAGED_GENERATORS:
        return f"it converts the packaged generators only, not {config.name!r}"
    if config.answer_mode == "extractive":
        return "constrained decoding (answer_mode extractive) runs on torch"
    if config.device not in ("auto", "cpu"):
        return f"it runs on the CPU, not {config.device!r}"
    if adapter is not None:
        return adapter_problem(Path(adapter))
    return None


def adapter_problem(adapter: Path) -> str | None:
    """Why runtime LoRA cannot apply this PEFT folder exactly (None: it can)."""
    if not is_peft_folder(adapter):
        return None  # not a generator LoRA (a reader or retriever adapter): nothing for this backend to apply
    try:
        peft = json.loads((adapter / PEFT_CONFIG).read_text())
    except (OSError, ValueError) as exc:
        return f"{adapter / PEFT_CONFIG}: {first_line(exc)}"
    targets = peft.get("target_modules") or []
    targets = {targets} if isinstance(targets, str) else set(targets)
    if peft.get("peft_type") != "LORA" or peft.get("use_dora") or peft.get("modules_to_save"):
        return "only plain LoRA adapters apply at runtime (no DoRA, no modules_to_save)"
    if peft.get("rank_pattern") or peft.get("alpha_pattern"):
        return "per-module LoRA ranks or alphas do not apply at runtime"
    if not targets <= LORA_MODULES:
        beyond = ", ".join(sorted(targets - LORA_MODULES))
        return f"runtime LoRA reaches {', '.join(sorted(LORA_MODULES))}, not {beyond}"
    return None


def lora_scale(adapter: Path) -> float:
    """PEFT's scaling of B·A: lora_alpha / r (or / sqrt(r) with rsLoRA)."""
    peft = json.loads((adapter / PEFT_CONFIG).read_text())
    rank = peft["r"]
    return peft["lora_alpha"] / (math.sqrt(rank) if peft.get("use_rslora") else rank)


class OpenVINOGenerator(Generator):
    """Greedy decoding by an OpenVINO GenAI ContinuousBatchingPipeline over the converted packaged model."""

    def __init__(self, make_pipeline: Callable[[bool], object], tokenizer, model_config, config: GeneratorConfig,
                 adapters=None):
        """`make_pipeline(lookup)` builds a pipeline (with prompt lookup or without): each is built on first use,
        as each holds its own weights and KV cache (~1.3 GB at int8, measured in BENCHMARKS.md), and a job
        often needs only one (eval and serve the greedy one, a voting graph build the plain one)."""
        self.config = config
        self.name = config.name
        self._make_pipeline, self.tokenizer = make_pipeline, tokenizer
        self._adapters = adapters  # the AdapterConfig every generation runs with (None: the base model)
        #: greedy requests draft tokens from the prompt (config.prompt_lookup) on a pipeline that takes nothing else
        self.lookup = config.prompt_lookup > 0
        self._plain_decoder: ContinuousDecoder | None = None
        self.budget: PromptBudget | None = prompt_budget(tokenizer, model_config, config.max_new_tokens)
        eos = getattr(model_config, "eos_token_id", None)
        eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) | {tokenizer.eos_token_id}
        self._stop_ids = {int(i) for i in eos_ids if i is not None}

    @classmethod
    def unsupported(cls, config: GeneratorConfig, adapter) -> str | None:
        return unsupported(config, adapter)

    @classmethod
    def cache_key(cls, config: GeneratorConfig) -> str:
        kv = "" if config.kv_cache_precision == "auto" else f"/kv-{config.kv_cache_precision}"
        return f"openvino/{config.precision}{kv}"

    @classmethod
    def load(cls, config: GeneratorConfig, cache_dir: Path, adapter: str | Path | None = None) -> OpenVINOGenerator:
        import openvino_genai as genai
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from ragtune.generate.openvino_export import openvino_model_dir

        problem = unsupported(config, adapter)
        if problem is not None:
            raise RagtuneError(f"generator.backend openvino: {problem}")
        folder = openvino_model_dir(config.name, config.precision, cache_dir)
        hf_logging.set_verbosity_error()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model_config = AutoConfig.from_pretrained(folder)
        properties: dict = {}
        if config.threads:
            properties["INFERENCE_NUM_THREADS"] = config.threads
        if config.precision == "f16":  # the reference: float32 arithmetic (else bf16 where the CPU has it)
            properties["INFERENCE_PRECISION_HINT"] = "f32"
        if config.kv_cache_precision != "auto":
            properties["KV_CACHE_PRECISION"] = config.kv_cache_precision
        scheduler = genai.SchedulerConfig()
        scheduler.cache_size = CACHE_GB
        scheduler.enable_prefix_caching = adapter is None or not is_peft_folder(Path(adapter))
        adapters = None
        if adapter is not None and is_peft_folder(Path(adapter)):
            weights = Path(adapter) / PEFT_WEIGHTS
            try:
                adapters = genai.AdapterConfig(genai.Adapter(str(weights)), lora_scale(Path(adapter)))
            except RuntimeError as exc:
                raise RagtuneError(f"{adapter}: OpenVINO cannot read this adapter: {first_line(exc)}") from exc
            properties["adapters"] = adapters

        def make(lookup: bool):
            try:
                return genai.ContinuousBatchingPipeline(str(folder), scheduler, "CPU",
                                                        {**properties, **({"prompt_lookup": True} if lookup else {})})
            except RuntimeError as exc:
                raise RagtuneError(f"generator {config.name!r}: OpenVINO cannot load {folder}: {first_line(exc)}"
                                   ) from exc

        generator = cls(make, tokenizer, model_config, config, adapters)
        generator.adapter = adapter
        return generator

    # ---- decoding ------------------------------------------------------------------------
    def _generation_config(self, candidates: Candidates | None = None, lookup: bool = False):
        import openvino_genai as genai

        settings = genai.GenerationConfig()
        settings.max_new_tokens = self.config.max_new_tokens
        settings.do_sample = False
        if lookup:  # a prompt-lookup pipeline takes only requests that draft
            settings.num_assistant_tokens = self.config.prompt_lookup
            settings.max_ngram_size = self.config.prompt_lookup_ngram
        if candidates is not None:  # the n answers share the prompt's prefill
            settings.num_return_sequences = candidates.n
            if candidates.method == "beam":
                settings.num_beams = candidates.n
            else:
                settings.do_sample = True
                settings.temperature, settings.top_p = candidates.temperature, candidates.top_p
                settings.rng_seed = candidates.seed
        settings.apply_chat_template = False  # the prompt arrives templated and tokenized
        settings.stop_token_ids = self._stop_ids
        if self._adapters is not None:
            settings.adapters = self._adapters
        return settings

    def _encode(self, messages: list[Message]) -> list[int]:
        return encode_prompts(self.tokenizer, self.budget, [messages], "np")["input_ids"][0].tolist()

    def make_decoder(self) -> BatchDecoder:
        return ContinuousDecoder(self, self._make_pipeline(self.lookup), self.lookup)

    def candidates_decoder(self) -> BatchDecoder:
        """Where beams and samples decode: a prompt-lookup pipeline drafts for one greedy sequence only, so
        with lookup on they go to a plain pipeline of their own."""
        if not self.lookup:
            return self.decoder()
        with self._decoder_lock:
            if self._plain_decoder is None:
                self._plain_decoder = ContinuousDecoder(self, self._make_pipeline(False), lookup=False)
            return self._plain_decoder

    def stream(self, messages: list[Message], spans: SpanSources | None = None) -> Iterator[str]:
        if spans is not None:
            raise RagtuneError("generator.backend openvino: constrained decoding runs on torch")
        stream = self.decoder().submit(messages)
        try:
            yield from stream
        finally:
            stream.cancel()  # a caller that stops reading frees its place in the batch

    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None,
                 spans: list[SpanSources] | None = None) -> list[str]:
        if spans is not None:
            raise RagtuneError("generator.backend openvino: constrained decoding runs on torch")
        decoder = self.decoder()
        return in_batches(batch, self.config.batch_size, lambda rows: decoder.generate([batch[i] for i in rows]),
                          progress, on_batch)

    def candidates(self, batch: list[list[Message]], candidates: Candidates, progress: bool = False,
                   on_batch: Callable[[dict[int, list[str]]], None] | None = None) -> list[list[str]]:
        decoder = self.candidates_decoder()

        def answer(rows: list[int]) -> list[list[str]]:
            streams = [decoder.submit(batch[i], candidates) for i in rows]
            return [s.answers() for s in streams]

        return in_batches(batch, self.config.batch_size, answer, progress, on_batch)


class ContinuousDecoder(BatchDecoder):
    """Continuous batching: the inbox is drained into the pipeline before every step, so a prompt joins the
    running batch at the next step; each request's new tokens are read after each step."""

    def __init__(self, generator: OpenVINOGenerator, pipeline, lookup: bool):
        super().__init__(generator.tokenizer, generator._stop_ids, generator._encode)
        self.generator, self.pipeline, self.lookup = generator, pipeline, lookup
        self._live: dict[int, tuple[DecodeStream, object]] = {}
        self._next_id = 0
        self._applied = None  # the AdapterConfig the pipeline decodes with now
        self.steps = 0  # forward passes so far: with prompt lookup, fewer than the tokens decoded

    def run(self, first: DecodeStream) -> None:
        import numpy as np
        import openvino as ov

        pipeline, settings = self.pipeline, self.generator._generation_config(lookup=self.lookup)
        self._apply_adapters(pipeline)
        joining = [first]
        while joining or self._live:
            room = self.generator.config.decode_batch - len(self._live) - len(joining)
            for stream in joining + self.take_waiting(max(0, room)):
                if stream.cancelled:
                    stream.finish()
                    continue
                ids = ov.Tensor(np.asarray([stream.ids], dtype=np.int64))
                asked = settings if stream.candidates is None else self.generator._generation_config(
                    stream.candidates)
                self._live[self._next_id] = (stream, pipeline.add_request(self._next_id, ids, asked))
                self._next_id += 1
            joining = []
            self.running = len(self._live)
            self.peak = max(self.peak, self.running)
            pipeline.step()
            self.steps += 1
            for request_id, (stream, handle) in list(self._live.items()):
                if handle.can_read():
                    for sequence, output in handle.read().items():
                        stream.push(list(output.generated_ids), sequence, output.score)
                if stream.cancelled and not _finished(handle):
                    handle.cancel()
                if _finished(handle):
                    del self._live[request_id]
                    stream.finish()
        self.running = 0

    def _apply_adapters(self, pipeline) -> None:
        """GenAI's step() decodes with the adapters its last generate() call set (add_request does not set the
        request's): so whenever the generator's adapters change, a one-token generate() sets them first."""
        import numpy as np
        import openvino as ov

        wanted = self.generator._adapters
        if wanted is self._applied:
            return
        prime = self.generator._generation_config(lookup=self.lookup)
        prime.max_new_tokens = 1
        pipeline.generate([ov.Tensor(np.asarray([[min(self.stop_ids)]], dtype=np.int64))], [prime])
        self._applied = wanted

    def fail(self, error: BaseException) -> None:
        for stream, handle in self._live.values():
            handle.cancel()
            stream.finish(error)
        self._live.clear()
        self.running = 0


def _finished(handle) -> bool:
    import openvino_genai as genai

    return handle.get_status() != genai.GenerationStatus.RUNNING
