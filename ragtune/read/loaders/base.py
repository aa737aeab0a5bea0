"""Base class for file loaders: one file in, a list of Documents out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from ragtune.config import ReadConfig
from ragtune.read.document import Document


class Loader(ABC):
    """Turns one file into Documents, within the `read:` limits it is given.

    `doc_id` is the id the file's document should carry when the format has no ids of
    its own (plain files); formats with their own ids (SQuAD, BEIR, jsonl) keep those.
    Raise `ragtune.errors.LoadError(path, problem)` for anything the user must fix;
    `ingest.load_source` turns any other exception into one too.
    """

    #: lower-case file suffixes this loader handles, e.g. (".txt",)
    extensions: tuple[str, ...] = ()

    def __init__(self, limits: ReadConfig | None = None):
        self.limits = limits or ReadConfig()

    @abstractmethod
    def load(self, path: Path, doc_id: str) -> list[Document]:
        """Read `path` and return its documents (may be empty only if the file is)."""
