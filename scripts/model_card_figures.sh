#!/usr/bin/env bash
# The figures of genomekit/assets/models/MODEL_CARD.md, from the shipped models: Fréchet distance on
# classifier features to the training faces, statistics, conditional accuracy per temperature (Table 4's
# form) and the disentanglement probes (Table 2's form). About 25 minutes on 2 CPU cores.
# RUNS (default runs/default) holds faces32.zip from scripts/train_default_models.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
GK=.venv/bin/genomekit
RUNS=${RUNS:-runs/default}
OUT=${OUT:-$RUNS/card}
mkdir -p "$OUT"
[ -f "$RUNS/faces32.zip" ] || $GK data synth-faces --out "$RUNS/faces32.zip" --images 50000 --resolution 32 --seed 0
for m in default default-mapping; do
  $GK metrics fid --model $m --data "$RUNS/faces32.zip" --features classifier --classifiers default \
    --samples 10000 --real-samples 10000 --no-progress | tee "$OUT/fd_$m.txt"
done
$GK collect-stats --model default --samples 100000 --out "$OUT/stats" --no-progress
$GK report "$OUT/stats" --out "$OUT/report" --model default --data "$RUNS/faces32.zip"
$GK evaluate-conditional --model default --stats "$OUT/stats" --out "$OUT/eval" \
  --attr smiling --attr eyeglasses --attr blond-hair --attr male --samples 512
$GK probe --genome default --mapping default-mapping --samples 20000 --out "$OUT/probes" --no-progress
