"""Read TensorFlow ``dnnlib.tflib`` Network pickles without TensorFlow and without running their code.

(Over 500 lines on purpose: one file format, its restricted unpickler and the name mapping of the
TF networks it holds to NVlabs' PyTorch names, read top to bottom as one specification.)

StyleGAN (v1) and StyleGAN2 (TF) save networks as pickles of ``dnnlib.tflib.network.Network``, whose
``__getstate__`` is a plain dict::

    version           2, 3 (StyleGAN) or 4 (StyleGAN2, StyleGAN2-ADA TF)
    name              "G", "D", "Gs", "G_mapping", ...
    static_kwargs     the build function's keyword arguments (a dict; EasyDicts inside)
    components        sub-Networks by name (a StyleGAN2 G: "mapping" and "synthesis"; absent in version 2)
    build_module_src  the Python source of the module defining the build function
    build_func_name   the build function's name in that module, e.g. "G_main", "D_basic"
    variables         [(local variable name, NumPy array or NumPy scalar), ...] of this network only

A training snapshot is a tuple ``(G, D, Gs)``; each CelebA-HQ attribute classifier is one Network.
TensorFlow's own ``__setstate__`` execs ``build_module_src``; here it is kept as text and never run.
``TFLibUnpickler`` admits exactly the globals such a pickle needs and refuses every other one with a
``UserError`` naming it:

====================================================  =========================================
global in the pickle                                  becomes
====================================================  =========================================
dnnlib.tflib.network.Network                          an inert holder of the state dict above
dnnlib.util.EasyDict, collections.OrderedDict         a dict
numpy.ndarray, numpy.dtype (numeric dtypes only)      themselves
numpy[._]core.multiarray._reconstruct / scalar        NumPy's array / scalar rebuilders
_codecs.encode (latin-1 only)                         bytes (protocol-2 pickles written by Python 3)
copyreg._reconstructor (only for the classes above)   protocol 0/1 object creation
builtins.object, builtins.dict                        its ``base`` argument
====================================================  =========================================

``build_function_defaults`` reads the build function's default arguments from the stored source with
``ast`` (parsing only; literals and constant arithmetic such as ``16 << 10``), so settings left out of
``static_kwargs`` (a classifier's ``blur_filter``, a discriminator's ``mbstd_group_size``) are known.

StyleGAN2 TF generator -> NVlabs PyTorch ``Generator`` (stylegan2-ada-pytorch ``training/networks.py``,
stylegan3 ``training/networks_stylegan2.py``), the facts of NVlabs' ``legacy.py``. TF conv weights are
``[kh, kw, in, out]`` and become ``[out, in, kh, kw]``; dense weights ``[in, out]`` become ``[out, in]``;
up-sampling convs are also flipped in both spatial axes (NVlabs' transposed-conv convention);
TF adds 1 to the style bias at run time, NVlabs stores it (``bias_init=1``). R is each block's resolution::

    TF variable (components joined with "/")     NVlabs key                           transform
    dlatent_avg                                  mapping.w_avg
    mapping/Dense{i}/{weight,bias}               mapping.fc{i}.{weight,bias}          weight.T
    synthesis/4x4/Const/const                    synthesis.b4.const                   [0]
    synthesis/4x4/Conv/weight                    synthesis.b4.conv1.weight            conv
    synthesis/RxR/Conv0_up/weight                synthesis.bR.conv0.weight            flip, conv
    synthesis/RxR/Conv1/weight                   synthesis.bR.conv1.weight            conv
    .../{Conv,Conv0_up,Conv1}/bias               ....{conv1,conv0,conv1}.bias
    .../{Conv,Conv0_up,Conv1}/noise_strength     ....noise_strength                   scalar
    .../{Conv,Conv0_up,Conv1}/mod_weight         ....affine.weight                    .T
    .../{Conv,Conv0_up,Conv1}/mod_bias           ....affine.bias                      + 1
    synthesis/noise{k}                           synthesis.bR.conv{0,1}.noise_const   [0, 0]
                                                 (k = 0 for b4.conv1, 2 log2 R - 5 for conv0, - 4 for conv1)
    synthesis/RxR/ToRGB/{weight,bias}            synthesis.bR.torgb.{weight,bias}     conv
    synthesis/RxR/ToRGB/{mod_weight,mod_bias}    synthesis.bR.torgb.affine.*          .T, + 1
    synthesis/RxR/Skip/weight ('resnet')         synthesis.bR.skip.weight             flip, conv
    lod                                          (dropped: progressive-growing state)

Discriminator (``D_stylegan2``, ADA's ``D_main``): ``RxR/FromRGB`` -> ``bR.fromrgb``, ``RxR/Conv0`` ->
``bR.conv0``, ``RxR/Conv1_down`` -> ``bR.conv1``, ``RxR/Skip`` -> ``bR.skip`` (no flips),
``4x4/Conv`` -> ``b4.conv``, ``4x4/Dense0`` -> ``b4.fc``, ``Output`` -> ``b4.out``.

The ``resample_filter`` buffers are not in the returned state dicts: NVlabs builds them from the
``resample_filter`` constructor argument (``legacy.py`` never copies them either). Every other key of
NVlabs' ``state_dict()`` is produced, in its order, with its shape checked; a TF variable that maps to
nothing is an error, so nothing is silently dropped.

Supported: StyleGAN2 TF (``G_main`` + ``G_mapping`` + ``G_synthesis_stylegan2``; ``D_stylegan2``) and
StyleGAN2-ADA TF (``G_synthesis``, ``D_main``) networks without labels, architectures 'orig', 'skip'
and 'resnet', the TF kwargs ``legacy.py`` knows. Refused with one line: pickle versions below 4, other
build functions (StyleGAN 1 ``G_style``, configs A-D), label conditioning, unknown TF kwargs (e.g.
``fmap_decay``), variables or shapes that do not fit.
"""

from __future__ import annotations

import _compat_pickle
import ast
import collections
import copy
import functools
import io
import math
import pickle
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from genomekit.errors import UserError

REFUSAL = "a tflib pickle holds only networks and NumPy arrays"
KNOWN_VERSIONS = (2, 3, 4)


@dataclass(frozen=True, kw_only=True)
class TFNetwork:
    """One ``dnnlib.tflib.Network`` as stored: its arguments and its own variables, nothing executable."""

    name: str  # "G", "Gs", "D", "G_mapping", "G_synthesis", ...
    build_func_name: str  # "G_main", "G_synthesis_stylegan2", "D_basic", ...
    static_kwargs: dict[str, Any]  # the build function's keyword arguments, as plain Python values
    variables: dict[str, np.ndarray]  # local name ("4x4/Conv/weight") -> value; 0-d arrays for scalars
    components: dict[str, TFNetwork]  # sub-networks by name ("mapping", "synthesis")
    version: int  # tflib's pickle format version
    build_module_src: str | None = field(default=None, repr=False)  # source text; never executed

    def all_variables(self) -> dict[str, np.ndarray]:
        """Own variables and those of the components, the latter prefixed "component/" (recursively)."""
        found = dict(self.variables)
        for prefix, component in self.components.items():
            found.update({f"{prefix}/{name}": value for name, value in component.all_variables().items()})
        return found


# ----------------------------------------------------------------------------------------------------
# The restricted unpickler.


class _NetworkState:
    """What a pickled ``dnnlib.tflib.network.Network`` becomes: a holder of its state, nothing run."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _EasyDictState(dict):
    """``dnnlib.util.EasyDict`` while unpickling (a dict that also accepts a BUILD); plain dict after."""


def _numpy_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("NumPy object arrays are not allowed in a tflib pickle")
    return dtype


def _latin1_bytes(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 uses it for bytes in protocol-2 pickles, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode is allowed only for latin-1 text, got {encoding!r}")
    return text.encode("latin1")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` (protocol 0 and 1) for the holder classes only."""
    if cls is _NetworkState and base is object and state is None:
        return _NetworkState.__new__(_NetworkState)
    if cls in (_EasyDictState, collections.OrderedDict) and base is dict and isinstance(state, dict):
        return cls(state)
    raise pickle.UnpicklingError(f"copyreg._reconstructor is allowed only for networks and dicts, not {cls!r}")


# The functions NumPy names in its pickles, taken from NumPy itself (numpy.core on 1.x, numpy._core on 2.x).
_NUMPY_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
_NUMPY_SCALAR = np.float32(0).__reduce__()[0]

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("dnnlib.tflib.network", "Network"): _NetworkState,
    ("dnnlib.util", "EasyDict"): _EasyDictState,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _NUMPY_SCALAR,
    ("numpy._core.multiarray", "scalar"): _NUMPY_SCALAR,
    ("_codecs", "encode"): _latin1_bytes,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "object"): object,  # the `base` argument of copyreg._reconstructor
    ("builtins", "dict"): dict,
}


class TFLibUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only ``ALLOWED_GLOBALS`` and refuses everything else.

    Args:
        file: a binary stream positioned at the pickle.
        source: how to name the data in messages (a path).
    """

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: NumPy arrays pickled by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocols 0-2 written with fix_imports, or by Python 2): copy_reg, __builtin__, ...
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            pass
        hint = ""
        if module.split(".")[0] in ("torch", "torch_utils"):
            hint = " (this looks like a PyTorch pickle, not a TensorFlow one)"
        raise UserError(f"refusing to load {module}.{name} from {self.source}: {REFUSAL}{hint}")

    def persistent_load(self, pid: Any) -> Any:
        raise UserError(f"refusing a persistent reference in {self.source}: {REFUSAL}")


def read_tflib_pickle(source: str | Path | bytes) -> TFNetwork | tuple[TFNetwork, ...]:
    """Read a tflib pickle: one Network (a CelebA-HQ classifier) or a tuple (StyleGAN2's (G, D, Gs)).

    Nothing stored in the pickle is executed; see the module docstring for what is admitted.

    Args:
        source: a path, or the pickle's bytes.
    Raises:
        UserError: unreadable or missing file, not a pickle, truncated, a refused global, no tflib
            Network inside, or a Network state that is not tflib's layout. One line each.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read(io.BytesIO(bytes(source)), "the given bytes")
    path = Path(source).expanduser()
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a tflib pickle")
    try:
        with open(path, "rb") as file:
            return _read(file, str(path))
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None


def _read(file: BinaryIO, label: str) -> TFNetwork | tuple[TFNetwork, ...]:
    head = file.read(4)
    file.seek(0)
    if not head:
        raise UserError(f"{label} is empty, not a tflib pickle")
    if head.startswith(b"PK"):
        raise UserError(f"{label} is a zip archive (a PyTorch checkpoint or .npz?), not a TensorFlow tflib pickle")
    try:
        data = TFLibUnpickler(file, label).load()
    except UserError:
        raise
    except EOFError:
        raise UserError(f"{label} is truncated or not a pickle: the data ends early") from None
    except Exception as error:  # a corrupt pickle can raise nearly any type
        detail = " ".join(str(error).split())[:200]
        if "truncated" in detail:
            raise UserError(f"{label} is truncated: the pickle data ends early") from None
        raise UserError(f"{label} is not a readable tflib pickle ({type(error).__name__}: {detail})") from None
    if isinstance(data, _NetworkState):
        return _to_network(data, label, set())
    if isinstance(data, (tuple, list)) and data and all(isinstance(item, _NetworkState) for item in data):
        return tuple(_to_network(item, label, set()) for item in data)
    raise UserError(
        f"{label} holds no tflib Network (it holds a {type(data).__name__}); "
        "expected a StyleGAN TF network or a tuple (G, D, Gs)"
    )


def _to_network(holder: _NetworkState, label: str, seen: set[int]) -> TFNetwork:
    if id(holder) in seen:
        raise UserError(f"{label}: a tflib Network contains itself among its components")
    seen = seen | {id(holder)}
    state = getattr(holder, "state", None)
    required = ("version", "name", "static_kwargs", "build_func_name", "variables")
    if not isinstance(state, dict) or any(key not in state for key in required):
        raise UserError(f"{label}: a Network without tflib's state ({', '.join(required)}); not a tflib pickle")
    version = state["version"]
    if not isinstance(version, int) or version not in KNOWN_VERSIONS:
        raise UserError(f"{label}: tflib Network version {version!r} is not one this reader knows {KNOWN_VERSIONS}")
    name, func = state["name"], state["build_func_name"]
    if not isinstance(name, str) or not isinstance(func, str):
        raise UserError(f"{label}: a tflib Network's name and build_func_name must be text")
    kwargs = _plain(state["static_kwargs"], label)
    if not isinstance(kwargs, dict):
        raise UserError(f"{label}: network {name!r} has static_kwargs of type {type(kwargs).__name__}, not a dict")
    variables: dict[str, np.ndarray] = {}
    pairs = state["variables"]
    if not isinstance(pairs, (list, tuple)):
        raise UserError(f"{label}: network {name!r} has variables of type {type(pairs).__name__}, not a list")
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise UserError(f"{label}: network {name!r} has a variable entry that is not a (name, array) pair")
        var_name, value = pair
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise UserError(f"{label}: variable {name}/{var_name} has dtype {array.dtype}, not a numeric array")
        if var_name in variables:
            raise UserError(f"{label}: network {name!r} lists variable {var_name!r} twice")
        variables[var_name] = array
    components_raw = state.get("components") or {}
    if not isinstance(components_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, _NetworkState) for k, v in components_raw.items()
    ):
        raise UserError(f"{label}: network {name!r} has components that are not tflib Networks")
    source = state.get("build_module_src")
    return TFNetwork(
        name=name,
        build_func_name=func,
        static_kwargs=kwargs,
        variables=variables,
        components={key: _to_network(value, label, seen) for key, value in components_raw.items()},
        version=version,
        build_module_src=source if isinstance(source, str) else None,
    )


def _plain(value: Any, label: str) -> Any:
    """EasyDicts and OrderedDicts to dicts, NumPy scalars to Python numbers, recursively."""
    if isinstance(value, dict):
        return {key: _plain(item, label) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, label) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item, label) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, _NetworkState):
        raise UserError(f"{label}: a tflib Network inside static_kwargs is not supported")
    return value


# ----------------------------------------------------------------------------------------------------
# Build-function defaults, read from the stored source without running it.


class _NotConstant(Exception):
    pass


def _constant(node: ast.AST) -> Any:
    """A default argument's value if it is a literal or constant integer/float arithmetic."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, str, type(None))):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_constant(item) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _constant(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _constant(node.left), _constant(node.right)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if numbers and all(math.isfinite(v) and abs(v) < 2**64 for v in (left, right)):
            if (
                isinstance(node.op, ast.LShift)
                and isinstance(left, int)
                and isinstance(right, int)
                and 0 <= right <= 64
            ):
                return left << right
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div) and right != 0:
                return left / right
    raise _NotConstant


@functools.lru_cache(maxsize=32)
def _source_defaults(source: str, func_name: str) -> tuple[tuple[str, Any], ...]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func_name:
            positional = node.args.posonlyargs + node.args.args
            pairs = list(zip(positional[len(positional) - len(node.args.defaults) :], node.args.defaults, strict=True))
            pairs += [
                (arg, d) for arg, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d is not None
            ]
            found = []
            for arg, default in pairs:
                try:
                    found.append((arg.arg, _constant(default)))
                except (_NotConstant, RecursionError):
                    continue
            return tuple(found)
    return ()


def build_function_defaults(network: TFNetwork) -> dict[str, Any]:
    """The build function's literal default arguments, parsed (never run) from ``build_module_src``.

    Empty when the source is missing, does not parse, or does not define ``build_func_name``.
    """
    if not network.build_module_src:
        return {}
    return copy.deepcopy(dict(_source_defaults(network.build_module_src, network.build_func_name)))


def network_kwargs(network: TFNetwork) -> dict[str, Any]:
    """The arguments the build function ran with: its source defaults, overridden by ``static_kwargs``."""
    return {**build_function_defaults(network), **network.static_kwargs}


# ----------------------------------------------------------------------------------------------------
# StyleGAN2 TF -> NVlabs PyTorch names.

GENERATOR_FUNCTIONS = ("G_main",)
MAPPING_FUNCTIONS = ("G_mapping",)
SYNTHESIS_FUNCTIONS = ("G_synthesis_stylegan2", "G_synthesis")  # StyleGAN2 TF, StyleGAN2-ADA TF
DISCRIMINATOR_FUNCTIONS = ("D_stylegan2", "D_main")
ARCHITECTURES = ("orig", "skip", "resnet")
_DROPPED = re.compile(r"(^|/)lod$")  # progressive-growing level of detail: not a weight


class _Kwargs:
    """legacy.py's ``kwarg()``: a TF argument from static_kwargs, else the stored source, else NVlabs' default."""

    def __init__(self, network: TFNetwork, sources: Iterable[TFNetwork]) -> None:
        self.static = network.static_kwargs
        self.defaults: dict[str, Any] = {}
        for source in sources:
            self.defaults = {**build_function_defaults(source), **self.defaults}
        self.known: set[str] = set()

    def __call__(self, name: str, default: Any = None, none: Any = None) -> Any:
        self.known.add(name)
        value = self.static.get(name, self.defaults.get(name, default))
        return value if value is not None else none

    def check_unknown(self, label: str) -> None:
        unknown = sorted(set(self.static) - self.known)
        if unknown:
            shown = ", ".join(f"{key}={self.static[key]!r}" for key in unknown[:3])
            raise UserError(
                f"{label}: TF kwarg {shown} is not supported (NVlabs' legacy.py knows: {', '.join(sorted(self.known))})"
            )


def _dense(a: np.ndarray) -> np.ndarray:
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 2, 0, 1)


def _conv_flipped(a: np.ndarray) -> np.ndarray:
    return a[::-1, ::-1].transpose(3, 2, 0, 1)


def _plus_one(a: np.ndarray) -> np.ndarray:
    return a + 1


def _same(a: np.ndarray) -> np.ndarray:
    return a


_Entry = tuple[str, str, Callable[[np.ndarray], np.ndarray], tuple[int, ...]]  # key, TF name, transform, shape


def _convert(entries: list[_Entry], params: dict[str, np.ndarray], label: str) -> dict[str, np.ndarray]:
    """Fill every NVlabs key from its TF variable, check its shape, refuse TF variables left over."""
    state: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for key, tf_name, transform, shape in entries:
        if tf_name not in params:
            raise UserError(f"{label} lacks TF variable {tf_name!r} (for {key}); not the network its kwargs describe")
        value = np.array(transform(np.asarray(params[tf_name], dtype=np.float32)), dtype=np.float32, order="C")
        if tuple(value.shape) != shape:
            raise UserError(
                f"{label}: TF variable {tf_name!r} gives {key} the shape {list(value.shape)}, expected {list(shape)} "
                "from the network's kwargs"
            )
        state[key] = value
        used.add(tf_name)
    left = sorted(name for name in params if name not in used and not _DROPPED.search(name))
    if left:
        more = f" and {len(left) - 3} more" if len(left) > 3 else ""
        raise UserError(f"{label} has TF variables that map to nothing in NVlabs' network: {', '.join(left[:3])}{more}")
    return state


def _check_function(network: TFNetwork, allowed: tuple[str, ...], what: str, label: str) -> None:
    if network.build_func_name not in allowed:
        raise UserError(
            f"{label}: {what} built by {network.build_func_name!r} is not supported "
            f"(StyleGAN2 TF networks only: {', '.join(allowed)}; StyleGAN 1 and StyleGAN2 configs A-D are not)"
        )


def _check_version(network: TFNetwork, label: str) -> None:
    if network.version < 4:
        raise UserError(
            f"{label}: tflib pickle version {network.version} is StyleGAN 1 or older; only StyleGAN2 (version 4) converts"
        )


def tf_stylegan2_generator_to_nvlabs(G: TFNetwork) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A StyleGAN2 TF generator (``Gs`` or ``G``) as NVlabs ``Generator`` kwargs and state dict.

    Args:
        G: the generator, as ``read_tflib_pickle`` returns it (``G_main`` with components
            ``mapping`` and ``synthesis``).
    Returns:
        (kwargs, state): ``networks_stylegan2.Generator(**kwargs)`` constructor arguments (z_dim, c_dim,
        w_dim, img_resolution, img_channels, mapping_kwargs, synthesis_kwargs; channel_base = 2 *
        fmap_base as in legacy.py; num_fp16_res = 0) and float32 arrays under NVlabs' key names and
        layouts (all keys of its ``state_dict()`` except ``resample_filter`` buffers).
    Raises:
        UserError: an unsupported network, kwarg, variable or shape (module docstring).
    """
    label = f"generator {G.name!r}"
    _check_version(G, label)
    _check_function(G, GENERATOR_FUNCTIONS, "a generator", label)
    for part, allowed in (("mapping", MAPPING_FUNCTIONS), ("synthesis", SYNTHESIS_FUNCTIONS)):
        if part not in G.components:
            raise UserError(f"{label} has no {part!r} component; components: {sorted(G.components) or 'none'}")
        _check_function(G.components[part], allowed, f"its {part} network", label)
    mapping_net, synthesis_net = G.components["mapping"], G.components["synthesis"]

    # 1. Constructor arguments, as legacy.py's convert_tf_generator derives them.
    kwarg = _Kwargs(G, [G, mapping_net, synthesis_net])
    c_dim = kwarg("label_size", 0)
    mapping_kwargs = {
        "num_layers": kwarg("mapping_layers", 8),
        "embed_features": kwarg("label_fmaps", None),
        "layer_features": kwarg("mapping_fmaps", None),
        "activation": kwarg("mapping_nonlinearity", "lrelu"),
        "lr_multiplier": kwarg("mapping_lrmul", 0.01),
        "w_avg_beta": kwarg("w_avg_beta", 0.995, none=1),
    }
    synthesis_kwargs = {
        "channel_base": kwarg("fmap_base", 16384) * 2,
        "channel_max": kwarg("fmap_max", 512),
        "num_fp16_res": 0,  # a speed setting, not part of the weights
        "conv_clamp": kwarg("conv_clamp", None),
        "architecture": kwarg("architecture", "skip"),
        "resample_filter": kwarg("resample_kernel", [1, 3, 3, 1]),
        "use_noise": kwarg("use_noise", True),
        "activation": kwarg("nonlinearity", "lrelu"),
    }
    kwarg("num_fp16_res", 0)
    kwargs = {
        "z_dim": kwarg("latent_size", 512),
        "c_dim": c_dim,
        "w_dim": kwarg("dlatent_size", 512),
        "img_resolution": kwarg("resolution", 1024),
        "img_channels": kwarg("num_channels", 3),
        "mapping_kwargs": mapping_kwargs,
        "synthesis_kwargs": synthesis_kwargs,
    }
    for name in ("truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure"):
        kwarg(name)  # run-time settings of G_main, not part of the network
    kwarg.check_unknown(label)
    if c_dim:
        raise UserError(f"{label} is conditioned on labels (label_size={c_dim}); only unconditional generators convert")
    architecture = synthesis_kwargs["architecture"]
    if architecture not in ARCHITECTURES:
        raise UserError(f"{label}: architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    resolution = kwargs["img_resolution"]
    if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
        raise UserError(f"{label}: resolution {resolution!r} is not a power of two >= 4")

    # 2. The NVlabs keys in state_dict() order (synthesis, then mapping), each with its TF source.
    w_dim, channels = kwargs["w_dim"], kwargs["img_channels"]
    base, cap = synthesis_kwargs["channel_base"], synthesis_kwargs["channel_max"]
    block_resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
    width = {res: min(base // res, cap) for res in block_resolutions}
    use_noise = synthesis_kwargs["use_noise"]
    entries: list[_Entry] = []
    for res in block_resolutions:
        b, s, log2 = f"synthesis.b{res}", f"synthesis/{res}x{res}", int(math.log2(res))
        if res == 4:
            entries.append((f"{b}.const", "synthesis/4x4/Const/const", lambda a: a[0], (width[4], 4, 4)))
            layers = [("conv1", f"{s}/Conv", width[4], 0, _conv)]
        else:
            layers = [
                ("conv0", f"{s}/Conv0_up", width[res // 2], 2 * log2 - 5, _conv_flipped),
                ("conv1", f"{s}/Conv1", width[res], 2 * log2 - 4, _conv),
            ]
        for layer, tf_layer, in_channels, noise_index, conv in layers:
            key = f"{b}.{layer}"
            entries.append((f"{key}.weight", f"{tf_layer}/weight", conv, (width[res], in_channels, 3, 3)))
            if use_noise:
                entries.append((f"{key}.noise_strength", f"{tf_layer}/noise_strength", _same, ()))
            entries.append((f"{key}.bias", f"{tf_layer}/bias", _same, (width[res],)))
            if use_noise:
                entries.append((f"{key}.noise_const", f"synthesis/noise{noise_index}", lambda a: a[0, 0], (res, res)))
            entries.append((f"{key}.affine.weight", f"{tf_layer}/mod_weight", _dense, (in_channels, w_dim)))
            entries.append((f"{key}.affine.bias", f"{tf_layer}/mod_bias", _plus_one, (in_channels,)))
        if res == resolution or architecture == "skip":
            entries += [
                (f"{b}.torgb.weight", f"{s}/ToRGB/weight", _conv, (channels, width[res], 1, 1)),
                (f"{b}.torgb.bias", f"{s}/ToRGB/bias", _same, (channels,)),
                (f"{b}.torgb.affine.weight", f"{s}/ToRGB/mod_weight", _dense, (width[res], w_dim)),
                (f"{b}.torgb.affine.bias", f"{s}/ToRGB/mod_bias", _plus_one, (width[res],)),
            ]
        if res > 4 and architecture == "resnet":
            entries.append((f"{b}.skip.weight", f"{s}/Skip/weight", _conv_flipped, (width[res], width[res // 2], 1, 1)))
    entries.append(("mapping.w_avg", "dlatent_avg", _same, (w_dim,)))
    num_layers, hidden = mapping_kwargs["num_layers"], mapping_kwargs["layer_features"] or w_dim
    features = [kwargs["z_dim"]] + [hidden] * (num_layers - 1) + [w_dim]
    for i in range(num_layers):
        entries.append((f"mapping.fc{i}.weight", f"mapping/Dense{i}/weight", _dense, (features[i + 1], features[i])))
        entries.append((f"mapping.fc{i}.bias", f"mapping/Dense{i}/bias", _same, (features[i + 1],)))
    return kwargs, _convert(entries, G.all_variables(), label)


def tf_stylegan2_discriminator_to_nvlabs(D: TFNetwork) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A StyleGAN2 TF discriminator as NVlabs ``Discriminator`` kwargs and state dict.

    Args:
        D: the discriminator (``D_stylegan2``, or StyleGAN2-ADA TF's ``D_main``).
    Returns:
        (kwargs, state) as for the generator: ``networks_stylegan2.Discriminator(**kwargs)`` arguments
        (``epilogue_kwargs.mbstd_group_size`` from static_kwargs, else the stored source's default,
        else None as in legacy.py) and float32 arrays under NVlabs' names (no ``resample_filter``).
    Raises:
        UserError: an unsupported network, kwarg, variable or shape.
    """
    label = f"discriminator {D.name!r}"
    _check_version(D, label)
    _check_function(D, DISCRIMINATOR_FUNCTIONS, "a discriminator", label)
    kwarg = _Kwargs(D, [D])
    c_dim = kwarg("label_size", 0)
    group_size = kwarg("mbstd_group_size", None)
    mbstd_channels = kwarg("mbstd_num_features", 1)
    if group_size is not None and group_size <= 1:
        mbstd_channels = 0  # TF: minibatch stddev only for groups of two or more
    kwargs = {
        "c_dim": c_dim,
        "img_resolution": kwarg("resolution", 1024),
        "img_channels": kwarg("num_channels", 3),
        "architecture": kwarg("architecture", "resnet"),
        "channel_base": kwarg("fmap_base", 16384) * 2,
        "channel_max": kwarg("fmap_max", 512),
        "num_fp16_res": 0,
        "conv_clamp": kwarg("conv_clamp", None),
        "cmap_dim": kwarg("mapping_fmaps", None),
        "block_kwargs": {
            "activation": kwarg("nonlinearity", "lrelu"),
            "resample_filter": kwarg("resample_kernel", [1, 3, 3, 1]),
            "freeze_layers": kwarg("freeze_layers", 0),
        },
        "mapping_kwargs": {
            "num_layers": kwarg("mapping_layers", 0),
            "embed_features": kwarg("mapping_fmaps", None),
            "layer_features": kwarg("mapping_fmaps", None),
            "activation": kwarg("nonlinearity", "lrelu"),
            "lr_multiplier": kwarg("mapping_lrmul", 0.1),
        },
        "epilogue_kwargs": {
            "mbstd_group_size": group_size,
            "mbstd_num_channels": mbstd_channels,
            "activation": kwarg("nonlinearity", "lrelu"),
        },
    }
    for name in ("num_fp16_res", "structure"):
        kwarg(name)
    kwarg.check_unknown(label)
    if c_dim:
        raise UserError(f"{label} is conditioned on labels (label_size={c_dim}); only unconditional networks convert")
    architecture, resolution = kwargs["architecture"], kwargs["img_resolution"]
    if architecture not in ARCHITECTURES:
        raise UserError(f"{label}: architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    if not isinstance(resolution, int) or resolution < 8 or resolution & (resolution - 1):
        raise UserError(f"{label}: resolution {resolution!r} is not a power of two >= 8")

    channels, base, cap = kwargs["img_channels"], kwargs["channel_base"], kwargs["channel_max"]
    block_resolutions = [2**i for i in range(int(math.log2(resolution)), 2, -1)]
    width = {res: min(base // res, cap) for res in [*block_resolutions, 4]}
    entries: list[_Entry] = []
    for res in block_resolutions:
        b, s, tmp, out = f"b{res}", f"{res}x{res}", width[res], width[res // 2]
        if res == resolution or architecture == "skip":
            entries.append((f"{b}.fromrgb.weight", f"{s}/FromRGB/weight", _conv, (tmp, channels, 1, 1)))
            entries.append((f"{b}.fromrgb.bias", f"{s}/FromRGB/bias", _same, (tmp,)))
        entries += [
            (f"{b}.conv0.weight", f"{s}/Conv0/weight", _conv, (tmp, tmp, 3, 3)),
            (f"{b}.conv0.bias", f"{s}/Conv0/bias", _same, (tmp,)),
            (f"{b}.conv1.weight", f"{s}/Conv1_down/weight", _conv, (out, tmp, 3, 3)),
            (f"{b}.conv1.bias", f"{s}/Conv1_down/bias", _same, (out,)),
        ]
        if architecture == "resnet":
            entries.append((f"{b}.skip.weight", f"{s}/Skip/weight", _conv, (out, tmp, 1, 1)))
    c4 = width[4]
    if architecture == "skip":
        entries.append(("b4.fromrgb.weight", "4x4/FromRGB/weight", _conv, (c4, channels, 1, 1)))
        entries.append(("b4.fromrgb.bias", "4x4/FromRGB/bias", _same, (c4,)))
    entries += [
        ("b4.conv.weight", "4x4/Conv/weight", _conv, (c4, c4 + mbstd_channels, 3, 3)),
        ("b4.conv.bias", "4x4/Conv/bias", _same, (c4,)),
        ("b4.fc.weight", "4x4/Dense0/weight", _dense, (c4, c4 * 16)),
        ("b4.fc.bias", "4x4/Dense0/bias", _same, (c4,)),
        ("b4.out.weight", "Output/weight", _dense, (1, c4)),
        ("b4.out.bias", "Output/bias", _same, (1,)),
    ]
    return kwargs, _convert(entries, D.all_variables(), label)
