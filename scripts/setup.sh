#!/usr/bin/env bash
# Create .venv and install genomekit with its test tools.
# torch: a CUDA build where an NVIDIA GPU is present, otherwise the CPU wheel (torch==2.13.0, which pip
# takes from the local wheel cache where one exists; elsewhere pass TORCH_SPEC to choose another).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    $PIP install --quiet "${TORCH_SPEC:-torch}"
  else
    $PIP install --quiet "${TORCH_SPEC:-torch==2.13.0}"
  fi
fi
$PIP install --quiet -e ".[dev]"
.venv/bin/python -c "import torch, genomekit; print(f'genomekit {genomekit.__version__} with torch {torch.__version__} (cuda: {torch.cuda.is_available()})')"
