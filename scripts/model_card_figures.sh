#!/usr/bin/env bash
# The figures of genomekit/assets/models/MODEL_CARD.md, from the shipped models, with the commands a
# user runs; each step's output lands in $OUT (default runs/default/card) and a step whose output is
# there is skipped, so re-running resumes. The steps before the probes take about 17 minutes on one
# CPU core; the probes (2 x 50,000 generated and labelled images, then the fits) take longer.
#   quality        metrics fid --features classifier: FD_cls, 10,000 generated vs 10,000 training faces
#   frequencies    metrics health: every attribute's frequency, generated vs real, the largest gap
#   top genes      collect-stats (100,000 samples) + report: distinct top genes and the largest share
#   Table 4        evaluate-conditional at T = 1, 0.5, 0.3, 256 samples per cell: the paper's 10
#                  attributes with the default sampler (statistics refined under eq. 6) and with the
#                  paper's eq. 6 (--refine 0), then six more
#   Table 2        probe, 50,000 samples per model (the paper's protocol)
# RUNS (default runs/default) holds faces32.zip from scripts/train_default_models.sh; GENOME and MAPPING
# (default: the shipped default and default-mapping) name the two models, e.g. a candidate pair.
set -euo pipefail
cd "$(dirname "$0")/.."
GK=.venv/bin/genomekit
RUNS=${RUNS:-runs/default}
OUT=${OUT:-$RUNS/card}
DATA=$RUNS/faces32.zip
GENOME=${GENOME:-default}
MAPPING=${MAPPING:-default-mapping}
mkdir -p "$OUT"
[ -f "$DATA" ] || $GK data synth-faces --out "$DATA" --images 50000 --resolution 32 --seed 0
PAPER=Male,Bags_Under_Eyes,High_Cheekbones,Smiling,Big_Nose,Mouth_Slightly_Open,Young,Wearing_Lipstick,Attractive,Eyeglasses
MORE=Blond_Hair,Black_Hair,Bald,Wearing_Hat,Heavy_Makeup,Gray_Hair
step() {  # step OUTPUT COMMAND...: run COMMAND (its stdout also into OUTPUT) unless OUTPUT exists
  local output=$1
  shift
  [ -s "$output" ] && { echo "have $output"; return; }
  "$@" | tee "$output.tmp" && mv "$output.tmp" "$output"
}
step "$OUT/fd_genome.txt" $GK metrics fid --model "$GENOME" --data "$DATA" --features classifier --classifiers default \
  --samples 10000 --real-samples 10000 --no-progress
step "$OUT/health_genome.txt" $GK metrics health --model "$GENOME" --data "$DATA" --samples 10000 \
  --out "$OUT/health_genome.csv" --no-progress
step "$OUT/stats.txt" $GK collect-stats --model "$GENOME" --samples 100000 --out "$OUT/stats" --no-progress
step "$OUT/report.txt" $GK report --stats "$OUT/stats" --out "$OUT/report" --model "$GENOME" --data "$DATA" \
  --no-progress
step "$OUT/table4.txt" $GK evaluate-conditional --model "$GENOME" --stats "$OUT/stats" --out "$OUT/table4" \
  --attr "$PAPER" --temps 1,0.5,0.3 --samples 256 --no-progress
step "$OUT/table4_eq6.txt" $GK evaluate-conditional --model "$GENOME" --stats "$OUT/stats" --out "$OUT/table4_eq6" \
  --attr "$PAPER" --temps 1,0.5,0.3 --samples 256 --refine 0 --no-progress
step "$OUT/table4_more.txt" $GK evaluate-conditional --model "$GENOME" --stats "$OUT/stats" --out "$OUT/table4_more" \
  --attr "$MORE" --temps 1,0.5,0.3 --samples 256 --no-progress
step "$OUT/fd_mapping.txt" $GK metrics fid --model "$MAPPING" --data "$DATA" --features classifier --classifiers default \
  --samples 10000 --real-samples 10000 --no-progress
step "$OUT/health_mapping.txt" $GK metrics health --model "$MAPPING" --data "$DATA" --samples 10000 \
  --out "$OUT/health_mapping.csv" --no-progress
step "$OUT/probes.txt" $GK probe --genome "$GENOME" --mapping "$MAPPING" --samples 50000 --out "$OUT/probes" \
  --no-progress
