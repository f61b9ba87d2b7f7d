#!/usr/bin/env bash
# Training from scratch in a few minutes: render synthetic faces, train a Genome GAN on them for a few
# minutes on CPU, and print where the sample grids are. Re-running continues the same run.
# Scale with environment variables: DEMO_OUT, DEMO_COUNT, DEMO_KIMG, DEMO_RESOLUTION.
# Noise inputs are off: in short CPU runs the generator leans on them and grids look speckled.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-out/train-demo}
COUNT=${DEMO_COUNT:-5000}
KIMG=${DEMO_KIMG:-12}
RES=${DEMO_RESOLUTION:-32}
GK=.venv/bin/genomekit
DATA="$OUT/synth-faces-${RES}px.zip"
[ -f "$DATA" ] || $GK data synth-faces --out "$DATA" --images "$COUNT" --resolution "$RES" --seed 1
$GK data info "$DATA" | head -n 8
RESUME=()
[ -f "$OUT/genome/checkpoint.safetensors" ] && RESUME=(--resume)
$GK train --data "$DATA" --out "$OUT/genome" --latent genome --resolution "$RES" --batch 32 \
  --kimg "$KIMG" --snap 4 --channel-base 1024 --no-noise --device auto "${RESUME[@]}"
echo
echo "Samples from fixed gene sequences at each snapshot: $OUT/genome/grids/ (reals.png is the data)"
echo "Losses and timings: $OUT/genome/metrics.jsonl; checkpoint: $OUT/genome/checkpoint.safetensors"
