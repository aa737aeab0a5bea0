"""The real data files tests read, and a way to cut them small: importable by test modules (a conftest is not)."""

from __future__ import annotations

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.json"
SQUAD_DEV = SHARED / "expmrc-squad" / "expmrc-squad-dev.json"
DEMO_DATA = Path(__file__).resolve().parents[1] / "ragtune" / "demo" / "data"


def squad_slice(source: Path, target: Path, articles: int) -> Path:
    """The first `articles` articles of a SQuAD-format file, as a new file (ids unchanged)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = data["data"][:articles]
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return target
