"""What the analysis commands take, checked: a Genome model and its statistics, the classifier set the
statistics were collected with, attribute conditions and temperatures.

Every check works on loaded objects (a ``Checkpoint``, a ``Stats``, a ``ClassifierSet``): the command
line loads each artefact once, calls these checks before any image is generated, and passes the
objects on. The analysis functions call the pairing checks again on entry (they are cheap: the model
identity is computed once per checkpoint).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genomekit.errors import UserError
from genomekit.sampling import Condition, parse_conditions
from genomekit.stats import Stats, attribute_given_variant, classifier_source

if TYPE_CHECKING:
    from classifiers import ClassifierSet
    from genomekit.training.checkpoint import Checkpoint

# ``progress(description, total)`` returns ``update(n)``, called with the images done (as in probes.probe_models).
Progress = Callable[[str, int], Callable[[int], object]]


# -- model and statistics ------------------------------------------------------------------------


def stats_name(stats: Stats) -> str:
    """How messages and records name the statistics: their directory as given."""
    return str(stats.directory) if stats.directory is not None else "the statistics"


def check_genome_model(model: Checkpoint, purpose: str = "conditional sampling") -> None:
    """A mapping-network model (no genome) is a UserError naming what needs a Genome."""
    if model.genome_shape is None:
        raise UserError(f"{model.name} is a mapping-network model; {purpose} needs a Genome model")


def check_model_matches_stats(model: Checkpoint, stats: Stats, allow_other_model: bool = False) -> None:
    """Refuse statistics of another genome shape, or of another model unless ``allow_other_model``.

    Args:
        model: a Genome checkpoint (see ``check_genome_model``); its identity is compared with the
            one the statistics recorded.
    """
    where = stats_name(stats)
    if tuple(stats.genome_shape) != tuple(model.genome_shape):
        raise UserError(
            f"the statistics in {where} are for a genome of shape (G, V, D) = {tuple(stats.genome_shape)}, "
            f"but {model.name} has {tuple(model.genome_shape)}; collect statistics for this model first"
        )
    collected_from = stats.manifest["identity"]["model"]
    if not allow_other_model and collected_from != model.identity:
        raise UserError(
            f"the statistics in {where} were collected from another model (identity {collected_from}, "
            f"{model.name} is {model.identity}); collect statistics for this model, or pass "
            "--allow-other-model if it derives from that one (e.g. pruned)"
        )


def check_genome_and_stats(
    model: Checkpoint, stats: Stats, allow_other_model: bool = False, purpose: str = "conditional sampling"
) -> None:
    """``check_genome_model`` then ``check_model_matches_stats``."""
    check_genome_model(model, purpose)
    check_model_matches_stats(model, stats, allow_other_model)


def attribute_probabilities(stats: Stats) -> Tensor:
    """(G, V, A) p(a | k_i = j) of the statistics (eq. 7), NaN where a variant was never seen.

    Under-sampled variants are not warned about here: the report lists them, and eq. 6 excludes the
    unseen ones.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)


# -- conditions and temperatures -----------------------------------------------------------------


def resolve_conditions(specs: Sequence[str], attributes: Sequence[str]) -> list[Condition]:
    """``--attr`` values to conditions, with the classifier package's forgiving name matching."""
    from classifiers.attributes import resolve_attribute

    try:
        return parse_conditions(specs, attributes, lambda name: resolve_attribute(name, attributes))
    except ValueError as error:
        raise UserError(str(error)) from None


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float; anything but a finite number > 0 (0, -1, inf, nan) is a UserError."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise UserError(f"temperature must be a finite number > 0, got {temperature!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(
            f"temperature must be a finite number > 0, got {value:g} (1 = eq. 6 as is; lower = stronger conditioning)"
        )
    return value


def check_temperatures(temperatures: Sequence[float]) -> list[float]:
    """At least one temperature, each a finite number > 0."""
    values = [check_temperature(t) for t in temperatures]
    if not values:
        raise UserError("give at least one temperature (a finite number > 0, e.g. 1.0,0.5)")
    return values


# -- the classifier set --------------------------------------------------------------------------


def check_classifier_attributes(classifiers: ClassifierSet, attributes: Sequence[str]) -> None:
    """The classifier set must score every one of ``attributes`` (those of the statistics)."""
    missing = [a for a in attributes if a not in classifiers.attribute_names]
    if missing:
        raise UserError(
            f"the classifier set lacks attributes of the statistics ({', '.join(missing[:5])}); "
            "score with the set the statistics were collected with"
        )


def load_stats_classifiers(
    stats: Stats,
    classifiers: str | Path | None,
    device: str | torch.device = "cpu",
    *,
    resolution: int | None = None,
    check_attributes: bool = True,
) -> ClassifierSet:
    """Load the classifier set to score samples of ``stats`` with, on ``device``.

    Args:
        stats: the loaded statistics.
        classifiers: a classifier set directory or shipped name; None = the set the statistics were
            collected with: the recorded ``classifier_source`` when it still holds a set of the recorded
            identity, else the shipped set of that identity ("default", "default-32").
        resolution: of the images to score ("default" then picks the shipped set for that size).
        check_attributes: the set must score every attribute of the statistics.

    Raises:
        UserError: the set cannot be loaded, lacks attributes, or (None) the set the statistics were
            collected with cannot be found; the message gives its identity.
    """
    from classifiers import load_classifier_set

    if classifiers is not None:
        classifier_set = load_classifier_set(classifiers, device, resolution=resolution)
    else:
        classifier_set = _collected_with(stats, device)
    if check_attributes:
        check_classifier_attributes(classifier_set, stats.attributes)
    return classifier_set


def _collected_with(stats: Stats, device: str | torch.device) -> ClassifierSet:
    """The classifier set of the statistics' recorded identity, from its recorded source or a shipped set."""
    from classifiers import load_classifier_set, read_classifier_info
    from classifiers.saved import SHIPPED_SETS

    wanted, source = stats.identity.classifiers, classifier_source(stats)
    why = "which genomekit did not record (statistics from an older genomekit)"
    if source is not None:
        try:
            found = load_classifier_set(source, device)  # a recorded shipped name is already the resolved one
        except UserError as error:
            why = f"recorded as {source}, which cannot be loaded now ({error})"
        else:
            if found.identity == wanted:
                return found
            why = f"recorded as {source}, which now holds another set (identity {found.identity})"
    for name in SHIPPED_SETS:
        try:
            shipped = read_classifier_info(name).get("identity")
        except UserError:
            continue
        if shipped == wanted:
            return load_classifier_set(name, device)
    raise UserError(
        f"the statistics in {stats_name(stats)} were collected with the classifier set of identity {wanted}, "
        f"{why}; give that set with --classifiers DIR (a directory whose classifier.json has identity {wanted})"
    )
