"""Per-file resource limits (the `read:` config section), checked before a loader does the expensive work.

A hostile or broken file must cost seconds and become that file's one-line error, never hang `read`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ragtune.config import ReadConfig
from ragtune.errors import LoadError

MB = 1 << 20
#: zip members smaller than this are not ratio-checked: small repetitive XML parts compress very well
_RATIO_FLOOR = 1 * MB


def check_file_size(size: int, path: str | Path, limits: ReadConfig) -> None:
    if size > limits.max_file_mb * MB:
        raise LoadError(path, f"larger than {limits.max_file_mb:g} MB (read.max_file_mb)")


def check_zip(data: bytes, path: str | Path, limits: ReadConfig) -> list[zipfile.ZipInfo]:
    """The members of a zip package (DOCX), refused if they would unpack past the size or ratio limits
    (zip bombs); [] for data that is not a zip at all (the loader's own parser reports that).

    zipfile never inflates a member past the size its header declares, so the headers are enough.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return []
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_mb * MB:
        raise LoadError(path, f"unpacks to more than {limits.max_unzipped_mb:g} MB (read.max_unzipped_mb)")
    for member in members:
        if member.file_size >= _RATIO_FLOOR and member.file_size > limits.max_zip_ratio * max(member.compress_size, 1):
            raise LoadError(path, f"{member.filename} is compressed more than {limits.max_zip_ratio:g}:1 "
                                  "(read.max_zip_ratio)")
    return members


def json_too_deep(value: object, max_depth: int) -> bool:
    """Whether arrays/objects in a parsed JSON value nest deeper than `max_depth` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def depth_error(path: str | Path, max_depth: int) -> LoadError:
    return LoadError(path, f"nested deeper than {max_depth} levels (read.max_depth)")
