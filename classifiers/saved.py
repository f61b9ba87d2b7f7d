"""Saving and loading classifier sets.

A saved set is a directory::

    classifier.safetensors   the weights (float32), metadata {"identity": ...}
    classifier.json          kind, attribute names, resolution, architecture, identity,
                             training data identity and settings, validation metrics
    metrics.csv              per-attribute held-out metrics (written by training and `classifiers eval`)

``load_classifier_set`` also reads a directory of StyleGAN CelebA-HQ classifiers converted to PyTorch
state dicts (``celebahq-classifier-NN-attribute.pt``, see ``classifiers/README.md``), and the name
``"default"``: the set shipped with genomekit for its synthetic faces.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from classifiers.base import ClassifierSet
from genomekit.errors import UserError
from genomekit.fileio import atomic_path, write_json

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "classifier.safetensors"
CONFIG_FILE = "classifier.json"
METRICS_FILE = "metrics.csv"
FORMAT_NAME = "genomekit-classifier-set"
FORMAT_VERSION = 1
DEFAULT_NAME = "default"
# Names that stand for a classifier set shipped in genomekit/assets/classifiers/.
SHIPPED_SETS = {DEFAULT_NAME: "synth_faces", "default-32": "synth_faces_32"}
# The shipped set "default" stands for, by the resolution of the images to score.
SHIPPED_BY_RESOLUTION = {64: DEFAULT_NAME, 32: "default-32"}


class ClassifierLoadError(UserError):
    """A classifier set that is missing, incomplete or corrupt."""


def default_classifier_path(name: str = DEFAULT_NAME) -> Path:
    """Where a shipped classifier set lives: "default" (64-px input) or "default-32" (32-px faces)."""
    import genomekit

    return Path(genomekit.__file__).resolve().parent / "assets" / "classifiers" / SHIPPED_SETS[name]


def _builders(batched: bool = True) -> dict[str, Any]:
    """Constructors by ``kind``; ``batched``: CelebA-HQ sets as ``BatchedCelebAHQ`` (same weights and identity)."""
    from classifiers.celebahq import CelebAHQClassifierSet
    from classifiers.celebahq_batched import BatchedCelebAHQ
    from classifiers.multihead import MultiHeadClassifierSet, MultiHeadConfig

    def multihead(doc: dict[str, Any]) -> ClassifierSet:
        return MultiHeadClassifierSet(doc["attribute_names"], MultiHeadConfig.from_json(doc["architecture"]))

    def celebahq(doc: dict[str, Any]) -> ClassifierSet:
        cls = BatchedCelebAHQ if batched else CelebAHQClassifierSet
        return cls.from_config(doc["attribute_names"], doc["architecture"])

    return {"multihead": multihead, "celebahq": celebahq}


def save_classifier_set(
    classifier: ClassifierSet,
    out: str | Path,
    *,
    training: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
) -> Path:
    """Write ``classifier`` to the directory ``out`` (weights, then classifier.json, each atomically).

    Args:
        training: JSON-able description of the training data and settings.
        validation: JSON-able held-out metrics.
    Returns:
        The directory.
    """
    if classifier.kind not in _builders():
        raise ValueError(f"cannot save a classifier set of kind {classifier.kind!r}; known: {sorted(_builders())}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in classifier.state_dict().items()}
    identity = classifier.refresh_identity()
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"identity": identity, "format": FORMAT_NAME})
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": classifier.kind,
        "identity": identity,
        "attribute_names": list(classifier.attribute_names),
        "resolution": classifier.resolution,
        "architecture": classifier.config(),
        "training": training or {},
        "validation": validation or {},
    }
    write_json(out / CONFIG_FILE, doc)
    return out


def read_classifier_info(path: str | Path) -> dict[str, Any]:
    """The parsed classifier.json of a saved set (no weights loaded)."""
    directory = _resolve_directory(path)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ClassifierLoadError(f"{directory} has no {CONFIG_FILE}; is it a genomekit classifier set?")
    return _read_config(config_path)


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ClassifierLoadError(f"{config_path} is not readable JSON ({error})") from None
    required = ("kind", "attribute_names", "resolution", "architecture")
    missing = [key for key in required if not isinstance(doc, dict) or key not in doc]
    if missing:
        raise ClassifierLoadError(f"{config_path} lacks {', '.join(missing)}; it is not a classifier set description")
    return doc


def _resolve_directory(path: str | Path) -> Path:
    if str(path) in SHIPPED_SETS:
        directory = default_classifier_path(str(path))
        if not (directory / CONFIG_FILE).is_file():
            raise ClassifierLoadError(
                f"no default classifier set is shipped with this genomekit install (looked in {directory}); "
                "train one with `genomekit classifiers train DATA --out DIR` and pass DIR"
            )
        return directory
    directory = Path(path).expanduser()
    if not directory.exists():
        raise ClassifierLoadError(
            f"classifier set not found: {directory} (give a directory, 'default' or 'default-32')"
        )
    if directory.is_file():
        if directory.name in (WEIGHTS_FILE, CONFIG_FILE):
            return directory.parent
        raise ClassifierLoadError(f"{directory} is a file; give the directory holding {WEIGHTS_FILE} and {CONFIG_FILE}")
    return directory


def load_classifier_set(
    path: str | Path, device: str | torch.device = "cpu", *, resolution: int | None = None, batched: bool = True
) -> ClassifierSet:
    """Load a classifier set, in eval mode, on ``device``.

    Args:
        path: a directory with classifier.safetensors + classifier.json; a directory of CelebA-HQ
            classifier state dicts (``celebahq-classifier-NN-attribute.pt``); or a shipped set's name.
        device: where the weights go.
        resolution: the size of the images it will score, when known: "default" then picks the shipped
            set trained at that size ("default-32" for 32 px), so generated images are not upsampled.
        batched: return a CelebA-HQ set as ``classifiers.celebahq_batched.BatchedCelebAHQ``, which runs
            its networks as one grouped network (same weights, state dict and identity; outputs equal
            to float rounding); False gives the plain ``CelebAHQClassifierSet``, one network after
            another. Other kinds are already one network.
    Returns:
        The set, with ``source`` set to where it came from: the shipped set's name ("default" or
        "default-32", after the choice by ``resolution``) or the directory's absolute path.
        collect-stats records it, so that later commands can find the set again.
    Raises:
        UserError: missing, incomplete or corrupt files, with one line saying which.
    """
    from classifiers.celebahq import find_celebahq_files, load_celebahq_directory
    from classifiers.celebahq_batched import BatchedCelebAHQ

    if str(path) == DEFAULT_NAME and resolution is not None:
        path = SHIPPED_BY_RESOLUTION.get(int(resolution), DEFAULT_NAME)
    directory = _resolve_directory(path)
    source = str(path) if str(path) in SHIPPED_SETS else str(directory.resolve())
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not config_path.exists():
        if find_celebahq_files(directory):
            celebahq = load_celebahq_directory(directory, device=device)
            if batched:
                celebahq = BatchedCelebAHQ.from_set(celebahq)
            celebahq.source = source
            return celebahq
        raise ClassifierLoadError(
            f"{directory} holds no classifier set: expected {CONFIG_FILE} + {WEIGHTS_FILE}, "
            "or StyleGAN classifier state dicts named celebahq-classifier-NN-attribute.pt"
        )
    doc = _read_config(config_path)
    builders = _builders(batched)
    if doc["kind"] not in builders:
        raise ClassifierLoadError(f"{config_path}: unknown classifier kind {doc['kind']!r}; known: {sorted(builders)}")
    if not weights_path.is_file():
        raise ClassifierLoadError(f"{directory} has {CONFIG_FILE} but no {WEIGHTS_FILE}; the set is incomplete")
    try:
        classifier = builders[doc["kind"]](doc)
    except (TypeError, ValueError, KeyError) as error:
        raise ClassifierLoadError(f"{config_path}: invalid architecture ({error})") from None
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ClassifierLoadError(f"{weights_path} is not a readable safetensors file ({error})") from None
    try:
        classifier.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ClassifierLoadError(f"{weights_path} does not match {CONFIG_FILE}: {detail[:300]}") from None
    identity = classifier.refresh_identity()
    if doc.get("identity") and doc["identity"] != identity:
        raise ClassifierLoadError(
            f"{weights_path} does not match {CONFIG_FILE} (identity {identity} != {doc['identity']}); "
            "the files come from different sets or were modified"
        )
    classifier.eval()
    classifier.source = source
    return classifier.to(device)
