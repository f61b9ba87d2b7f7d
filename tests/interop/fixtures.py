"""Reading the NVlabs golden fixtures (tests/fixtures/nvlabs, made by scripts/make_nvlabs_fixtures.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from tests.interop.nvlabs_weights import fill_state

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nvlabs"


@dataclass
class Fixture:
    name: str
    meta: dict  # the fixture's metadata: init_kwargs, weight_seed, state_keys, ...
    tensors: dict[str, torch.Tensor]  # reference inputs and NVlabs' outputs

    @property
    def state(self) -> dict[str, torch.Tensor]:
        """The NVlabs state dict (NVlabs names) the outputs were computed with."""
        return fill_state(self.meta["state_keys"], self.meta["weight_seed"])

    @property
    def repository(self) -> str:
        return "stylegan2-ada-pytorch" if "ada" in self.meta["nvlabs_repository"] else "stylegan3"


def load_fixture(name: str) -> Fixture:
    path = FIXTURES / f"{name}.safetensors"
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["fixture"])
    return Fixture(name=name, meta=meta, tensors=load_file(str(path)))


def fixture_names(kind: str) -> list[str]:
    names = []
    for path in sorted(FIXTURES.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            if json.loads(f.metadata()["fixture"])["kind"] == kind:
                names.append(path.stem)
    return names
