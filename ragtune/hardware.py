"""Where the generator runs and in which precision: `auto` resolves both for the machine at hand.

- device `auto`: the first CUDA GPU torch sees, else the CPU.
- precision `auto`: bfloat16 where the hardware computes it natively (a CUDA GPU with bf16, or a CPU with
  AVX512-BF16/AMX), else float32. On CPUs without those (AVX2-only Intel, AMD Zen 3 and older) torch has no fast
  bf16 kernels: generation was 4.8x and a LoRA step over 11x *slower* than in float32 (BENCHMARKS.md, "precision").
"""

from __future__ import annotations

from functools import cache


def resolve_device(name: str = "auto"):
    """`auto` → cuda when available, else cpu; any other name is a torch device string (`cpu`, `cuda:1`)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@cache
def _cpu_bf16() -> bool:
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch's own CPU capability checks
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def native_bf16(device=None) -> bool:
    """True when `device` (default: the auto device) computes bfloat16 in hardware."""
    import torch

    device = resolve_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_bf16()


def resolve_dtype(name: str, device=None):
    """`auto` → bfloat16 where native, else float32; another name → that torch dtype (None if it is not one)."""
    import torch

    if name == "auto":
        return torch.bfloat16 if native_bf16(device) else torch.float32
    dtype = getattr(torch, name, None)
    return dtype if isinstance(dtype, torch.dtype) else None


def resolve_bf16(flag: bool | None, device=None) -> bool:
    """bf16 autocast for training: as configured, or (None) only where `device` computes bf16 natively."""
    return native_bf16(device) if flag is None else flag


def generation_precision(generator) -> str:
    """`cpu/float32`-style name of where and how a GeneratorConfig generates: part of the generation cache's key."""
    device = resolve_device(generator.device)
    return f"{device.type}/{str(resolve_dtype(generator.dtype, device)).removeprefix('torch.')}"
