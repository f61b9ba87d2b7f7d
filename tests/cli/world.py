"""A small real world for command-line tests: the shipped models, statistics collected from them,
damaged copies, another model of the same genome, a tiny training run and odd datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from genomekit.cli import app
from tests.conftest import make_image_folder


def invoke(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def run_ok(*args) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output


def build_world(root: Path) -> dict[str, Path]:
    """Every artefact the bad-input table refers to, under ``root`` (about 30 s on 2 CPU cores)."""
    from genomekit.training.checkpoint import resolve_model

    world: dict[str, Path] = {}
    stats = root / "stats"
    run_ok("collect-stats", "--model", "default", "--out", stats, "--samples", 512, "--chunk-size", 256,
           "--batch", 128, "--device", "cpu", "--no-progress")  # fmt: skip
    world["stats"] = stats
    shard = sorted((stats / "shards").iterdir())[0]
    for kind in ("corrupt", "truncated", "missing"):
        copy = root / f"stats_{kind}"
        shutil.copytree(stats, copy)
        target = copy / "shards" / shard.name
        data = bytearray(target.read_bytes())
        if kind == "corrupt":
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))
        elif kind == "truncated":
            target.write_bytes(bytes(data[: len(data) // 2]))
        else:
            target.unlink()
        world[f"stats_{kind}"] = copy
    other = root / "pruned.safetensors"
    run_ok("prune", "--model", "default", "--stats", stats, "--replace", 1, "--out", other, "--device", "cpu",
           "--no-progress")  # fmt: skip
    world["other_model"] = other
    truncated = root / "truncated.safetensors"
    truncated.write_bytes(resolve_model("default").read_bytes()[:4096])
    world["truncated_ckpt"] = truncated

    world["data16"] = make_image_folder(root / "data16", count=8, resolution=16)
    world["data64"] = make_image_folder(root / "data64", count=4, resolution=64)
    world["data48"] = make_image_folder(root / "data48", count=4, resolution=48)
    mixed = make_image_folder(root / "mixed", count=4, resolution=16)
    Image.new("RGB", (32, 32)).save(mixed / "zz_big.png")
    world["mixed"] = mixed
    broken = make_image_folder(root / "broken", count=4, resolution=16)
    (broken / "00001.png").write_bytes(b"\x89PNG not really")
    world["broken"] = broken
    run = root / "run"
    run_ok("train", "--data", world["data16"], "--out", run, "--resolution", 16, "--kimg", 0.008, "--snap", 0.008,
           "--batch", 4, "--genes", 4, "--variants", 4, "--gene-length", 4, "--channel-base", 64,
           "--channel-max", 16, "--device", "cpu", "--health-samples", 16)  # fmt: skip
    world["run"] = run
    world["ckpt"] = run / "checkpoint.safetensors"
    faces = root / "faces"
    faces.mkdir()
    from genomekit.data.synth_faces import render_face

    Image.fromarray(render_face(4242, 32)[0]).save(faces / "face32.png")
    world["face32"] = faces / "face32.png"
    Image.fromarray(render_face(4242, 64)[0]).save(root / "face64.png")
    world["face64"] = root / "face64.png"
    Image.new("RGB", (32, 24)).save(root / "wide.png")
    world["wide_image"] = root / "wide.png"
    (root / "not_an_image.png").write_bytes(b"hello")
    world["not_an_image"] = root / "not_an_image.png"
    projection = root / "projection"
    run_ok("project", "--model", "default", "--image", faces, "--out", projection, "--steps", 2, "--device", "cpu",
           "--no-progress")  # fmt: skip
    world["projection"] = projection
    (root / "not_a_pickle.pkl").write_bytes(b"hello")
    world["not_a_pickle"] = root / "not_a_pickle.pkl"
    return world
