#!/bin/sh
# One run of the collapse experiment at 320 kimg, measured with the model card's commands (those of
# scripts/model_card_figures.sh for the Genome, so the figures compare with the shipped pair's in
# docs/experiments/pair_r1g10/card/ and with section 3c's lr0.1_s0_320kimg/). docs/GENOME_HEALTH.md section 3e.
#
#   sh docs/experiments/collapse_r1g10/s1_320kimg/measure.sh RUN OUT
#
# RUN: a run folder, e.g. runs/collapse10/genome-s1 (its checkpoint.safetensors and metrics.jsonl); OUT: where the
# figures go. Every step whose output is in OUT is skipped, so re-running resumes. About 30 minutes on one core.
set -eu
RUN=$1
OUT=$2
DATA=$(dirname "$RUN")/faces32.zip
M=$RUN/checkpoint.safetensors
PAPER=Male,Bags_Under_Eyes,High_Cheekbones,Smiling,Big_Nose,Mouth_Slightly_Open,Young,Wearing_Lipstick,Attractive,Eyeglasses
mkdir -p "$OUT"
step() {  # step OUTPUT COMMAND...: run COMMAND (its stdout also into OUTPUT) unless OUTPUT exists
    output=$1
    shift
    if [ -s "$output" ]; then echo "have $output"; return; fi
    "$@" > "$output.tmp" && mv "$output.tmp" "$output"
    tail -n 3 "$output"
}
step "$OUT/train_report.txt" genomekit train-report "$RUN" --out "$OUT"
step "$OUT/fd.txt" genomekit metrics fid --model "$M" --data "$DATA" --features classifier --classifiers default \
    --samples 10000 --real-samples 10000 --no-progress
step "$OUT/health.txt" genomekit metrics health --model "$M" --data "$DATA" --samples 10000 --out "$OUT/health.csv" \
    --no-progress
step "$OUT/stats.txt" genomekit collect-stats --model "$M" --samples 100000 --out "$OUT/stats" --no-progress
step "$OUT/report.txt" genomekit report --stats "$OUT/stats" --out "$OUT/report" --model "$M" --data "$DATA" \
    --no-progress
step "$OUT/table4.txt" genomekit evaluate-conditional --model "$M" --stats "$OUT/stats" --out "$OUT/table4" \
    --attr "$PAPER" --temps 1,0.5,0.3 --samples 256 --no-progress
step "$OUT/table4_eq6.txt" genomekit evaluate-conditional --model "$M" --stats "$OUT/stats" --out "$OUT/table4_eq6" \
    --attr "$PAPER" --temps 1,0.5,0.3 --samples 256 --refine 0 --no-progress
step "$OUT/probes.txt" genomekit probe --genome "$M" --samples 50000 --out "$OUT/probes" --no-progress
