"""Pickles with the structure NVlabs' ``torch_utils.persistence`` writes, built without NVlabs' code.

A persistent NVlabs module pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = dict(type='class', version=6, module_src=..., class_name=..., state=module.__dict__)``; its
``state`` holds ``_parameters``, ``_buffers``, ``_modules`` (sub-modules, themselves persistent) and the
constructor arguments ``_init_args`` / ``_init_kwargs``. A plain (undecorated) module class pickles by
reference to its module and name. Here stand-in modules named like NVlabs' are registered in
``sys.modules`` only while pickling.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator

import torch

# Module source that would leave a trace if anything executed it.
TRAP_SOURCE = "import pathlib\npathlib.Path({path!r}).write_text('executed')\n"


def _reconstruct_persistent_obj(meta):  # never called: the pickle only names it
    raise AssertionError("stand-in called")


class Persistent:
    """A node that pickles as NVlabs' persistence does."""

    def __init__(self, class_name: str, state: dict, source: str) -> None:
        self.class_name, self.state, self.source = class_name, state, source

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.source, class_name=self.class_name, state=self.state)
        return (_reconstruct_persistent_obj, (meta,))


class PlainGenome:
    """An undecorated nn.Module-like class in ``training.networks_stylegan2``, pickled by reference."""

    def __init__(self, state: dict) -> None:
        self.__dict__.update(state)


@contextlib.contextmanager
def nvlabs_modules() -> Iterator[None]:
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    networks = types.ModuleType("training.networks_stylegan2")
    networks.Genome = PlainGenome
    saved = {}
    patches = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "training": types.ModuleType("training"),
        "training.networks_stylegan2": networks,
    }
    old = (_reconstruct_persistent_obj.__module__, PlainGenome.__module__, PlainGenome.__qualname__)
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    PlainGenome.__module__, PlainGenome.__qualname__ = "training.networks_stylegan2", "Genome"
    for name, module in patches.items():
        saved[name] = sys.modules.get(name)
        sys.modules[name] = module
    try:
        yield
    finally:
        _reconstruct_persistent_obj.__module__, PlainGenome.__module__, PlainGenome.__qualname__ = old
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _module_state(tensors: dict[str, torch.Tensor], kwargs: dict | None = None) -> dict:
    params = OrderedDict((k, torch.nn.Parameter(v.clone())) for k, v in tensors.items() if "filter" not in k)
    return {
        "training": False,
        "_parameters": params,
        "_buffers": OrderedDict(),
        "_non_persistent_buffers_set": set(),
        "_modules": OrderedDict(),
        "_init_args": (),
        "_init_kwargs": dict(kwargs or {}),
    }


def tree(class_name: str, state: dict[str, torch.Tensor], kwargs: dict | None, source: str, plain_genome=False):
    """A persistent module tree holding ``state`` (NVlabs names) under nested sub-modules."""
    own = {k: v for k, v in state.items() if "." not in k}
    node_state = _module_state(own, kwargs)
    children: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if "." in key:
            head, rest = key.split(".", 1)
            children.setdefault(head, {})[rest] = value
    for name, sub in children.items():
        if plain_genome and name == "mapping":
            genome_state = _module_state(sub)
            genome_state.update(num_genes=sub["genes"].shape[0], gene_length=sub["genes"].shape[2])
            node_state["_modules"][name] = PlainGenome(genome_state)
        else:
            node_state["_modules"][name] = tree(name.capitalize(), sub, None, source)
    return Persistent(class_name, node_state, source)


def snapshot_pickle(
    g_kwargs: dict, g_state: dict, d_kwargs: dict | None, d_state: dict | None, source: str, plain_genome=False
) -> bytes:
    """A stylegan3 training snapshot: dict(G, D, G_ema, augment_pipe, training_set_kwargs)."""
    with nvlabs_modules():
        G = tree("Generator", g_state, g_kwargs, source, plain_genome)
        D = tree("Discriminator", d_state, d_kwargs, source) if d_state is not None else None
        return pickle.dumps(
            dict(G=G, D=D, G_ema=G, augment_pipe=None, training_set_kwargs=dict(path="data.zip", resolution=32))
        )
