"""Index backends by config name (`index.backend`); a URL (`--index postgresql://...`) picks its own by scheme."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends.base import IndexBackend, Location, class_for_url
from ragtune.index.backends.embedded import EmbeddedIndex
from ragtune.index.backends.postgresql import PostgresIndex
from ragtune.index.backends.snapshot import IndexStore

BACKENDS: dict[str, type[IndexBackend]] = {cls.name: cls for cls in (EmbeddedIndex, IndexStore, PostgresIndex)}


def register(cls: type[IndexBackend]) -> type[IndexBackend]:
    """Add a backend (its module calls this; a class decorator)."""
    BACKENDS[cls.name] = cls
    return cls


def as_location(value: str | Path) -> Location:
    """A URL stays a string (Path would fold its '//'); anything else is a folder."""
    text = str(value)
    return text if "://" in text else Path(value)


def backend_class(location: Location, config: Config | None = None) -> type[IndexBackend]:
    """The backend a URL's scheme names, else the config's `index.backend`."""
    by_url = class_for_url(str(location), BACKENDS, "index backend")
    if by_url is not None:
        return by_url
    name = (config or Config()).index.backend
    try:
        return BACKENDS[name]
    except KeyError:
        raise RagtuneError(f"unknown index backend {name!r}; known: {', '.join(BACKENDS)}") from None


def open_index(location: str | Path, config: Config | None = None) -> IndexBackend:
    location = as_location(location)
    return backend_class(location, config).open(location, config)


def open_or_create_index(location: str | Path, config: Config, embedder: str, dim: int) -> IndexBackend:
    """The index at `location` (bound to `embedder`, else a one-line error), or a new empty one (call under
    `write_lock`)."""
    location = as_location(location)
    cls = backend_class(location, config)
    if not cls.exists(location):
        return cls.create(location, config, embedder, dim)
    index = cls.open(location, config)
    if index.embedder != embedder:
        raise RagtuneError(f"{location}: index was built with embedder {index.embedder!r}, not {embedder!r}; "
                           "use the same embedder or a new --index folder")
    return index


def index_exists(location: str | Path, config: Config | None = None) -> bool:
    location = as_location(location)
    return backend_class(location, config).exists(location)


def index_manifest(location: str | Path, config: Config | None = None) -> dict:
    location = as_location(location)
    return backend_class(location, config).manifest(location)


def index_version(location: str | Path, config: Config | None = None) -> str | None:
    location = as_location(location)
    return backend_class(location, config).version(location)


def write_lock(location: str | Path, create: bool = True, config: Config | None = None) -> AbstractContextManager:
    location = as_location(location)
    return backend_class(location, config).write_lock(location, create)


__all__ = ["BACKENDS", "IndexBackend", "Location", "as_location", "backend_class", "index_exists", "index_manifest",
           "index_version", "open_index", "open_or_create_index", "register", "write_lock"]
