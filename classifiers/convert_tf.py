"""Convert StyleGAN's TensorFlow CelebA-HQ classifiers to PyTorch state dicts that genomekit loads.

The official files (``celebahq-classifier-00-male.pkl`` ... ``-39-wearing-necktie.pkl``) are pickles
of ``dnnlib.tflib.Network`` objects and need TensorFlow 1.x and the StyleGAN code to open. Step 1 runs
there, once, and writes each network's variables to a NumPy ``.npz``; step 2 runs here::

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

If ``build_func_name`` is ``networks_progan.D_paper`` (no blur), pass ``--no-blur``; ``celebahq.json``
in the output directory records the choice.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from classifiers.celebahq import FILE_PATTERN, SETTINGS_FILE
from genomekit.errors import UserError
from genomekit.fileio import atomic_path, write_json

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
