"""The one-command tour of StyleGenes on the shipped model (`genomekit demo`).

Steps, each resumable (re-running skips what is complete):

1. collect statistics: ``samples`` gene sequences generated and scored (``OUT/stats``);
2. labelled synthetic faces the model never saw, for the real-label correlations
   (``OUT/synth-faces-reference.zip``; only the labels are read, so they are rendered at 32 px);
3. the genome report: gene scores, polar plot, heatmap, correlations, gene edits (``OUT/report``);
4. conditional samples for each attribute, with and without it, at each temperature, rescored by the
   classifier set (``OUT/samples/<attribute>_T<t>/`` and ``OUT/samples/<no-attribute>_T<t>/``);
5. ``OUT/summary.md``: the table of requested vs unconditional fractions and where everything is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from genomekit.fileio import atomic_write
from genomekit.markdown import markdown_table

if TYPE_CHECKING:
    from classifiers import ClassifierSet
    from genomekit.training.checkpoint import Checkpoint

DEFAULT_ATTRIBUTES = ("Smiling", "Male", "Blond_Hair")
DEFAULT_TEMPERATURES = (1.0, 0.5)
REFERENCE_FACES = 5000  # labelled synthetic faces for the real-label correlation matrix
REFERENCE_SEED = 1  # not the training set's seed 0: faces the model never saw


@dataclass(frozen=True)
class DemoResult:
    out: Path
    stats: Path
    report: Path
    samples: dict[str, Path]  # "<condition>_T<t>" -> sample directory
    table: pd.DataFrame  # condition, temperature, conditional and unconditional fractions
    interrupted: bool = False


def sample_dir_name(condition: str, temperature: float) -> str:
    return f"{condition}_T{temperature:g}"


@contextlib.contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], object]] | None]:
    """A ``progress(description, total) -> update(n)`` factory of tqdm bars (closed after the block), or None."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bars: list = []

    def make_bar(description: str, total: int) -> Callable[[int], object]:
        bars.append(tqdm(total=total, desc=description, leave=False, dynamic_ncols=True))
        return bars[-1].update

    try:
        yield make_bar
    finally:
        for bar in bars:
            bar.close()


def check_demo_model(model: Checkpoint) -> None:
    """The demo needs a Genome model: a mapping-network one is a UserError."""
    from genomekit.errors import UserError

    if model.genome_shape is None:
        raise UserError(f"{model.name} has a mapping-network latent and no genes; the demo needs a Genome model")


def run_demo(
    out: str | Path,
    *,
    model: Checkpoint,
    classifiers: ClassifierSet,
    samples: int,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    per_grid: int = 64,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    stop: threading.Event | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo into ``out`` (see the module docstring). ``stop`` ends it after the current shard.

    Args:
        model: the Genome checkpoint (``load_checkpoint``); its networks are built once on ``device``.
        classifiers: the classifier set, on ``device`` (``load_classifier_set(..., resolution=)``).

    The statistics are loaded once after step 1 and passed to the report and every grid, and the
    ``per_grid`` unconditional samples every grid is compared with are scored once.

    Raises:
        UserError: a mapping-network model, an unknown attribute, a temperature <= 0 or fewer than one sample.
    """
    from analysis.conditional import sample, unconditional_scores
    from analysis.inputs import check_temperature, resolve_conditions
    from analysis.report import write_report
    from genomekit.data.synth_faces import write_synth_faces
    from genomekit.errors import UserError
    from genomekit.stats import load_stats
    from genomekit.stats.collect import CollectConfig, collect_stats

    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    for t in temperatures:
        check_temperature(t)
    out = Path(out)
    check_demo_model(model)
    conditions = resolve_conditions(attributes, classifiers.attribute_names)
    names = [c.attribute for c in conditions]
    G = model.generator(device)
    steps = 4

    stats_dir = out / "stats"
    say(f"[1/{steps}] statistics: {samples:,} gene sequences generated and scored -> {stats_dir}")
    result = collect_stats(
        CollectConfig(out=stats_dir, samples=samples, batch_size=batch_size, seed=seed),
        generator=G,
        classifiers=classifiers,
        discriminator=model.discriminator(device),
        model_identity=model.identity,
        device=device,
        stop=stop,
        progress=progress,
    )
    if result.interrupted:
        return DemoResult(out, stats_dir, out / "report", {}, pd.DataFrame(), interrupted=True)
    if result.samples_generated:
        say(f"      {result.samples_generated:,} generated at {result.samples_per_second:.0f} samples/s")
    stats = load_stats(stats_dir)

    reference = out / "synth-faces-reference.zip"
    report_dir = out / "report"
    say(f"[2/{steps}] report: gene scores, polar plot, correlations, gene edits -> {report_dir}")
    if not reference.exists():
        write_synth_faces(reference, REFERENCE_FACES, 32, REFERENCE_SEED, progress=progress)
    with progress_bars(progress) as bars:
        write_report(
            stats,
            report_dir,
            model=model,
            data=reference,
            edit_attributes=names,
            device=device,
            seed=seed,
            progress=bars,
        )

    say(
        f"[3/{steps}] conditional samples (eq. 6): {', '.join(names)} and their absence at T = "
        + ", ".join(f"{t:g}" for t in temperatures)
    )
    unconditional = unconditional_scores(G, classifiers, per_grid, seed)  # every grid's baseline
    rows, dirs = [], {}
    for name in names:
        for t in temperatures:
            for spec in (name, f"no-{name}"):
                key = sample_dir_name(spec, t)
                done = sample(
                    model,
                    stats,
                    [spec],
                    t,
                    per_grid,
                    out / "samples" / key,
                    seed=seed,
                    classifiers=classifiers,
                    unconditional=unconditional,
                    device=device,
                )
                dirs[key] = done.out
                score = done.scores.iloc[0]
                rows.append(
                    {
                        "attribute": name,
                        "requested": score["requested"],
                        "temperature": t,
                        "conditional": score["conditional_fraction"],
                        "unconditional": score["unconditional_fraction"],
                        "grid": str(Path("samples") / key / "grid.png"),
                    }
                )
    table = pd.DataFrame(rows)
    say(f"[4/{steps}] summary -> {out / 'summary.md'}")
    _write_summary(out, model.name, samples, table)
    return DemoResult(out, stats_dir, report_dir, dirs, table)


def _write_summary(out: Path, model: str, samples: int, table: pd.DataFrame) -> None:
    lines = [
        "# genomekit demo",
        "",
        f"Model `{model}`; statistics from {samples:,} samples in `stats/`.",
        "",
        "- Report (polar plot, heatmap, correlations, gene edits): [report/index.html](report/index.html)",
        "",
        "## Conditional sampling (StyleGenes eq. 6 with temperature)",
        "",
        "Fraction of samples the classifier set finds with the requested value, beside the same number of",
        "unconditional samples:",
        "",
    ]
    cells = pd.DataFrame(
        {
            "attribute": table["attribute"],
            "requested": table["requested"],
            "T": table["temperature"].map("{:g}".format),
            "conditional": table["conditional"].map("{:.0%}".format),
            "unconditional": table["unconditional"].map("{:.0%}".format),
            "grid": table["grid"].map(lambda grid: f"[{grid}]({grid})"),
        }
    )
    with atomic_write(out / "summary.md", "w") as f:
        f.write("\n".join([*lines, markdown_table(cells)]) + "\n")
