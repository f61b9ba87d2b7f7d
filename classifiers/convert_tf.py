"""Convert StyleGAN's TensorFlow CelebA-HQ classifiers to genomekit classifier sets.

The official files (``celebahq-classifier-00-male.pkl`` ... ``-39-wearing-necktie.pkl``) are pickles
of ``dnnlib.tflib.Network`` objects. **One step, no TensorFlow** (the way to do it)::

    genomekit classifiers import-celebahq ~/stylegan-metrics --out ~/celebahq-classifiers
    genomekit classifiers info ~/celebahq-classifiers

``import_celebahq_pickles`` reads each pickle with ``genomekit.interop.tflib.read_tflib_pickle`` (a
restricted unpickler: the module source stored in the pickle is never executed), takes blur and
minibatch-stddev settings from the network's build function and kwargs (``celebahq_settings``), converts
the variables with ``tf_to_state_dict`` and writes one classifier set (``classifier.safetensors`` +
``classifier.json``, kind "celebahq") into a temporary sibling directory that is renamed into place.

The older **two-step route** still works: a TF 1.x environment dumps each network's variables to ``.npz``,
then ``python -m classifiers.convert_tf`` writes ``celebahq-classifier-NN-slug.pt`` state dicts::

    # Step 1 -- in a TF 1.x environment with NVlabs/stylegan on the path:
    import pickle, numpy as np, dnnlib.tflib as tflib
    tflib.init_tf()
    for path in sorted(glob.glob("celebahq-classifier-*.pkl")):
        with open(path, "rb") as f:
            net = pickle.load(f)
        print(path, net.build_func_name, net.static_kwargs)   # D_basic? blur_filter? mbstd_group_size?
        names = list(net.vars.keys())                           # "FromRGB_lod0/weight", "256x256/Conv0/weight", ...
        np.savez(path.replace(".pkl", ".npz"), **dict(zip(names, tflib.run([net.vars[n] for n in names]))))

    # Step 2 -- here:
    python -m classifiers.convert_tf celebahq-classifier-*.npz --out ~/celebahq-classifiers
    genomekit classifiers info ~/celebahq-classifiers

Names and layouts: TF conv weights are [kh, kw, in, out] and dense weights [in, out]; ours are
PyTorch's [out, in, kh, kw] and [out, in]. Weights stay unit-scaled (the He constant is applied at run
time in both). ``FromRGB_lodN`` for N > 0 (progressive-growing leftovers) and ``lod`` are dropped.

================================  ==========================
TF variable                       genomekit state dict key
================================  ==========================
FromRGB_lod0/{weight,bias}        fromrgb.{weight,bias}
RxR/Conv0/{weight,bias}           bR.conv0.{weight,bias}
RxR/Conv1_down (or Conv1)/...     bR.conv1_down.{weight,bias}
4x4/Conv/...                      b4.conv.{weight,bias}
4x4/Dense0/..., 4x4/Dense1/...    b4.dense0..., b4.dense1...
================================  ==========================

Settings the weights cannot tell: StyleGAN's ``D_basic`` blurs with ``blur_filter`` (default [1, 2, 1];
None = no blur) and has ``mbstd_group_size`` / ``mbstd_num_features``; ProGAN's ``D_paper`` has no blur.
The one-step route reads them from the pickle (``static_kwargs``, else the defaults in the stored source,
parsed without running it); in the two-step route pass ``--no-blur`` for ``D_paper`` and
``--mbstd-group-size`` by hand, and ``celebahq.json`` in the output directory records the choice.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifiers.celebahq import (
    FILE_PATTERN,
    SETTINGS_FILE,
    CelebAHQClassifierSet,
    CelebAHQNetwork,
    attribute_name_for_slug,
    config_from_state_dict,
    find_celebahq_files,
)
from genomekit.errors import UserError
from genomekit.fileio import atomic_path, write_json
from genomekit.interop.tflib import TFNetwork, network_kwargs, read_tflib_pickle

_LAYER = re.compile(r"(?:^|/)(FromRGB_lod(\d+)|(\d+)x(\d+)/(Conv0|Conv1_down|Conv1|Conv|Dense0|Dense1))/(weight|bias)$")


def tf_to_state_dict(arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """TF variable name -> array, to our state dict (keys and layouts in this module's docstring).

    Raises:
        UserError: a trainable variable that is not part of the classifier network.
    """
    state: dict[str, torch.Tensor] = {}
    for name, value in arrays.items():
        if name == "lod" or name.endswith("/lod"):
            continue
        match = _LAYER.search(name)
        if match is None:
            raise UserError(f"unexpected TF variable {name!r}; is this a StyleGAN CelebA-HQ classifier?")
        layer, lod, size, _, op, kind = match.groups()
        if lod is not None:
            if int(lod) > 0:
                continue  # unused input layers of progressive growing
            key = "fromrgb"
        else:
            key = (
                f"b{size}."
                + {
                    "Conv0": "conv0",
                    "Conv1_down": "conv1_down",
                    "Conv1": "conv1_down",
                    "Conv": "conv",
                    "Dense0": "dense0",
                    "Dense1": "dense1",
                }[op]
            )
        array = np.asarray(value, dtype=np.float32)
        if kind == "weight":
            array = array.transpose(3, 2, 0, 1) if array.ndim == 4 else array.T
        state[f"{key}.{kind}"] = torch.from_numpy(np.ascontiguousarray(array))
    return state


def state_dict_to_tf(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The inverse of ``tf_to_state_dict`` (for tests and for exporting)."""
    arrays = {}
    for key, tensor in state.items():
        layer, kind = key.rsplit(".", 1)
        array = tensor.detach().cpu().numpy()
        if kind == "weight":
            array = array.transpose(2, 3, 1, 0) if array.ndim == 4 else array.T
        if layer == "fromrgb":
            name = "FromRGB_lod0"
        else:
            block, op = layer.split(".")
            size = int(block[1:])
            name = (
                f"{size}x{size}/"
                + {
                    "conv0": "Conv0",
                    "conv1_down": "Conv1_down",
                    "conv": "Conv",
                    "dense0": "Dense0",
                    "dense1": "Dense1",
                }[op]
            )
        arrays[f"{name}/{kind}"] = np.ascontiguousarray(array)
    return arrays


def convert_files(inputs: list[Path], out: Path, *, blur: bool = True, mbstd_group_size: int = 4) -> list[Path]:
    """Convert ``celebahq-classifier-NN-slug.npz`` files into ``out/celebahq-classifier-NN-slug.pt``."""
    written = []
    for path in inputs:
        target = path.with_suffix(".pt").name
        if not FILE_PATTERN.match(target):
            raise UserError(f"{path.name}: name it celebahq-classifier-NN-attribute.npz (like the official .pkl)")
        try:
            with np.load(path) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as error:
            raise UserError(f"{path} is not a readable .npz file ({error})") from None
        state = tf_to_state_dict(arrays)
        with atomic_path(out / target) as tmp:
            torch.save(state, tmp)
        written.append(out / target)
    write_json(
        out / SETTINGS_FILE,
        {"blur": blur, "mbstd_group_size": mbstd_group_size, "mbstd_num_features": 1, "fmap_decay": 1.0},
    )
    return written


# ----------------------------------------------------------------------------------------------------
# One step: the official .pkl files, read without TensorFlow.

CLASSIFIER_FUNCTIONS = ("D_basic", "D_paper")  # StyleGAN's discriminator, ProGAN's
_D_BASIC_DEFAULTS = {"blur_filter": [1, 2, 1], "mbstd_group_size": 4, "mbstd_num_features": 1, "fmap_decay": 1.0}
_D_PAPER_DEFAULTS = {"mbstd_group_size": 4, "fmap_decay": 1.0}


def celebahq_settings(network: TFNetwork) -> dict[str, Any]:
    """The settings a TF classifier network was built with that its weights cannot tell.

    Reads ``static_kwargs``, else the build function's defaults in the stored source (parsed, never
    run), else those of the NVlabs release. ``D_basic`` (StyleGAN): ``blur_filter`` [1, 2, 1] -> blur,
    None -> no blur; ``mbstd_group_size``; ``mbstd_num_features``. ``D_paper`` (ProGAN): no blur, one
    minibatch-stddev feature (what ``--no-blur`` chooses in the two-step route).

    Returns:
        {"blur", "mbstd_group_size", "mbstd_num_features", "fmap_decay"}, as ``celebahq.json`` holds them.
    Raises:
        UserError: another build function, label conditioning, a setting our network does not implement.
    """
    func = network.build_func_name
    if func not in CLASSIFIER_FUNCTIONS:
        raise UserError(
            f"network {network.name!r} is built by {func!r}, not a CelebA-HQ classifier "
            f"(expected {' or '.join(CLASSIFIER_FUNCTIONS)})"
        )
    kwargs = {**(_D_BASIC_DEFAULTS if func == "D_basic" else _D_PAPER_DEFAULTS), **network_kwargs(network)}
    if kwargs.get("label_size", 0):
        raise UserError(f"network {network.name!r} is label-conditioned (label_size={kwargs['label_size']})")
    if not kwargs.get("use_wscale", True):
        raise UserError(f"network {network.name!r} has use_wscale=False; only equalized learning rate is supported")
    if func == "D_basic" and kwargs.get("nonlinearity", "lrelu") != "lrelu":
        raise UserError(f"network {network.name!r} uses {kwargs['nonlinearity']!r}; only 'lrelu' is supported")
    blur = False
    if func == "D_basic" and kwargs["blur_filter"]:
        if list(kwargs["blur_filter"]) != [1, 2, 1]:
            raise UserError(
                f"network {network.name!r} has blur_filter={kwargs['blur_filter']!r}; only [1, 2, 1] or None is supported"
            )
        blur = True
    group_size = kwargs["mbstd_group_size"]
    num_features = kwargs["mbstd_num_features"] if func == "D_basic" else 1
    decay = kwargs["fmap_decay"]
    valid = isinstance(group_size, int) and isinstance(num_features, int) and isinstance(decay, (int, float))
    if not valid or group_size < 0 or num_features < 1:
        raise UserError(
            f"network {network.name!r} has mbstd_group_size={group_size!r}, mbstd_num_features={num_features!r}, "
            f"fmap_decay={decay!r}; expected integers >= 0, >= 1 and a number"
        )
    return {"blur": blur, "mbstd_group_size": group_size, "mbstd_num_features": num_features, "fmap_decay": decay}


def tflib_to_celebahq_network(network: TFNetwork) -> tuple[CelebAHQNetwork, dict[str, Any]]:
    """One TF classifier network as a CelebAHQNetwork with its weights, and its ``celebahq_settings``.

    Raises:
        UserError: not a CelebA-HQ classifier, or variables that do not fit one.
    """
    settings = celebahq_settings(network)
    if network.components:
        raise UserError(
            f"network {network.name!r} has sub-networks ({', '.join(network.components)}); not a classifier"
        )
    lod = network.variables.get("lod")
    if lod is not None and lod.size == 1 and float(lod) != 0.0:
        raise UserError(
            f"network {network.name!r} was saved at level of detail {float(lod):g} (while growing); "
            "only fully grown networks (lod 0) are supported"
        )
    state = tf_to_state_dict(network.variables)
    try:
        config = config_from_state_dict(state, **settings)
        model = CelebAHQNetwork(config)
        model.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError) as error:
        detail = " ".join(str(error).split())[:300]
        raise UserError(f"network {network.name!r} does not fit the CelebA-HQ classifier network: {detail}") from None
    inputs = int(state["fromrgb.weight"].shape[1])
    declared = network.static_kwargs.get("resolution", config.resolution)
    if inputs != 3 or declared != config.resolution:
        raise UserError(
            f"network {network.name!r} takes {inputs}-channel {config.resolution}-px images "
            f"(its kwargs say {declared} px); expected RGB images and matching kwargs"
        )
    return model.eval(), settings


@dataclass(frozen=True, kw_only=True)
class CelebAHQImport:
    """What ``import_celebahq_pickles`` wrote."""

    out: Path  # the classifier set directory
    attribute_names: tuple[str, ...]  # one per converted file, in index order
    resolution: int  # input size of the networks
    build_func_name: str  # "D_basic" or "D_paper"
    settings: dict[str, Any]  # blur, mbstd_group_size, mbstd_num_features, fmap_decay


def find_celebahq_pickles(directory: str | Path, out: str | Path) -> list[tuple[int, str, Path]]:
    """Check the inputs of an import before any work: (index, slug, path) of each ``.pkl``, by index.

    Raises:
        UserError: no such directory, no ``celebahq-classifier-NN-slug.pkl`` in it, two files with one
            index, or ``out`` exists and is not an empty directory.
    """
    directory, out = Path(directory).expanduser(), Path(out).expanduser()
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "not found"
        raise UserError(f"{directory} {what}; give the folder holding celebahq-classifier-NN-attribute.pkl files")
    files = find_celebahq_files(directory, suffixes=("pkl",))
    if not files:
        raise UserError(
            f"{directory} holds no files named celebahq-classifier-NN-attribute.pkl "
            f"(StyleGAN's names, e.g. celebahq-classifier-00-male.pkl)"
        )
    indices = [index for index, _, _ in files]
    twice = sorted({index for index in indices if indices.count(index) > 1})
    if twice:
        raise UserError(f"{directory}: more than one classifier file with index {', '.join(f'{i:02d}' for i in twice)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} already exists and is not an empty directory; choose a new path")
    return files


def import_celebahq_pickles(
    directory: str | Path,
    out: str | Path,
    *,
    progress: Callable[[int, int, Path, str], None] | None = None,
) -> CelebAHQImport:
    """Turn StyleGAN's ``celebahq-classifier-NN-slug.pkl`` files into one genomekit classifier set.

    Nothing stored in the pickles is executed. The set is written to a temporary sibling of ``out``
    and renamed into place, so ``out`` is absent (or as empty as it was) after an error or Ctrl-C.

    Args:
        directory: folder with the official pickles (any subset of the 40 works).
        out: the classifier set directory to create (absent, or an empty directory).
        progress: called after each file with (done, total, path, one-line description).
    Returns:
        What was written.
    Raises:
        UserError: bad inputs (checked before any file is read), an unreadable or refused pickle, a
            network that is not a CelebA-HQ classifier, or files built with different settings.
    """
    from classifiers.saved import save_classifier_set

    # 1. Inputs, before any work.
    files = find_celebahq_pickles(directory, out)
    out = Path(out).expanduser()

    # 2. Read and convert each file (in memory; nothing is written yet).
    networks, names, first = [], [], None
    for done, (_, slug, path) in enumerate(files, start=1):
        network = read_tflib_pickle(path)
        if not isinstance(network, TFNetwork):
            raise UserError(f"{path} holds {len(network)} networks (a GAN snapshot?), not one classifier")
        try:
            model, settings = tflib_to_celebahq_network(network)
        except UserError as error:
            raise UserError(f"{path.name}: {error}") from None
        described = (network.build_func_name, settings, model.config.resolution)
        if first is None:
            first = (path, *described)
        elif described != first[1:]:
            raise UserError(
                f"{path.name} ({_describe(*described)}) and {first[0].name} ({_describe(*first[1:])}) differ; "
                "one set holds classifiers of one architecture"
            )
        networks.append(model)
        names.append(attribute_name_for_slug(slug))
        if progress is not None:
            progress(done, len(files), path, _describe(*described))
    assert first is not None
    classifier = CelebAHQClassifierSet(names, networks).eval()

    # 3. Write beside `out`, then rename into place.
    training = {
        "source": "StyleGAN TensorFlow CelebA-HQ attribute classifiers (tflib pickles)",
        "files": [path.name for _, _, path in files],
        "build_func_name": first[1],
        "settings": first[2],
    }
    with _atomic_directory(out) as tmp:
        save_classifier_set(classifier, tmp, training=training)
    return CelebAHQImport(
        out=out,
        attribute_names=tuple(names),
        resolution=classifier.resolution,
        build_func_name=first[1],
        settings=first[2],
    )


def _describe(func: str, settings: dict[str, Any], resolution: int) -> str:
    blur = "blur" if settings["blur"] else "no blur"
    return f"{func}, {resolution} px, {blur}, mbstd {settings['mbstd_group_size']}x{settings['mbstd_num_features']}"


@contextlib.contextmanager
def _atomic_directory(path: Path) -> Iterator[Path]:
    """A new directory beside ``path`` to fill; renamed to ``path`` (absent or empty) on success, removed on error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()  # mode 0777 minus the umask, like any directory the user creates
    try:
        yield tmp
        try:
            os.replace(tmp, path)  # atomic; replaces `path` only if it is an empty directory
        except OSError as error:
            raise UserError(f"cannot move the new set into {path}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert StyleGAN CelebA-HQ classifier .npz dumps to state dicts.")
    parser.add_argument("inputs", nargs="+", type=Path, help="celebahq-classifier-NN-attribute.npz files")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--no-blur", action="store_true", help="ProGAN D_paper networks (no [1,2,1] blur)")
    parser.add_argument("--mbstd-group-size", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        written = convert_files(args.inputs, args.out, blur=not args.no_blur, mbstd_group_size=args.mbstd_group_size)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} state dicts to {args.out}; check with: genomekit classifiers info {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
