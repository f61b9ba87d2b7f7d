"""A restricted unpickler for NVlabs' PyTorch pickles (stylegan2-ada-pytorch, stylegan3).

NVlabs pickles their networks with ``torch_utils.persistence``: every decorated module pickles as
``_reconstruct_persistent_obj(meta)``, where ``meta`` holds the *source code* of its Python module, the
class name and the module's ``__dict__`` (parameters, buffers, sub-modules, constructor arguments).
Unpickling with ``pickle.load`` executes that source. Here nothing stored in the file runs:

* ``torch_utils.persistence._reconstruct_persistent_obj`` returns an inert ``StoredModule`` with the
  class name and state (the source is kept as text, never compiled);
* a plain class reference from NVlabs' ``training`` package (e.g. an undecorated ``Genome`` module that
  lives in ``training.networks_stylegan2``) becomes a ``StoredModule`` too, filled by ``__setstate__``;
* tensors are rebuilt by ``torch.load(..., weights_only=True)`` of their stored bytes, NumPy scalars
  and arrays by NumPy's own reconstructors, ``dnnlib.EasyDict`` as a dict;
* every other global is refused with ``RefusedGlobal``, before anything is called.
"""

from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genomekit.errors import UserError

try:  # NumPy 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # NumPy 1
    from numpy.core import multiarray as _multiarray


class RefusedGlobal(UserError):
    """The pickle names a function or class that an NVlabs network pickle never needs."""


@dataclass
class StoredModule:
    """An NVlabs module as stored: class name, constructor arguments and ``__dict__``, inert."""

    class_name: str
    module: str = ""  # the Python module of a plain class reference; "" for a persistent class
    state: dict = field(default_factory=dict)
    persistent: bool = False  # pickled through torch_utils.persistence (source code stored beside it)
    source: str = ""  # the stored module source (persistent classes), kept as text and never run

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args", ()))

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs", {}))

    @property
    def children(self) -> dict[str, StoredModule]:
        return {k: v for k, v in (self.state.get("_modules") or {}).items() if isinstance(v, StoredModule)}

    def attribute(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers under their dotted names, as ``nn.Module.state_dict`` lists them."""
        out: dict[str, torch.Tensor] = {}
        for name, value in (self.state.get("_parameters") or {}).items():
            if value is not None:
                out[prefix + name] = torch.as_tensor(value).detach()
        skipped = set(self.state.get("_non_persistent_buffers_set") or ())
        for name, value in (self.state.get("_buffers") or {}).items():
            if value is not None and name not in skipped:
                out[prefix + name] = torch.as_tensor(value).detach()
        for name, child in self.children.items():
            out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def __setstate__(self, state: Any) -> None:  # a plain class reference's BUILD
        self.state = dict(state) if isinstance(state, dict) else {"_state": state}


def _reconstruct_persistent(meta: dict) -> StoredModule:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise RefusedGlobal("the pickle holds a persistent object that is not a class instance")
    return StoredModule(
        class_name=str(meta.get("class_name", "")),
        state=dict(meta.get("state") or {}),
        persistent=True,
        source=str(meta.get("module_src", "")),
    )


def _stored_class(module: str, name: str) -> type:
    """A stand-in class for a plain class reference: NEWOBJ and BUILD make an inert StoredModule."""

    def new(cls: type, *args: Any, **kwargs: Any) -> StoredModule:
        return StoredModule(class_name=name, module=module)

    return type(name, (), {"__new__": new, "__module__": module})


def _load_storage_bytes(data: bytes) -> Any:
    # torch pickles a storage as torch.save(storage) bytes (legacy format); weights_only reads only tensors.
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, *rest: Any) -> torch.Tensor:
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, collections.OrderedDict())


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, *rest: Any) -> torch.Tensor:
    return data  # a Parameter is only its tensor here


def _reconstructor(cls: type, base: type, state: Any) -> Any:  # copyreg._reconstructor, protocols 0 and 1
    if base is not object:
        raise RefusedGlobal(f"the pickle reconstructs {cls.__name__} from {base!r}")
    return cls.__new__(cls)


class _EasyDict(dict):
    """dnnlib.EasyDict read as a plain dict."""


_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}

_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "object"): object,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("torch", "device"): torch.device,
    ("torch", "Size"): torch.Size,
}
for _numpy in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_numpy, "scalar")] = _multiarray.scalar
    _ALLOWED[(_numpy, "_reconstruct")] = _multiarray._reconstruct
_ALLOWED[("numpy", "dtype")] = np.dtype
_ALLOWED[("numpy", "ndarray")] = np.ndarray
for _dtype in _DTYPES:
    _ALLOWED[("torch", _dtype)] = getattr(torch, _dtype)

# NVlabs' own packages: a class referenced from here (not a function) becomes an inert StoredModule.
_NVLABS_PACKAGES = ("training.", "torch_utils.", "networks")


class NVlabsUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals an NVlabs network pickle needs (module docstring)."""

    def __init__(self, file: Any, source_name: str = "the pickle") -> None:
        super().__init__(file)
        self.source_name = source_name

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module.startswith(_NVLABS_PACKAGES) and name[:1].isupper() and name.isidentifier():
            return _stored_class(module, name)
        raise RefusedGlobal(
            f"refusing to load {module}.{name} from {self.source_name}: an NVlabs network pickle holds only "
            "networks, tensors and plain values, and genomekit never runs code stored in a file"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobal(f"{self.source_name} uses persistent ids ({str(pid)[:60]}); it is not an NVlabs pickle")


def load_nvlabs_pickle(data: bytes, source_name: str = "the pickle") -> Any:
    """Unpickle ``data`` with ``NVlabsUnpickler``; UserError for a file that is not a readable pickle."""
    try:
        return NVlabsUnpickler(io.BytesIO(data), source_name).load()
    except UserError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise UserError(f"{source_name} is not a readable NVlabs pickle ({type(error).__name__}: {error})") from None
    except RuntimeError as error:  # torch.load of a tensor's bytes
        raise UserError(f"{source_name} holds a tensor that cannot be read ({str(error)[:160]})") from None
