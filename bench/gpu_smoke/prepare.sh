# Stage what bench/gpu_smoke/check.sh needs on a machine that has only the repo: the wheels the device image
# lacks (.whl/), the real Qwen tokenizer and small SQuAD/CMRC slices (.gpu/). Both folders are git-ignored via
# .git/info/exclude and travel with the device tool's `carry: [".whl", ".gpu"]`; about 40 MB together.
# usage (repo root, after `make install` and one generator load so the converted model is cached):
#   bash bench/gpu_smoke/prepare.sh
# then, on the device:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   bash .gpu/check.sh python3 $OUT
set -e
mkdir -p .git/info .gpu/qwen-tok .whl
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
PIP=".venv/bin/pip"
# the versions installed here (pinned by pyproject.toml where it pins), so the device runs what was tested
pinned() { .venv/bin/python -c 'import sys, importlib.metadata as m; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' "$@"; }
$PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .whl $(pinned annotated-types beautifulsoup4 bm25s defusedxml nltk pydantic \
  pydantic_core pypdf PyStemmer python-docx soupsieve typing-inspection)
$PIP wheel -q --no-deps -w .whl $(pinned jieba rouge_score)  # sdists only on PyPI
MODEL="${RAGTUNE_CACHE:-$HOME/.cache/ragtune}/models/qwen2.5-0.5b-instruct"
for f in tokenizer.json tokenizer_config.json chat_template.jinja generation_config.json; do cp "$MODEL/$f" .gpu/qwen-tok/; done
cp bench/gpu_smoke/build_tiny.py bench/gpu_smoke/config.yaml bench/gpu_smoke/check.sh .gpu/
.venv/bin/python - <<'PY'
import json
from bench.common import SHARED
from bench.splits import with_ids  # the paragraph ids the tuning benchmarks use
squad = with_ids(SHARED / "expmrc-squad" / "expmrc-squad-dev.json")
json.dump({"version": "smoke", "data": squad["data"][:2]}, open(".gpu/squad.json", "w"))
cmrc = json.load(open(SHARED / "cmrc2018" / "cmrc2018_dev.json"))
json.dump({"version": "smoke", "data": cmrc["data"][:15]}, open(".gpu/cmrc.json", "w"), ensure_ascii=False)
PY
du -sh .whl .gpu
