"""The generator being trained: float32 base + LoRA, the answer-only loss, and its held-out EM/F1."""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator

import torch

from ragtune.config import Config, JointTrainConfig, ReaderTrainConfig, TrainConfig
from ragtune.errors import RagtuneError
from ragtune.eval.answer_metrics import em_f1, metric_language
from ragtune.generate import Generator, backend_class, resolve_backend
from ragtune.generate.citations import strip_citations
from ragtune.generate.hf import HFGenerator, load_causal_lm
from ragtune.hardware import resolve_bf16, resolve_device
from ragtune.pipeline import idk_answer
from ragtune.train.batches import collate, round_up, target_tokens
from ragtune.train.examples import EvalExample
from ragtune.train.loop import start_run
from ragtune.train.tokenize import IGNORE, Encoded, stop_token_ids


def load_base(config: Config, dtype: torch.dtype = torch.float32):
    """(tokenizer, model on generator.device) of the configured generator, its weights in `dtype`."""
    tokenizer, model = load_causal_lm(config.generator.name, config.resolved_cache_dir, dtype)
    return tokenizer, model.to(resolve_device(config.generator.device))


def frozen_dtype(name: str, bf16: bool | None, device) -> torch.dtype:
    """The dtype of the frozen base weights (`train.frozen_dtype`): bfloat16 under bf16 autocast for `auto`."""
    if name == "auto":
        return torch.bfloat16 if resolve_bf16(bf16, device) else torch.float32
    return getattr(torch, name)


def training_base(config: Config, seed: int, memory: TrainConfig | JointTrainConfig | None = None
                  ) -> tuple[object, object, set[int]]:
    """The preamble of every run that tunes the generator: threads, seeds, the frozen base in the dtype and with
    the gradient checkpointing of `memory` (a train section; None: float32, none), right padding (training
    batches are right-padded), and the token ids an answer ends with. LoRA weights train in float32."""
    start_run(seed, config.generator.threads)
    device = resolve_device(config.generator.device)
    bf16 = getattr(memory, "bf16", config.train.bf16)  # joint training autocasts as `train:` says
    dtype = frozen_dtype(memory.frozen_dtype, bf16, device) if memory else torch.float32
    tokenizer, base = load_base(config, dtype)
    if memory is not None and memory.gradient_checkpointing:
        base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    tokenizer.padding_side = "right"
    eos = getattr(getattr(base, "generation_config", None), "eos_token_id", None)
    return tokenizer, base, stop_token_ids(tokenizer, eos)


def add_lora(model, tc: TrainConfig | ReaderTrainConfig, section: str = "train", task_type: str | None = "CAUSAL_LM",
             layers: list[int] | None = None):
    """`model` wrapped with a fresh LoRA shaped by a config section (rank, alpha, dropout, target modules), in
    every layer or only in `layers`; a bad target module is a one-line error naming `section`."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=tc.lora_rank, lora_alpha=tc.lora_alpha, lora_dropout=tc.lora_dropout,
                      target_modules=list(tc.target_modules), task_type=task_type, layers_to_transform=layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return get_peft_model(model, lora)
        except ValueError as exc:
            raise RagtuneError(f"{section}.target_modules: {str(exc).splitlines()[0]}") from exc


def autocast(model, bf16: bool | None):
    """bf16 autocast on the model's device: as configured, or (None) where that device computes bf16 natively."""
    return torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=resolve_bf16(bf16, model.device))


def predicting_positions(targets: torch.Tensor, multiple: int = 1) -> torch.Tensor:
    """The positions whose next token is labelled in some row, in order; with `multiple` > 1, unlabelled ones are
    added to make their count a multiple of it (they add nothing to the loss, but keep the head's input shapes
    few: see collate)."""
    wanted = (targets != IGNORE).any(0)
    count = int(wanted.sum())
    extra = min(round_up(count, multiple), wanted.numel()) - count
    if extra > 0:
        wanted[(~wanted).nonzero().squeeze(1)[:extra]] = True
    return wanted.nonzero().squeeze(1)


def loss_sum(model, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, multiple: int = 1
             ) -> torch.Tensor:
    """Summed cross-entropy of the labelled tokens; logits only at the positions that predict one."""
    ids, mask, labels = (t.to(model.device) for t in (ids, mask, labels))
    targets = labels[:, 1:]
    positions = predicting_positions(targets, multiple)
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=positions, use_cache=False).logits
    return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets[:, positions].flatten(),
                                             ignore_index=IGNORE, reduction="sum")


def label_logprobs(model, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """log p of each row's labelled tokens, in order and left-aligned: ((rows, T) log-probs, (rows, T) mask).

    What the RAG losses need per passage; as in loss_sum, logits only at the positions that predict a label.
    """
    ids, mask, labels = (t.to(model.device) for t in (ids, mask, labels))
    targets = labels[:, 1:]
    positions = predicting_positions(targets)
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=positions, use_cache=False).logits
    picked = targets[:, positions]
    keep = picked != IGNORE
    logp = logits.float().log_softmax(-1).gather(-1, picked.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices  # labelled positions first
    width = int(keep.sum(1).max())
    kept = keep.gather(1, order)[:, :width]
    return logp.gather(1, order)[:, :width] * kept, kept.float()


def mean_loss(model, rows: list[Encoded], pad_id: int, batch_size: int = 4, bf16: bool | None = None) -> float:
    """Per-token loss of `rows` in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    try:
        with torch.no_grad(), autocast(model, bf16):
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                total += loss_sum(model, *collate(chunk, pad_id)).item()
                tokens += sum(target_tokens(r) for r in chunk)
    finally:
        model.train(was_training)
    return total / max(tokens, 1)


@contextlib.contextmanager
def held_out_generator(model, tokenizer, config: Config) -> Iterator[Generator]:
    """The model being trained as a generator for its held-out questions, with `train.eval_batch_size` and
    `train.eval_max_new_tokens`: on the backend `ask` would use (the LoRA as it is now saved to a temporary
    folder and applied there), else the torch model itself in eval mode (no dropout) under the training steps'
    bf16 autocast. Either way no training randomness is consumed."""
    tc = config.train
    settings = config.generator.model_copy(update={"batch_size": tc.eval_batch_size,
                                                   "max_new_tokens": tc.eval_max_new_tokens})
    with tempfile.TemporaryDirectory(prefix="ragtune-heldout-") as folder:
        adapter = None
        if hasattr(model, "peft_config"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.save_pretrained(folder)
            adapter = folder
        backend = resolve_backend(config.model_copy(update={"generator": settings}), adapter)
        if not backend_class(backend).holds_torch_model:
            yield backend_class(backend).load(settings, config.resolved_cache_dir, adapter=adapter)
            return
    was_training = model.training
    model.eval()
    try:
        yield HFGenerator(model, tokenizer, settings, bf16=resolve_bf16(tc.bf16, model.device))
    finally:
        model.train(was_training)


def score(model, tokenizer, examples: list[EvalExample], config: Config) -> dict[str, float]:
    """EM/F1 (0–100) of the model's answers to ask's prompts, scored like `ragtune eval` (eval.metric_language);
    questions without relevant passages get IDK."""
    prompted = [e for e in examples if e.messages is not None]
    raws: list[str] = []
    if prompted:
        with held_out_generator(model, tokenizer, config) as generator:
            raws = generator.generate([e.messages for e in prompted])
    answers = dict(zip((id(e) for e in prompted), raws))
    em_sum = f1_sum = 0.0
    for example in examples:
        prediction = strip_citations(answers.get(id(example), idk_answer(example.question)))
        language = metric_language(example.question, example.answers, config.eval.metric_language)
        em, f1 = em_f1(prediction, example.answers, language)
        em_sum += em
        f1_sum += f1
    n = max(len(examples), 1)
    return {"em": round(100 * em_sum / n, 2), "f1": round(100 * f1_sum / n, 2)}
