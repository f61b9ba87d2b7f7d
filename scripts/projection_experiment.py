"""Issue 16's measurement: real (held-out) faces projected into the shipped genome and inserted into it.

1. Render ``--images`` synthetic faces from a seed the shipped model never saw (training used seed 0).
2. Project them into W+ (``genomekit.projection``, the classifier perceptual distance), read off the
   nearest-variant sequences under L1, L2 and cosine distance.
3. Insert them at their ``--metric`` sequences (``genomekit.insertion``: PTI with codebook perseverance).
4. Measure the drift of ``--others`` random gene sequences that were not tuned on: pixel RMS (on
   [-1, 1]) and the mean absolute change of the classifier probabilities, overall and per attribute.

Writes ``--out``: per_image.csv, drift.csv (per attribute), summary.json, and the figures
fig3_insertion.png (target | W+ projection | nearest variants | after search | after insertion),
fig11_nearest.png (target | W+ | L1 | L2 | cosine) and drift_samples.png (random samples before /
after). ``--projection DIR`` reuses a `genomekit project` directory of the same faces (its first ``--images``),
as made by ``genomekit project --model default --image FACES --out DIR`` on the faces this script
writes to ``--out``/faces.

    python scripts/projection_experiment.py --out docs/experiments/projection
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from analysis.projection import project_and_match, read_projection
from classifiers import load_classifier_set
from genomekit.data.synth_faces import render_face
from genomekit.data.synth_faces.sampling import image_seed
from genomekit.images import save_grid
from genomekit.inference import render, score
from genomekit.insertion import InsertionConfig, insert
from genomekit.perceptual import ClassifierDistance
from genomekit.projection import ProjectionConfig, fidelity, render_sequences, search_sequences
from genomekit.training import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--face-seed", type=int, default=20261201)
    parser.add_argument("--projection", type=Path, help="a `genomekit project` directory of the same faces")
    parser.add_argument("--project-steps", type=int, default=1000)
    parser.add_argument("--metric", default="l2")
    parser.add_argument("--search-sweeps", type=int, default=2, help="image-space search from the nearest variants")
    parser.add_argument("--search-cache", type=Path, help="keep the searched sequences here (read if it exists)")
    parser.add_argument("--steps", type=int, default=InsertionConfig.steps)
    parser.add_argument("--learning-rate", type=float, default=InsertionConfig.learning_rate)
    parser.add_argument("--perseverance-weight", type=float, default=InsertionConfig.perseverance_weight)
    parser.add_argument("--perseverance-batch", type=int, default=InsertionConfig.perseverance_batch)
    parser.add_argument("--pixel-weight", type=float, default=InsertionConfig.pixel_weight)
    parser.add_argument("--fit-fraction", type=float, default=InsertionConfig.fit_fraction)
    parser.add_argument("--fit-scale", type=float, default=InsertionConfig.fit_perseverance_scale)
    parser.add_argument("--no-genome", action="store_true", help="tune the synthesis network only")
    parser.add_argument("--others", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    model = load_checkpoint("default")
    G = model.generator()
    classifiers = load_classifier_set("default", resolution=G.img_resolution)
    distance = ClassifierDistance(load_classifier_set("default", resolution=G.img_resolution))
    started = time.time()

    # 1-2. faces and their projections
    names = [f"face{i:02d}.png" for i in range(args.images)]
    if args.projection is not None:
        targets, sequences, names = read_projection(args.projection, model, args.metric)
        targets, sequences = targets[: args.images], sequences[: args.images]
        table = pd.read_csv(args.projection / "results.csv").head(args.images)
        from safetensors.torch import load_file

        ws = load_file(str(args.projection / "projection.safetensors"))["ws"][: args.images]
    else:
        faces = np.stack([render_face(image_seed(args.face_seed, i), G.img_resolution)[0] for i in range(args.images)])
        folder = args.out / "faces"
        folder.mkdir(exist_ok=True)
        for name, face in zip(names, faces, strict=True):
            Image.fromarray(face).save(folder / name)
        paths = [folder / n for n in names]
        targets = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 127.5 - 1
        projected = project_and_match(
            model, paths, targets, ProjectionConfig(steps=args.project_steps), distance, seed=args.seed
        )
        table = projected.table
        sequences = projected.tensors[f"sequences_{args.metric}"]
        ws = projected.tensors["ws"]
        grid = torch.stack(list(projected.images.values()), dim=1).flatten(0, 1)
        save_grid(grid, args.out / "fig11_nearest.png", columns=len(projected.images), padding=2)
    projection_seconds = time.time() - started

    # 3. a better start by image-space search, then insertion
    nearest = sequences
    started = time.time()
    if args.search_cache is not None and args.search_cache.exists():
        sequences = torch.load(args.search_cache)[: len(targets)]
    elif args.search_sweeps > 0:
        sequences = search_sequences(G, targets, nearest, distance, sweeps=args.search_sweeps)
        if args.search_cache is not None:
            torch.save(sequences, args.search_cache)
    search_seconds = time.time() - started
    config = InsertionConfig(
        steps=args.steps,
        learning_rate=args.learning_rate,
        perseverance_weight=args.perseverance_weight,
        perseverance_batch=args.perseverance_batch,
        pixel_weight=args.pixel_weight,
        fit_fraction=args.fit_fraction,
        fit_perseverance_scale=args.fit_scale,
        tune_genome=not args.no_genome,
    )
    started = time.time()
    result = insert(G, sequences, targets, config, distance, torch.Generator().manual_seed(args.seed + 1))
    insertion_seconds = time.time() - started
    before, after = fidelity(result.before, targets), fidelity(result.after, targets)
    table[f"psnr_nearest_{args.metric}"] = fidelity(render_sequences(G, nearest), targets)["psnr"].numpy()
    table["psnr_before"], table["psnr_after"] = before["psnr"].numpy(), after["psnr"].numpy()
    table["ssim_before"], table["ssim_after"] = before["ssim"].numpy(), after["ssim"].numpy()
    table["gap_db"] = table["psnr"] - table["psnr_after"]

    # 4. drift of random others
    others = G.sample_codes(args.others, torch.Generator().manual_seed(99))
    old, new = render(G, others), render(result.G, others)
    p_old, _ = score(classifiers, old)
    p_new, _ = score(classifiers, new)
    change = (p_new - p_old).abs()  # (others, A)
    drift = pd.DataFrame(
        {"attribute": classifiers.attribute_names, "mean_abs_change": change.mean(0).numpy(),
         "frequency_before": (p_old > 0.5).float().mean(0).numpy(),
         "frequency_after": (p_new > 0.5).float().mean(0).numpy()}
    )  # fmt: skip
    summary = {
        "images": len(targets),
        "projection": {"steps": args.project_steps, "mean_psnr": float(table["psnr"].mean()),
                       "mean_ssim": float(table["ssim"].mean()), "seconds": round(projection_seconds)},
        "nearest_mean_psnr": {m: float(table[f"psnr_{m}"].mean()) for m in ("l1", "l2", "cosine") if f"psnr_{m}" in table},
        "search": {"sweeps": args.search_sweeps, "seconds": round(search_seconds)},
        "insertion": {**vars(config), "total_steps": config.total_steps(len(targets)), "metric": args.metric,
                      "seconds": round(insertion_seconds),
                      "mean_psnr_before": float(table["psnr_before"].mean()),
                      "mean_psnr_after": float(table["psnr_after"].mean()),
                      "images_within_2db": int((table["gap_db"] <= 2).sum()),
                      "max_gap_db": float(table["gap_db"].max())},
        "drift": {"others": args.others, "pixel_rms": float((new - old).square().mean().sqrt()),
                  "mean_abs_probability_change": float(change.mean()),
                  "largest_attribute_change": float(change.mean(0).max()),
                  "largest_attribute": classifiers.attribute_names[int(change.mean(0).argmax())]},
    }  # fmt: skip
    table.to_csv(args.out / "per_image.csv", index=False, float_format="%.4f")
    drift.to_csv(args.out / "drift.csv", index=False, float_format="%.4f")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    columns = [targets]
    if ws is not None:
        with torch.no_grad():
            columns.append(G.synthesis(ws, noise_mode="const").float())
    columns += [render_sequences(G, nearest), result.before, result.after]
    save_grid(
        torch.stack(columns, dim=1).flatten(0, 1), args.out / "fig3_insertion.png", columns=len(columns), padding=2
    )
    save_grid(torch.cat([old[:8], new[:8]]), args.out / "drift_samples.png", columns=8, padding=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
