"""The command line's promise, row by row: a bad input ends with one ``error:`` line, exit code 2,
no traceback, and nothing new or changed on disk.

Each row is a command line as a user would type it; ``{name}`` is a world artefact
(tests/cli/world.py), ``{file}`` an existing file, ``{dir}`` a directory holding a user's file,
``{new}`` a path that does not exist yet and ``{under_file}`` a path below a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.cli.world import build_world, invoke

# (id, command line, a fragment the error line must contain)
ROWS = [
    # the framework's parse errors
    ("parse-int", "sample --model default --stats {stats} --out {new} --samples abc", "Invalid value for '--samples'"),
    ("missing-option", "sample --model default --stats {stats}", "Missing option '--out'"),
    ("unknown-flag", "report --stats {stats} --out {new} --bogus", "No such option: --bogus"),
    ("unknown-command", "frob", "No such command 'frob'"),
    ("bad-choice-bool", "collect-stats --model default --out {new} --samples 1e3", "Invalid value for '--samples'"),
    # --out naming an existing file where a directory is written
    ("sample-out-file", "sample --model default --stats {stats} --out {file}", "is a file; give a directory"),
    ("interpolate-out-file", "interpolate --model default --out {file}", "is a file; give a directory"),
    (
        "evaluate-out-file",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {file}",
        "is a file; give a directory",
    ),
    ("report-out-file", "report --stats {stats} --out {file}", "is a file; give a directory"),
    ("train-out-file", "train --data {data16} --out {file}", "is a file; give a directory"),
    ("demo-out-file", "demo --out {file}", "is a file; give a directory"),
    ("probe-out-file", "probe --genome default --out {file}", "is a file; give a directory"),
    ("classifiers-train-out-file", "classifiers train {data16} --out {file}", "is a file; give a directory"),
    ("collect-out-file", "collect-stats --model default --out {file}", "is a file; give a directory"),
    # --out naming an existing directory where a file is written
    ("prune-out-dir", "prune --model default --stats {stats} --replace 1 --out {dir}", "is a directory"),
    ("export-out-dir", "export {ckpt} --out {dir}", "is a directory"),
    ("import-nvlabs-out-dir", "import-nvlabs {not_a_pickle} --out {dir}", "is a directory"),
    ("synth-faces-out-dir", "data synth-faces --out {dir} --images 4", "is a directory"),
    ("eval-csv-dir", "classifiers eval default {data16} --csv {dir}", "is a directory"),
    # an output place that cannot be written (below a file)
    ("collect-unwritable", "collect-stats --model default --out {under_file}", "is a file, not a directory"),
    ("report-unwritable", "report --stats {stats} --out {under_file}", "is a file, not a directory"),
    (
        "prune-unwritable",
        "prune --model default --stats {stats} --replace 1 --out {under_file}",
        "is a file, not a directory",
    ),
    ("export-unwritable", "export {ckpt} --out {under_file}", "is a file, not a directory"),
    ("synth-faces-unwritable", "data synth-faces --out {under_file} --images 4", "is a file, not a directory"),
    ("sample-unwritable", "sample --model default --stats {stats} --out {under_file}", "is a file, not a directory"),
    ("train-unwritable", "train --data {data16} --out {under_file}", "is a file, not a directory"),
    # a directory genomekit did not write is never replaced
    ("sample-out-foreign-dir", "sample --model default --stats {stats} --out {dir}", "genomekit did not write"),
    ("report-out-foreign-dir", "report --stats {stats} --out {dir}", "genomekit did not write"),
    # damaged statistics
    ("report-corrupt-shard", "report --stats {stats_corrupt} --out {new}", "sha256"),
    ("report-truncated-shard", "report --stats {stats_truncated} --out {new}", "shard"),
    ("report-missing-shard", "report --stats {stats_missing} --out {new}", "shard"),
    ("sample-corrupt-shard", "sample --model default --stats {stats_corrupt} --out {new}", "sha256"),
    ("prune-missing-shard", "prune --model default --stats {stats_missing} --replace 1 --out {new}", "shard"),
    ("stats-not-a-dir", "stats info --stats {new}", "is not a stats directory"),
    # statistics of another model
    ("report-other-model", "report --stats {stats} --out {new} --model {other_model}", "another model"),
    ("report-mapping-model", "report --stats {stats} --out {new} --model default-mapping", "mapping"),
    ("sample-other-model", "sample --model {other_model} --stats {stats} --out {new}", "another model"),
    ("sample-mapping-model", "sample --model default-mapping --stats {stats} --out {new}", "mapping"),
    # classifier sets checked before any image is generated
    (
        "sample-score-missing-set",
        "sample --model default --stats {stats} --out {new} --score --classifiers {new}",
        "classifier set not found",
    ),
    (
        "evaluate-missing-set",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --classifiers {new}",
        "classifier set not found",
    ),
    # temperatures
    (
        "temps-empty",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --temps ''",
        "needs at least one temperature",
    ),
    (
        "temps-comma",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --temps ,",
        "needs at least one temperature",
    ),
    (
        "temps-inf",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --temps 1,inf",
        "finite number > 0",
    ),
    (
        "temps-text",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --temps a",
        "comma-separated numbers",
    ),
    ("temp-inf", "sample --model default --stats {stats} --out {new} --temp inf", "finite number > 0"),
    ("temp-nan", "sample --model default --stats {stats} --out {new} --temp nan", "finite number > 0"),
    ("temp-zero", "sample --model default --stats {stats} --out {new} --temp 0", "finite number > 0"),
    ("sample-refine-negative", "sample --model default --stats {stats} --out {new} --refine -1", "--refine must be"),
    (
        "evaluate-refine-samples-0",
        "evaluate-conditional --model default --stats {stats} --attr smiling --out {new} --refine-samples 0",
        "--refine-samples must be at least 1",
    ),
    ("demo-temps-empty", "demo --out {new} --temps ''", "needs at least one temperature"),
    # average: a run without kept snapshots, a missing run, an empty or reversed window
    ("average-no-snapshots", "average {run} --from-kimg 0 --out {new}", "has no kept snapshots"),
    ("average-missing-run", "average {new} --from-kimg 0 --out {new}.safetensors", "run directory not found"),
    ("average-reversed-window", "average {run} --from-kimg 5 --to-kimg 1 --out {new}", "--from-kimg <= --to-kimg"),
    ("train-d-channel-base", "train --data {data16} --out {new} --d-channel-base 0", "--d-channel-base must be"),
    ("train-mbstd-group", "train --data {data16} --out {new} --mbstd-group 0", "--mbstd-group must be a positive"),
    # export must not destroy a run
    ("export-onto-itself", "export {ckpt} --out {ckpt}", "also the input"),
    # resuming a run with other settings
    ("resume-other-variants", "train --data {data16} --out {run} --resume --variants 8", "--variants"),
    ("resume-other-batch", "train --data {data16} --out {run} --resume --batch 8", "--batch"),
    ("resume-other-g-lr", "train --data {data16} --out {run} --resume --g-lr 0.001", "--g-lr"),
    ("train-existing-run", "train --data {data16} --out {run}", "--resume"),
    # datasets and resolutions
    (
        "fid-other-resolution",
        "metrics fid --model default --data {data64} --samples 2 --no-progress",
        "holds 64x64 images but",
    ),
    ("health-other-resolution", "metrics health --model default --data {data64} --samples 2", "holds 64x64 images but"),
    ("health-samples-1", "metrics health --model default --data {data64} --samples 1", "--samples"),
    ("health-out-dir", "metrics health --model default --data {data64} --out {dir}", "is a directory"),
    ("data-info-mixed", "data info {mixed}", "all images must have the same size"),
    ("data-info-broken-image", "data info {broken}", "00001.png: not an image file PIL can read"),
    ("train-broken-image", "train --data {broken} --out {new} --resolution 16", "not an image file PIL can read"),
    ("train-48px", "train --data {data48} --out {new}", "power of two"),
    ("synth-faces-48", "data synth-faces --out {new}.zip --images 4 --resolution 48", "--resolution must be one of"),
    # messages that name the flag
    ("train-genes-0", "train --data {data16} --out {new} --genes 0", "--genes"),
    ("train-kimg-0", "train --data {data16} --out {new} --kimg 0", "--kimg"),
    ("train-snap-0", "train --data {data16} --out {new} --snap 0", "--snap"),
    ("train-genome-lr-negative", "train --data {data16} --out {new} --genome-lr-mult -1", "--genome-lr-mult must be"),
    (
        "train-genome-lr-mapping",
        "train --data {data16} --out {new} --latent mapping --genome-lr-mult 0.1",
        "--genome-lr-mult applies to a Genome",
    ),
    ("interpolate-from-range", "interpolate --model default --out {new} --from " + ",".join(["999"] * 32), "[0, 64)"),
    ("interpolate-steps", "interpolate --model default --out {new} --steps 1", "--steps must be at least 2"),
    ("prune-replace-range", "prune --model default --stats {stats} --replace 40 --out {new}", "--replace"),
    (
        "prune-samples-1",
        "prune --model default --stats {stats} --replace 1 --out {new} --data {data16} --samples 1",
        "--samples must be at least 2",
    ),
    ("collect-samples-0", "collect-stats --model default --out {new} --samples 0", "--samples must be at least 1"),
    (
        "sample-samples-0",
        "sample --model default --stats {stats} --out {new} --samples 0",
        "--samples must be at least 1",
    ),
    ("sample-misspelt-attr", "sample --model default --stats {stats} --out {new} --attr smilng", "did you mean"),
    # models
    ("collect-mapping", "collect-stats --model default-mapping --out {new}", "mapping-network latent"),
    ("collect-truncated-ckpt", "collect-stats --model {truncated_ckpt} --out {new}", "truncated.safetensors"),
    ("probe-mapping-as-genome", "probe --genome default-mapping --samples 40", "--genome"),
    (
        "from-mapping-genome",
        "genome-from-mapping --model default --genes 32 --variants 8 --out {new}",
        "Genome latent already",
    ),
    ("import-not-a-pickle", "import-nvlabs {not_a_pickle} --out {new}", "not_a_pickle.pkl"),
    ("synth-faces-grid-out-dir", "data synth-faces-grid --out {dir}", "is a directory"),
    ("import-celebahq-missing", "classifiers import-celebahq {new} --out {new}", "{new}"),
    ("train-report-not-a-run", "train-report {new}", "no metrics.jsonl"),
    ("train-report-out-file", "train-report {run} --out {file}", "is a file; give a directory"),
    ("classifiers-info-missing", "classifiers info {new}", "classifier set not found"),
    # real images into the genome
    ("project-non-square", "project --model default --image {wide_image} --out {new}", "32x24 px is not square"),
    ("project-wrong-size", "project --model default --image {face64} --out {new}", "the model makes 32x32 px"),
    ("project-unreadable", "project --model default --image {not_an_image} --out {new}", "not an image file"),
    ("project-missing-image", "project --model default --image {new}.png --out {new}", "no such file or directory"),
    ("project-no-image", "project --model default --out {new}", "give at least one image"),
    ("project-empty-dir", "project --model default --image {dir} --out {new}", "files in this directory"),
    ("project-space", "project --model default --image {face32} --out {new} --space z", "--space must be one of"),
    (
        "project-lpips-no-weights",
        "project --model default --image {face32} --out {new} --perceptual lpips",
        "needs --lpips-weights",
    ),
    (
        "project-lpips-bad-file",
        "project --model default --image {face32} --out {new} --perceptual lpips --lpips-weights {file}",
        "not a weights file",
    ),
    ("project-out-file", "project --model default --image {face32} --out {file}", "is a file; give a directory"),
    ("project-out-foreign-dir", "project --model default --image {face32} --out {dir}", "genomekit did not write"),
    ("insert-mapping", "insert --model default-mapping --image {face32} --out {new}", "mapping-network model"),
    ("insert-onto-model", "insert --model {other_model} --image {face32} --out {other_model}", "also the input"),
    ("insert-out-dir", "insert --model default --image {face32} --out {dir}", "is a directory"),
    ("insert-wrong-size", "insert --model default --image {face64} --out {new}", "the model makes 32x32 px"),
    ("insert-metric", "insert --model default --image {face32} --out {new} --metric l3", "--metric must be one of"),
    ("insert-neither", "insert --model default --out {new}", "give the images with --image"),
    ("insert-not-a-projection", "insert --model default --projection {dir} --out {new}", "no projection.safetensors"),
    (
        "insert-projection-other-model",
        "insert --model {other_model} --projection {projection} --out {new}",
        "was made with model",
    ),  # fmt: skip
]
if not torch.cuda.is_available():
    ROWS.append(
        ("device-cuda", "sample --model default --stats {stats} --out {new} --device cuda", "CUDA is not available")
    )
    ROWS.append(
        ("collect-fp16-cpu", "collect-stats --model default --out {new} --precision fp16", "needs a CUDA device")
    )
    ROWS.append(("train-fp16-cpu", "train --data {data16} --out {new} --precision fp16", "needs a CUDA device"))
    ROWS.append(("fid-fp16-cpu", "metrics fid --model default --data {data16} --precision fp16", "needs a CUDA device"))
    ROWS.append(("probe-fp16-cpu", "probe --genome default --samples 40 --precision fp16", "needs a CUDA device"))
ROWS.append(("collect-precision", "collect-stats --model default --out {new} --precision fp8", "--precision must be"))
ROWS.append(("train-precision", "train --data {data16} --out {new} --precision xx", "--precision must be"))
ROWS.append(("fid-precision", "metrics fid --model default --data {data16} --precision xx", "--precision must be"))
ROWS.append(("probe-precision", "probe --genome default --samples 40 --precision xx", "--precision must be"))
ROWS.append(("resume-other-precision", "train --data {data16} --out {run} --resume --precision bf16", "--precision"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("cli-world"))


def _tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``roots`` with its size and modification time."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            stat = path.lstat()
            found[str(path)] = (stat.st_size if path.is_file() else 0, stat.st_mtime_ns)
    return found


def _scratch(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_text("mine")
    return {"file": tmp_path / "file.txt", "dir": tmp_path / "dir", "new": tmp_path / "new",
            "under_file": tmp_path / "file.txt" / "sub"}  # fmt: skip


def _args(line: str, names: dict[str, Path]) -> list[str]:
    import shlex

    return [part.format(**{k: str(v) for k, v in names.items()}) for part in shlex.split(line)]


@pytest.mark.parametrize(("line", "fragment"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_keeps_the_promise(world, tmp_path, monkeypatch, line, fragment):
    monkeypatch.chdir(tmp_path)
    names = {**world, **_scratch(tmp_path)}
    before = _tree(tmp_path, *{p.parent for p in world.values()})
    result = invoke(*_args(line, names))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment.format(**{k: str(v) for k, v in names.items()}) in lines[0], lines[0]
    assert _tree(tmp_path, *{p.parent for p in world.values()}) == before, "the command changed files on disk"


@pytest.mark.parametrize(
    "line",
    [
        "sample --model default --stats {stats} --out {new} --samples abc",
        "report --stats {stats_corrupt} --out {new}",
        "export {ckpt} --out {ckpt}",
    ],
)
def test_bad_input_through_the_installed_command(world, tmp_path, line):
    """The same promise from the real entry point (python -m genomekit), as a user types it."""
    names = {**world, **_scratch(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "genomekit", *_args(line, names)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not (tmp_path / "new").exists()


def test_every_command_has_a_row():
    """The table covers every command of the CLI."""
    from typer.main import get_command

    from genomekit.cli import app

    def leaves(group, prefix=()):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from leaves(cmd, (*prefix, name))
            else:
                yield " ".join((*prefix, name))

    commands = set(leaves(get_command(app)))
    covered = {c for c in commands for _, line, _ in ROWS if line == c or line.startswith(c + " ")}
    assert commands == covered, commands - covered


def test_out_of_device_memory_is_one_line_naming_batch(world, tmp_path, monkeypatch):
    """A GPU that runs out of memory mid-run: one line that says which flag to lower (no traceback)."""
    import genomekit.stats.collect

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 39.39 GiB total)")

    monkeypatch.setattr(genomekit.stats.collect, "collect_stats", oom)
    result = invoke("collect-stats", "--model", "default", "--out", tmp_path / "s", "--batch", 256, "--device", "cpu")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0] == (
        "error: CUDA out of memory; lower --batch (images per forward pass: it does not change results), "
        "or free the device's memory"
    )
