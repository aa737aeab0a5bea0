"""A sentence-transformers folder from someone else must not name arbitrary code for its modules."""

from __future__ import annotations

import json
import shutil

import pytest

from ragtune.errors import RagtuneError
from ragtune.index.embedders.sentence_transformer import PACKAGED, check_modules, resolve_model_path


def _packaged_folder(tmp_path):
    folder = tmp_path / "adapter"
    shutil.copytree(resolve_model_path(next(iter(PACKAGED))), folder)
    return folder


def test_sentence_transformers_own_modules_are_accepted(tmp_path):
    folder = _packaged_folder(tmp_path)
    check_modules(folder)
    assert resolve_model_path(str(folder)) == str(folder)


def test_a_module_type_outside_sentence_transformers_is_refused_before_import(tmp_path):
    folder = _packaged_folder(tmp_path)
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Evil: pass\n")
    modules = json.loads((folder / "modules.json").read_text())
    modules[0]["type"] = "evil_module.Evil"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(RagtuneError, match="evil_module.Evil"):
        resolve_model_path(str(folder))
    assert not marker.exists()
