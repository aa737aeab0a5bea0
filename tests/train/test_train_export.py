"""Export: the adapter merged into a plain transformers folder that loads without peft."""

from __future__ import annotations

import json

import pytest
import torch

from ragtune.errors import RagtuneError
from ragtune.train.export import export_merged


def test_export_writes_a_model_folder_transformers_loads(trained, train_config, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, adapter = trained
    out = export_merged(adapter, tmp_path / "merged", train_config)
    assert (out / "config.json").is_file() and not (out / "adapter_config.json").exists()
    assert not list(tmp_path.glob(".merged*"))  # the temporary folder is gone
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer("Kublai Khan's grandfather was", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert torch.isfinite(logits.float()).all()
    assert "lora" not in json.dumps(list(model.state_dict())[:50])


def test_export_refuses_what_is_not_an_adapter_or_a_model_folder(trained, train_config, tmp_path):
    _, adapter = trained
    with pytest.raises(RagtuneError, match="not a PEFT adapter"):
        export_merged(tmp_path, tmp_path / "x", train_config)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(RagtuneError, match="not a model folder"):
        export_merged(adapter, tmp_path / "notes", train_config)
