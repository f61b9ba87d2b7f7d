#!/usr/bin/env bash
# The main job on the embedded default: StyleGenes end to end on the shipped synthetic-faces model.
# Collects genome statistics, writes the report (polar plot, correlations, gene edits) and conditional
# samples, and prints where everything is. Re-running resumes. About 6 minutes on 2 CPU cores.
# Scale with environment variables: DEMO_OUT (out/demo), DEMO_SAMPLES (100000; the paper used 500000).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/genomekit demo --out "${DEMO_OUT:-out/demo}" --samples "${DEMO_SAMPLES:-100000}" --device auto
