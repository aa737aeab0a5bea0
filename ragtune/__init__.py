"""ragtune: retrieval-augmented question answering you can fine-tune (read → ask → generate)."""

from ragtune.config import Config
from ragtune.errors import RagtuneError

__all__ = ["Config", "Pipeline", "RagtuneError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Pipeline pulls in torch-free but heavy modules; import it only when asked for.
    if name == "Pipeline":
        from ragtune.pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
