#!/usr/bin/env bash
# Issue 13's Fashion-MNIST targets on a trained run, with genomekit's own commands:
#   class coverage: each class's share of $SAMPLES (default 30,000) samples (by the classifier set), target 5%-15% each;
#   conditional sampling: `--attr X --temp 0.5`, X found in >= 80% of 256 samples, for every class,
#   with the default sampler (conditional/) and with --gibbs (conditional_gibbs/).
# Usage: scripts/fashion_mnist_check.sh RUN_DIR CLASSIFIER_SET OUT_DIR
set -euo pipefail
run=$1 classifiers=$2 out=$3
GK=${GK:-.venv/bin/genomekit}
PY=${PY:-.venv/bin/python}
classes=Tshirt_Top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle_Boot
mkdir -p "$out"
$GK export "$run/checkpoint.safetensors" --out "$out/model.safetensors"
$GK collect-stats --model "$out/model.safetensors" --classifiers "$classifiers" --samples "${SAMPLES:-30000}" \
    --out "$out/stats" --no-progress
$PY - "$out" "$classes" <<'EOF'
import glob, sys
import pandas as pd
out, classes = sys.argv[1], sys.argv[2].split(",")
rows = pd.concat(pd.read_parquet(p, columns=classes) for p in sorted(glob.glob(f"{out}/stats/shards/*.parquet")))
table = pd.DataFrame({"share_p>0.5": (rows > 0.5).mean(), "share_argmax": rows.idxmax(axis=1).value_counts(normalize=True).reindex(classes).fillna(0)})
table.to_csv(f"{out}/class_shares.csv", float_format="%.4f")
print(f"class shares of {len(rows)} unconditional samples (target: 5%-15% each)")
print(table.to_string(float_format=lambda v: f"{v:.1%}"))
EOF
$GK evaluate-conditional --model "$out/model.safetensors" --stats "$out/stats" --attr "$classes" \
    --temps 1,0.5 --samples 256 --out "$out/conditional" --no-progress
$GK evaluate-conditional --model "$out/model.safetensors" --stats "$out/stats" --attr "$classes" \
    --temps 1,0.5 --samples 256 --gibbs --out "$out/conditional_gibbs" --no-progress
