"""Build pickles laid out as TensorFlow's ``dnnlib.tflib`` writes them, without TensorFlow or dnnlib.

Stand-in classes named ``dnnlib.tflib.network.Network`` and ``dnnlib.util.EasyDict`` are registered
in ``sys.modules`` only while pickling. A Network pickles its ``__getstate__`` dict (version, name,
static_kwargs, components, build_module_src, build_func_name, variables), as tflib does. Every
``build_module_src`` written here would create ``marker`` if it were executed, so tests can assert that
nothing stored in a pickle runs.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

MODULE_NAMES = ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network", "dnnlib.util")


def module_source(marker: Path, func_name: str, parameters: str) -> str:
    """A module that writes ``marker`` when executed and defines ``func_name(parameters)``."""
    return (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('build_module_src was executed')\n\n"
        f"def {func_name}({parameters}):\n"
        "    raise SystemExit('executed')\n"
    )


@contextlib.contextmanager
def tflib_stand_ins() -> Iterator[tuple[type, type]]:
    """(Network, EasyDict) stand-ins importable under tflib's module names for the duration of the block."""
    if any(name in sys.modules for name in MODULE_NAMES):
        raise RuntimeError("a real dnnlib is imported; these stand-ins would shadow it")
    modules = {name: types.ModuleType(name) for name in MODULE_NAMES}

    class Network:
        def __init__(self, state: dict[str, Any]) -> None:
            self._state = state

        def __getstate__(self) -> dict[str, Any]:
            return self._state

    class EasyDict(dict):
        pass

    Network.__module__, Network.__qualname__, Network.__name__ = "dnnlib.tflib.network", "Network", "Network"
    EasyDict.__module__, EasyDict.__qualname__, EasyDict.__name__ = "dnnlib.util", "EasyDict", "EasyDict"
    modules["dnnlib.tflib.network"].Network = Network
    modules["dnnlib.util"].EasyDict = EasyDict
    sys.modules.update(modules)
    try:
        yield Network, EasyDict
    finally:
        for name in MODULE_NAMES:
            sys.modules.pop(name, None)


def network_state(
    name: str,
    build_func_name: str,
    variables: list[tuple[str, Any]],
    *,
    static_kwargs: dict[str, Any] | None = None,
    components: dict[str, Any] | None = None,
    source: str = "",
    version: int = 4,
) -> dict[str, Any]:
    """The dict tflib's ``Network.__getstate__`` returns."""
    return {
        "version": version,
        "name": name,
        "static_kwargs": dict(static_kwargs or {}),
        "components": dict(components or {}),
        "build_module_src": source,
        "build_func_name": build_func_name,
        "variables": list(variables),
    }


def dump_networks(spec: Any, protocol: int = 4) -> bytes:
    """Pickle ``spec`` with every state dict (a dict with "build_func_name") turned into a Network.

    ``spec`` is a state dict, a tuple of them, or any structure of them; components are converted too,
    and ``static_kwargs`` dicts become EasyDicts inside (as tflib's own kwargs often are).
    """
    with tflib_stand_ins() as (Network, EasyDict):

        def build(item: Any) -> Any:
            if isinstance(item, dict) and "build_func_name" in item:
                state = dict(item)
                state["components"] = {k: build(v) for k, v in item["components"].items()}
                state["static_kwargs"] = {
                    k: EasyDict(v) if isinstance(v, dict) else v for k, v in item["static_kwargs"].items()
                }
                return Network(state)
            if isinstance(item, tuple):
                return tuple(build(x) for x in item)
            return item

        return pickle.dumps(build(spec), protocol=protocol)


def celebahq_tf_variables(
    resolution: int, fmap_base: int, fmap_max: int, rng: np.random.Generator, *, mbstd_num_features: int = 1
) -> list[tuple[str, Any]]:
    """Variables of StyleGAN's ``D_basic`` (label_size 0) with its names and TF shapes, random values.

    As in the official classifiers: ``lod`` (a NumPy scalar, what ``tfutil.run`` returns), one
    ``FromRGB_lodN`` per level of detail, ``RxR/Conv0`` and ``RxR/Conv1_down`` per block, then
    ``4x4/Conv`` (+ minibatch-stddev inputs), ``4x4/Dense0`` and ``4x4/Dense1`` (one output).
    """
    log2 = int(np.log2(resolution))

    def nf(stage: int) -> int:
        return min(int(fmap_base / 2.0**stage), fmap_max)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    variables: list[tuple[str, Any]] = [("lod", np.float32(0.0))]
    for res in range(log2, 2, -1):
        size = f"{2**res}x{2**res}"
        variables += [
            (f"{size}/Conv0/weight", normal(3, 3, nf(res - 1), nf(res - 1))),
            (f"{size}/Conv0/bias", 0.1 * normal(nf(res - 1))),
            (f"{size}/Conv1_down/weight", normal(3, 3, nf(res - 1), nf(res - 2))),
            (f"{size}/Conv1_down/bias", 0.1 * normal(nf(res - 2))),
        ]
    variables += [
        ("4x4/Conv/weight", normal(3, 3, nf(1) + mbstd_num_features, nf(1))),
        ("4x4/Conv/bias", 0.1 * normal(nf(1))),
        ("4x4/Dense0/weight", normal(nf(1) * 16, nf(0))),
        ("4x4/Dense0/bias", 0.1 * normal(nf(0))),
        ("4x4/Dense1/weight", normal(nf(0), 1)),
        ("4x4/Dense1/bias", 0.1 * normal(1)),
    ]
    for lod in range(log2 - 1):  # FromRGB_lod0 at full size ... FromRGB_lod(log2 - 2) at 4x4
        variables += [
            (f"FromRGB_lod{lod}/weight", normal(1, 1, 3, nf(log2 - lod - 1))),
            (f"FromRGB_lod{lod}/bias", 0.1 * normal(nf(log2 - lod - 1))),
        ]
    return variables


D_BASIC_PARAMETERS = (
    "images_in, labels_in, num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0, "
    "fmap_max=512, nonlinearity='lrelu', use_wscale=True, mbstd_group_size=4, mbstd_num_features=1, "
    "dtype='float32', fused_scale='auto', blur_filter=[1,2,1], structure='auto', is_template_graph=False, **_kwargs"
)
D_PAPER_PARAMETERS = (
    "images_in, labels_in, num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0, "
    "fmap_max=512, use_wscale=True, mbstd_group_size=4, dtype='float32', fused_scale=True, structure=None, "
    "is_template_graph=False, **_kwargs"
)


def celebahq_classifier_pickle(
    marker: Path,
    variables: list[tuple[str, Any]],
    *,
    resolution: int,
    build_func_name: str = "D_basic",
    static_kwargs: dict[str, Any] | None = None,
    parameters: str | None = None,
    protocol: int = 4,
) -> bytes:
    """One CelebA-HQ classifier as tflib pickles it (version 3: StyleGAN's dnnlib)."""
    if parameters is None:
        parameters = D_BASIC_PARAMETERS if build_func_name == "D_basic" else D_PAPER_PARAMETERS
    kwargs = {"num_channels": 3, "resolution": resolution, "label_size": 0, **(static_kwargs or {})}
    state = network_state(
        "D",
        build_func_name,
        variables,
        static_kwargs=kwargs,
        source=module_source(marker, build_func_name, parameters),
        version=3,
    )
    return dump_networks(state, protocol=protocol)
