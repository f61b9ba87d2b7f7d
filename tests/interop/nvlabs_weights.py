"""Deterministic random weights for an NVlabs StyleGAN2 state dict, made from a seed.

The NVlabs reference fixtures in `tests/fixtures/nvlabs/` store only inputs and outputs. The weights
that produced them are regenerated here from the seed recorded in each fixture, so neither NVlabs
code nor NVlabs weights live in this repository. `scripts/make_nvlabs_fixtures.py` (which loads the
weights into NVlabs' own classes) and the CI tests (which load them into genomekit's) both call
`fill_state`, so any change to it invalidates every fixture.
"""

import re

import torch

RESAMPLE_FILTER_SUFFIX = "resample_filter"  # fixed [1,3,3,1] buffers: never filled, never listed
MAPPING_LR_MULTIPLIER = 0.01  # NVlabs' MappingNetwork default; its layers store weight / lr_multiplier
MAPPING_LAYER = re.compile(r"(^|\.)mapping\.fc\d+\.(weight|bias)$")  # G.mapping.fc{i}.weight / .bias


def fill_state(keys_and_shapes: list[tuple[str, list[int]]], seed: int) -> dict[str, torch.Tensor]:
    """Random float32 tensors for the given state-dict keys, reproducible from `seed`.

    One `torch.Generator().manual_seed(seed)` is drawn from in the order of `keys_and_shapes`
    (NVlabs' `state_dict()` order), one `t = torch.randn(shape, generator=g)` per key, then scaled
    by the key's name so that every term of the networks stays in a useful range:

    - keys ending in `affine.bias`: `1 + 0.2 * t` (style biases around NVlabs' `bias_init=1`);
    - other keys ending in `.bias`: `0.2 * t`;
    - keys ending in `noise_strength`: `0.1 * t`;
    - keys ending in `w_avg`: `0.5 * t`;
    - everything else (conv and fc `weight`, `const`, `noise_const`, a Genome's `genes`): `t`;
    - then mapping-network layers (`mapping.fc{i}.weight` and `.bias`) are divided by
      `MAPPING_LR_MULTIPLIER` = 0.01, as NVlabs' own init does (`randn / lr_multiplier`): their
      forward multiplies by `lr_multiplier` again, so the effective weights are `t / sqrt(in_features)`
      and biases `0.2 * t`. Without this every mapping layer would shrink its input 100-fold and the
      images would not depend on `z` to within 1e-4.

    Keys ending in `resample_filter` must not be listed: those buffers keep NVlabs' [1,3,3,1] filter
    as constructed.

    Args:
        keys_and_shapes: (key, shape) pairs in state-dict order, as stored in a fixture's
            `state_keys` metadata; a shape of `[]` is a scalar.
        seed: the fixture's `weight_seed`.
    Returns:
        {key: tensor of that shape}, in the given order.
    """
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in keys_and_shapes:
        if key.endswith(RESAMPLE_FILTER_SUFFIX):
            raise ValueError(f"{key!r}: resample_filter buffers keep NVlabs' filter and must not be listed")
        t = torch.randn(list(shape), generator=generator)
        if key.endswith("affine.bias"):
            t = 1 + 0.2 * t
        elif key.endswith(".bias"):
            t = 0.2 * t
        elif key.endswith("noise_strength"):
            t = 0.1 * t
        elif key.endswith("w_avg"):
            t = 0.5 * t
        if MAPPING_LAYER.search(key):
            t = t / MAPPING_LR_MULTIPLIER
        state[key] = t
    return state
