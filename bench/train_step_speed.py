"""One LoRA optimizer step: ragtune's training loop vs a plain Hugging Face `Trainer` + peft, same batch, one run.

Usage: python -m bench.train_step_speed [--steps 3] [--questions 40]

Both get the same 8 real RAFT sequences per step (CMRC 2018 training questions over their own index, the
settings of bench/generator_tuning.yaml: micro-batches of 4, gradient accumulation 2, bf16 autocast where the
CPU has it), a fresh float32 base + the same LoRA, and AdamW. The first step of each is warm-up and not
counted. ragtune's step is cheaper mainly because it computes logits only where an answer token is
predicted, while the stock causal-LM loss materialises float32 logits over the 151k-token vocabulary for every position.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zipfile
from pathlib import Path

import torch

from ragtune.config import Config
from ragtune.hardware import resolve_bf16
from ragtune.pipeline import Pipeline
from ragtune.read.questions import Question
from ragtune.train.batches import collate, target_tokens
from ragtune.train.checkpoint import seed_everything
from ragtune.train.generator import prepare_examples
from ragtune.train.model import add_lora, autocast, load_base, loss_sum
from ragtune.train.tokenize import encode_example, stop_token_ids

from .common import ROOT, SHARED, record
from .stages import CONFIG


def batch_rows(config: Config, questions: int):
    """8 encoded RAFT sequences from the first CMRC training articles, indexed in a temp folder."""
    with zipfile.ZipFile(SHARED / "cmrc2018" / "train-pseudo-cmrc2018.zip") as zf:
        data = json.loads(zf.read("train-pseudo-cmrc2018.json"))
    data["data"] = data["data"][:20]
    (ROOT / ".ragtune").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="step-speed-", dir=ROOT / ".ragtune"))
    source = folder / "train.json"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    pipeline = Pipeline(folder / "index", config, progress=False)
    pipeline.read([source])
    squad = [Question(qa["id"], qa["question"], tuple(a["text"] for a in qa["answers"]), {para["id"]: 1})
             for article in data["data"] for para in article["paragraphs"] for qa in para["qas"]][:questions]
    train, _ = prepare_examples(pipeline, squad)
    tokenizer, base = load_base(config)
    stops = stop_token_ids(tokenizer, base.generation_config.eos_token_id)
    size = config.train.batch_size * config.train.grad_accum
    rows = [encode_example(tokenizer, e, config.train.max_length, stops) for e in train[:size]]
    return tokenizer, rows


def ragtune_steps(config: Config, tokenizer, rows, steps: int) -> list[float]:
    """The body of ragtune's generator training step, on the same rows every step."""
    seed_everything(0)
    _, base = load_base(config)
    return lora_steps(add_lora(base, config.train), tokenizer, rows, config.train, steps)[0]


def lora_steps(model, tokenizer, rows, tc, steps: int, cpu: list[float] | None = None
               ) -> tuple[list[float], list[float]]:
    """`steps` + 1 AdamW steps of `model`'s LoRA on `rows` (micro-batches, accumulation, clipping as the trainer
    does); (seconds of each step after the first, per-token loss of every step). `cpu` receives each timed step's
    process CPU seconds (all threads), which time stolen by a hypervisor does not inflate as it does wall time."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tc.lr)
    micro = [rows[i : i + tc.batch_size] for i in range(0, len(rows), tc.batch_size)]
    tokens = sum(target_tokens(r) for r in rows)
    times, losses = [], []
    for _ in range(steps + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        total = 0.0
        for chunk in micro:
            with autocast(model, tc.bf16):
                loss = loss_sum(model, *collate(chunk, tokenizer.pad_token_id))
            (loss / tokens).backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(params, tc.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        if cpu is not None and len(times) > 1:
            cpu.append(time.process_time() - start_cpu)
        losses.append(round(total / tokens, 4))
    return times[1:], losses


def trainer_steps(config: Config, tokenizer, rows, steps: int) -> list[float]:
    """transformers.Trainer + peft with the same model, LoRA, batch layout and precision (train.bf16 resolved)."""
    from torch.utils.data import SequentialSampler
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    tc = config.train
    seed_everything(0)
    _, base = load_base(config)
    model = add_lora(base, tc)
    dataset = [{"input_ids": r.input_ids, "attention_mask": [1] * len(r), "labels": r.labels}
               for _ in range(steps + 1) for r in rows]
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.start)

    class InOrder(Trainer):  # the same micro-batches as ragtune's loop, not a shuffled sample
        def _get_train_sampler(self, *args, **kwargs):
            return SequentialSampler(self.train_dataset)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(out, per_device_train_batch_size=tc.batch_size,
                                 gradient_accumulation_steps=tc.grad_accum, max_steps=steps + 1,
                                 learning_rate=tc.lr, max_grad_norm=tc.max_grad_norm, bf16=resolve_bf16(tc.bf16),
                                 use_cpu=True,
                                 save_strategy="no", report_to=[], logging_steps=10_000,
                                 dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True)
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        InOrder(model=model, args=args, train_dataset=dataset, data_collator=collator,
                callbacks=[Clock()]).train()
    # on_step_begin fires once per micro-batch in some versions: keep one time per optimizer step
    return times[-steps:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--questions", type=int, default=40)
    args = parser.parse_args()
    config = Config.load(CONFIG)
    tokenizer, rows = batch_rows(config, args.questions)
    ours = ragtune_steps(config, tokenizer, rows, args.steps)
    theirs = trainer_steps(config, tokenizer, rows, args.steps)
    mean_ours, mean_theirs = sum(ours) / len(ours), sum(theirs) / len(theirs)
    record("training step: ragtune loop vs HF Trainer + peft",
           {"bench": "train_step_speed", "sequences": len(rows), "tokens_per_step": sum(len(r) for r in rows),
            "ragtune_step_s": round(mean_ours, 2), "trainer_step_s": round(mean_theirs, 2),
            "ratio": round(mean_ours / mean_theirs, 3), "ragtune_steps": [round(t, 2) for t in ours],
            "trainer_steps": [round(t, 2) for t in theirs], "bf16": resolve_bf16(config.train.bf16)},
           notes="same 8 sequences each step, micro-batch 4 x accumulation 2, bf16 autocast where native "
           "(the `bf16` field), fresh LoRA each; first step of each excluded; goal ratio <= 0.7.")


if __name__ == "__main__":
    main()
