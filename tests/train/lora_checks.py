"""What the generator-task training tests share: the settings of their few-step LoRA runs, and the measure of
whether a saved adapter lowered its examples' loss."""

from __future__ import annotations

import warnings
from pathlib import Path

from ragtune.config import Config
from ragtune.train.checkpoint import CHECKPOINT
from ragtune.train.model import load_base, mean_loss
from ragtune.train.tokenize import encode_example, stop_token_ids

#: `train:` settings of a four-step run with one held-out evaluation at its end (small rank, no warm-up)
FEW_STEPS = {"lora_rank": 4, "lora_alpha": 8, "batch_size": 2, "grad_accum": 1, "lr": 1e-3, "warmup_ratio": 0.0,
             "max_steps": 4, "eval_every": 4, "eval_size": 2, "eval_at_start": False,
             "gradient_checkpointing": False, "eval_batch_size": 2}


def loss_without_and_with(config: Config, out: Path, examples) -> tuple[float, float]:
    """Mean loss of a task's training `examples` under the base model and under the adapter a run saved in `out`
    (its last checkpoint): (before, after)."""
    from peft import PeftModel

    tokenizer, base = load_base(config)
    stops = stop_token_ids(tokenizer, base.generation_config.eos_token_id)
    rows = [encode_example(tokenizer, e, config.train.max_length, stops) for e in examples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = PeftModel.from_pretrained(base, str(out / CHECKPOINT))
    after = mean_loss(model, rows, tokenizer.pad_token_id)
    with model.disable_adapter():
        before = mean_loss(model, rows, tokenizer.pad_token_id)
    return before, after
