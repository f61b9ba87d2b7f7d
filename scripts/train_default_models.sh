#!/usr/bin/env bash
# Reproduce the models shipped in genomekit/assets/models (see MODEL_CARD.md there): render the
# synthetic faces, train the Genome GAN and the mapping-network baseline with the same settings, and
# export both as float16 inference checkpoints. Re-running resumes both runs from their checkpoints.
# On 2 CPU cores, one thread per run, about 50 img/s each: about 1 h 50 min for 320 kimg.
# KIMG (default 320) and RUNS (default runs/default) change the length and the place; R1 (default 10,
# genomekit's default and the shipped pair's) the R1 weight: R1=0.0064 trains the first shipped pair
# (tests/fixtures/shipped_v1); MODELS (default genomekit/assets/models) where the two files go.
set -euo pipefail
cd "$(dirname "$0")/.."
GK=.venv/bin/genomekit
RUNS=${RUNS:-runs/default}
KIMG=${KIMG:-320}
mkdir -p "$RUNS"
[ -f "$RUNS/faces32.zip" ] || $GK data synth-faces --out "$RUNS/faces32.zip" --images 50000 --resolution 32 --seed 0
R1=${R1:-10}  # docs/GENOME_HEALTH.md sections 2 and 5
common=(--data "$RUNS/faces32.zip" --resolution 32 --batch 32 --kimg "$KIMG" --snap 10 --channel-base 1024 --no-noise
        --r1-gamma "$R1")
resume() { [ -f "$1/checkpoint.safetensors" ] && echo --resume || true; }
OMP_NUM_THREADS=1 $GK train --out "$RUNS/genome" --latent genome --variants 64 "${common[@]}" $(resume "$RUNS/genome") &
OMP_NUM_THREADS=1 $GK train --out "$RUNS/mapping" --latent mapping "${common[@]}" $(resume "$RUNS/mapping") &
wait
MODELS=${MODELS:-genomekit/assets/models}
$GK export "$RUNS/genome/checkpoint.safetensors" --out "$MODELS/synth_faces_genome.safetensors"
$GK export "$RUNS/mapping/checkpoint.safetensors" --out "$MODELS/synth_faces_mapping.safetensors"
