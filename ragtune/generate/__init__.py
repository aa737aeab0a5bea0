"""Generator factory: `generator.backend` names the backend; `auto` takes the first in BACKENDS that serves the
configuration (the model, the adapter, the answer mode), so the fast one where it can and torch everywhere."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.base import Generator, Message

#: backend name -> its Generator class ("module:Class", imported on use); fastest first (BENCHMARKS.md,
#: "Generation backends"): torch serves every configuration, so `auto` always finds one
BACKENDS = {
    "openvino": "ragtune.generate.openvino:OpenVINOGenerator",
    "torch": "ragtune.generate.hf:HFGenerator",
}


def backend_class(name: str) -> type[Generator]:
    module, cls = BACKENDS[name].split(":")
    return getattr(import_module(module), cls)


def resolve_backend(config: Config, adapter: str | Path | None = None) -> str:
    """The backend that will generate: the configured one (a one-line error when it cannot serve this
    configuration), or for `auto` the first in BACKENDS that can. Nothing is loaded."""
    name = config.generator.backend
    if name != "auto":
        problem = backend_class(name).unsupported(config.generator, adapter)
        if problem is not None:
            raise RagtuneError(f"generator.backend {name}: {problem}")
        return name
    return next(b for b in BACKENDS if backend_class(b).unsupported(config.generator, adapter) is None)


def create_generator(config: Config, adapter: str | Path | None = None) -> Generator:
    """The generator of `config` on its resolved backend, with a LoRA `adapter`."""
    cls = backend_class(resolve_backend(config, adapter))
    return cls.load(config.generator, config.resolved_cache_dir, adapter=adapter)


__all__ = ["BACKENDS", "Generator", "Message", "backend_class", "create_generator", "resolve_backend"]
