import pytest
import torch

from ragtune import hardware
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.hf import torch_dtype


@pytest.mark.parametrize("native, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_picks_bf16_only_where_the_cpu_computes_it(monkeypatch, native, dtype):
    monkeypatch.setattr(hardware, "_cpu_bf16", lambda: native)
    assert hardware.resolve_dtype("auto", "cpu") is dtype
    assert hardware.resolve_bf16(None, "cpu") is native
    assert hardware.resolve_bf16(True) is True and hardware.resolve_bf16(False) is False


def test_defaults_are_auto_and_explicit_names_win():
    config = Config()
    assert config.generator.dtype == "auto" and config.generator.device == "auto" and config.train.bf16 is None
    assert hardware.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert hardware.resolve_device("cpu") == torch.device("cpu")
    cpu32 = config.generator.model_copy(update={"device": "cpu", "dtype": "float32"})
    assert hardware.generation_precision(cpu32) == "cpu/float32"
    assert torch_dtype("float16") is torch.float16
    assert torch_dtype("auto") in (torch.bfloat16, torch.float32)
    with pytest.raises(RagtuneError, match="generator.dtype 'fp33'"):
        torch_dtype("fp33")
