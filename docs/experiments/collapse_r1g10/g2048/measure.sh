#!/bin/sh
# The g2048 arm of docs/GENOME_HEALTH.md section 5g at 100 kimg against the shipped recipe, measured as `metrics health`
# does on 5,000 samples against the first 5,000 training faces (as ../mbstd32/measure.sh): one health5k_ARM_sSEED.txt
# and .csv per run, then the table (summary.csv) and curves_g2048.png from ../mbstd32/summarise.py.
#
#   sh docs/experiments/collapse_r1g10/g2048/measure.sh [RUNS] [GENOME_S1]
#
# RUNS: the collapse experiment's runs (runs/collapse10) with g2048-s0 and g2048-s1 at 100 kimg. GENOME_S1: the
# genome arm's seed 1 at 100 kimg (the checkpoint of section 3e's 320-kimg run as it stood at 100 kimg,
# runs/genome-s1-100kimg.safetensors); skipped where absent. The genome arm's seeds 0, 2 and 3 are copies of
# ../mbstd32/'s files (seed 0 there is section 5b's rerun of the shipped command).
set -eu
RUNS=${1:-runs/collapse10}
GENOME_S1=${2:-runs/genome-s1-100kimg.safetensors}
HERE=$(dirname "$0")
measure() {  # NAME MODEL
    genomekit metrics health --model "$2" --data "$RUNS/faces32.zip" --samples 5000 --seed 0 \
        --out "$HERE/health5k_$1.csv" > "$HERE/health5k_$1.txt"
    head -n 1 "$HERE/health5k_$1.txt"
}
for seed in 0 1; do
    measure "g2048_s$seed" "$RUNS/g2048-s$seed/checkpoint.safetensors"
done
if [ -f "$GENOME_S1" ]; then
    measure genome_s1 "$GENOME_S1"
fi
python "$HERE/../mbstd32/summarise.py" "$HERE"
