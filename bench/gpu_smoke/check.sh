# GPU smoke check: every train/eval path of the CLI on a CUDA device (device: auto), with tiny random models
# built from the real Qwen tokenizer, so no model has to travel. Staged by bench/gpu_smoke/prepare.sh.
# usage: bash .gpu/check.sh PYTHON OUTDIR   (also runs on the CPU here, as a fast end-to-end check of the CLI)
PY=${1:-python3}; O=${2:-/tmp/gpucheck}; mkdir -p "$O"
export RAGTUNE_CACHE=/tmp/rtcache PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
C=.gpu/config.yaml; I=/tmp/gpuidx; rm -rf /tmp/gpuidx /tmp/gpu-* /tmp/rtcache /tmp/tiny
rt() { echo "=== ragtune $*"; local t=$EPOCHREALTIME; "$PY" -m ragtune.cli "$@" --config $C; local rc=$?;
       echo "=== rc=$rc $(awk "BEGIN{print $EPOCHREALTIME - $t}") s"; }
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
"$PY" .gpu/build_tiny.py /tmp/tiny || exit 1
"$PY" -c "from ragtune.hardware import *; from ragtune.config import Config; print('device', resolve_device(), 'bf16', native_bf16(), generation_precision(Config().generator))"
rt read .gpu/squad.json .gpu/cmrc.json --index $I
rt eval .gpu/squad.json --index $I --limit 16 --json
rt eval .gpu/cmrc.json --index $I --limit 16 --json
rt train generator .gpu/squad.json --index $I --out /tmp/gpu-gen --max-steps 4
# --resume on the device: a 2-step run continued to 4 (its LR schedule was planned for 2 steps, so the result is
# not expected to equal a straight 4-step run; tests/train checks exact resume equality)
sed 's/eval_size: 8/eval_size: 0/' $C > /tmp/gpu-noeval.yaml
C=/tmp/gpu-noeval.yaml rt train generator .gpu/squad.json --index $I --out /tmp/gpu-gen2 --max-steps 2
C=/tmp/gpu-noeval.yaml rt train generator .gpu/squad.json --index $I --out /tmp/gpu-gen2 --max-steps 4 --resume
"$PY" - <<'PY'
import json; a=json.load(open('/tmp/gpu-gen/ragtune.json')); b=json.load(open('/tmp/gpu-gen2/ragtune.json'))
print('gen meta', {k: a.get(k) for k in ('step','best','mean_step_seconds')})
print('resume', {k: b.get(k) for k in ('step','best')})
import safetensors.torch as st
x = st.load_file('/tmp/gpu-gen2/adapter_model.safetensors')
print('resumed adapter trained (max |lora_B|):', max(v.abs().max().item() for k, v in x.items() if 'lora_B' in k))
PY
rt ask "Who won Super Bowl 50?" --index $I --adapter /tmp/gpu-gen --json
rt train retriever .gpu/squad.json --index $I --out /tmp/gpu-ret
rt train joint .gpu/squad.json --index $I --out /tmp/gpu-joint --max-steps 3
rt train joint .gpu/squad.json --index $I --out /tmp/gpu-jointt --max-steps 2 --mode token
rt eval .gpu/squad.json --index $I --adapter /tmp/gpu-joint --limit 8 --json
rt eval .gpu/squad.json --index $I --adapter /tmp/gpu-gen --adapter /tmp/gpu-ret --limit 8 --json --retrieval-only
rt synth --index $I --out /tmp/gpu-synth.jsonl --n 4
rt export --adapter /tmp/gpu-gen --out /tmp/gpu-merged
ls /tmp/gpu-merged; cp /tmp/gpu-*/ragtune.json "$O/" 2>/dev/null; "$PY" -c "import torch; print('max cuda mem MB', torch.cuda.max_memory_allocated()/1e6 if torch.cuda.is_available() else 0)"
echo DONE
