#!/usr/bin/env bash
# The GPU benchmarks in one go, for a lent GPU; everything goes to one log.
#
#   1. bench/gpu_train.py     genomekit vs NVlabs' StyleGAN2 training step, 256 and 64 px (img/s, ratio)
#   2. bench/gpu_collect.py   collect-stats vs bare forward passes, 256 px, 40 CelebA-HQ classifiers, bf16
#   3. bench/gpu_collect.py   the same in exact fp32, fewer samples
#   4. genomekit collect-stats at 256 px for MINUTES minutes (Ctrl-C'd by timeout): samples done, samples/s
#
# Usage (from the repository root):
#   bash bench/gpu_suite.sh                      # all steps, MINUTES=2
#   MINUTES=5 STEPS="train stats" NVLABS=/path/to/stylegan3 bash bench/gpu_suite.sh
#
# Environment:
#   NVLABS   a stylegan3 checkout (default /work/nvlabs/stylegan3); without one gpu_train.py times genomekit alone
#   STEPS    any of: train collect collect_fp32 stats (default all)
#   MINUTES  length of step 4 (default 2); LIMIT_S gives it in seconds instead
#   WORK     untrained 256-px artefacts of step 4 (~4 GB, made once) and its stats dir; default runs/gpu_suite
#   LOG      default $OUT/gpu_suite.log when $OUT is set (a lent machine's return folder), else $WORK/gpu_suite.log
#   PYTHON   default .venv/bin/python
#   TINY=1   a CPU smoke run of this script itself (tiny networks, about a minute); its figures mean nothing
# Budget on one GPU: step 1 about 2-3 minutes (plus NVlabs' one-off CUDA op build, ~1 minute with nvcc),
# steps 2 and 3 about 1-2 minutes each, step 4 MINUTES + ~1 (artefacts, loading).
set -u -o pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
NVLABS=${NVLABS:-/work/nvlabs/stylegan3}
STEPS=${STEPS:-"train collect collect_fp32 stats"}
MINUTES=${MINUTES:-2}
LIMIT_S=${LIMIT_S:-$((MINUTES * 60))}
TINY=${TINY:-0}
WORK=${WORK:-runs/gpu_suite}
SMOKE=()
STATS_SIZES=(--batch 256 --chunk-size 4096 --precision bf16)
ART=$WORK/full  # the untrained artefacts of step 4, made once
if [ "$TINY" = 1 ]; then
  ART=$WORK/tiny
  SMOKE=(--tiny --device cpu)
  STATS_SIZES=(--batch 16 --chunk-size 32 --precision bf16 --device cpu)
fi
mkdir -p "$WORK"
if [ -n "${OUT:-}" ]; then LOG=${LOG:-$OUT/gpu_suite.log}; else LOG=${LOG:-$WORK/gpu_suite.log}; fi
mkdir -p "$(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1

step() {  # step NAME COMMAND...: run it, log its wall time and exit status, go on either way
  local name=$1
  shift
  echo
  echo "=== $name: $* ($(date -u +%H:%M:%S))"
  local start=$SECONDS
  "$@"
  echo "=== $name: exit $? after $((SECONDS - start)) s"
}
wanted() { [[ " $STEPS " == *" $1 "* ]]; }

echo "=== genomekit GPU suite $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "nvidia-smi: none"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available())"
command -v nvcc >/dev/null && nvcc --version | tail -1 || echo "nvcc: none (NVlabs falls back to its reference ops)"

if wanted train; then
  if [ -f "$NVLABS/training/networks_stylegan2.py" ]; then
    step train "$PYTHON" bench/gpu_train.py "${SMOKE[@]}" --nvlabs "$NVLABS"
  else
    echo "no stylegan3 checkout at $NVLABS: genomekit alone"
    step train "$PYTHON" bench/gpu_train.py "${SMOKE[@]}"
  fi
fi
if wanted collect; then
  step collect "$PYTHON" bench/gpu_collect.py "${SMOKE[@]}" --precision bf16
fi
if wanted collect_fp32; then
  step collect_fp32 "$PYTHON" bench/gpu_collect.py --precision fp32 --samples 512 --batch 128 --chunk-size 256 --repeats 1 "${SMOKE[@]}"
fi
if wanted stats; then
  # Untrained full-size artefacts (the speed does not depend on the weights), then the real command.
  step artefacts "$PYTHON" - "$ART" "$TINY" <<'EOF'
import sys
from pathlib import Path

import torch

sys.path.insert(0, "bench")
from gpu_collect import TINY, Setting, build_models  # noqa: E402

from classifiers.celebahq import save_celebahq_directory  # noqa: E402
from genomekit.training.checkpoint import save_inference_checkpoint  # noqa: E402

work, tiny = Path(sys.argv[1]), sys.argv[2] == "1"
if not (work / "model.safetensors").exists():
    setting = Setting(**TINY) if tiny else Setting()
    device = torch.device("cuda" if torch.cuda.is_available() and not tiny else "cpu")
    models = build_models(setting, device, seed=0)
    save_celebahq_directory(models["classifiers"].cpu(), work / "celebahq")
    save_inference_checkpoint(work / "model.safetensors", models["generator"].cpu(), models["discriminator"].cpu())
print("artefacts in", work)
EOF
  rm -rf "$WORK/stats"  # a fresh run each time
  # SIGINT makes collect-stats finish the chunk in progress and stop; -k gives it 5 more minutes for that.
  step stats timeout -s INT -k 300 "$LIMIT_S" "$PYTHON" -m genomekit collect-stats \
    --model "$ART/model.safetensors" --classifiers "$ART/celebahq" --out "$WORK/stats" \
    --samples 100000000 "${STATS_SIZES[@]}" --no-progress
  "$PYTHON" - "$WORK/stats" <<'EOF'
import json
import sys
from pathlib import Path

manifest = Path(sys.argv[1]) / "manifest.json"
if not manifest.exists():
    sys.exit(f"{manifest}: none (collect-stats did not finish a chunk)")
runs = json.loads(manifest.read_text()).get("runs", [])
for run in runs:
    print(
        f"collect-stats bf16: {run['samples_generated']} samples in {run['seconds']} s = "
        f"{run['samples_per_s']} samples/s (batch {run['batch_size']}, {run['device']}, interrupted {run['interrupted']})"
    )
EOF
fi
echo "=== done; log in $LOG"
