#!/bin/sh
# The arms of docs/GENOME_HEALTH.md sections 3d, 5e and 5f at 100 kimg, measured as `metrics health` does on 5,000 samples
# against the first 5,000 training faces: one health5k_ARM_sSEED.txt (FD, diversity, the count within 0.08, the top
# gene) and .csv (every attribute's frequencies) per run, then the table (summary.csv) from summarise.py.
#
#   sh docs/experiments/collapse_r1g10/mbstd32/measure.sh [RUNS] [AVG]
#
# RUNS: the collapse experiment's runs (runs/collapse10): genome-s2, genome-s3, mbstd32-s0..3, noise-s2, noise-s3,
# lr0.1-s2 and lr0.1-s3 at 100 kimg.
# AVG: section 5b's run of the shipped recipe (runs/avg/genome), whose kept 100-kimg snapshot stands for the genome
# arm's seed 0 (the arm's own seed-0 run is gone); where it is not on this machine, the recorded
# health5k_genome_s0.* are kept.
set -eu
RUNS=${1:-runs/collapse10}
AVG=${2:-runs/avg/genome}
HERE=$(dirname "$0")
measure() {  # NAME MODEL
    genomekit metrics health --model "$2" --data "$RUNS/faces32.zip" --samples 5000 --seed 0 \
        --out "$HERE/health5k_$1.csv" > "$HERE/health5k_$1.txt"
    head -n 1 "$HERE/health5k_$1.txt"
}
if [ -f "$AVG/snapshots/network-000100000.safetensors" ]; then
    measure genome_s0 "$AVG/snapshots/network-000100000.safetensors"
fi
for seed in 2 3; do
    measure "genome_s$seed" "$RUNS/genome-s$seed/checkpoint.safetensors"
done
for seed in 0 1 2 3; do
    measure "mbstd32_s$seed" "$RUNS/mbstd32-s$seed/checkpoint.safetensors"
done
for seed in 2 3; do
    measure "noise_s$seed" "$RUNS/noise-s$seed/checkpoint.safetensors"
    measure "lr0.1_s$seed" "$RUNS/lr0.1-s$seed/checkpoint.safetensors"
done
python "$HERE/summarise.py" "$HERE"
