"""Stopping a training run between steps: the exception that says where its checkpoint is, and the
guard that undoes a step an interrupt landed in."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from genomekit.training.checkpoint import TrainingState


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on request or Ctrl-C after writing the checkpoint of a step boundary.

    A KeyboardInterrupt, so that code which does not know it still treats it as Ctrl-C.

    Attributes:
        path: the checkpoint written; ``train(..., resume=True)`` continues from it.
        nimg: real images shown so far (``kimg`` in thousands).
    """

    def __init__(self, path: str | Path, nimg: int) -> None:
        super().__init__(f"interrupted at {nimg / 1000:g} kimg; checkpoint saved to {path}")
        self.path = Path(path)
        self.nimg = nimg

    @property
    def kimg(self) -> float:
        return self.nimg / 1000

    def __reduce__(self):
        return type(self), (self.path, self.nimg)


class _StepGuard:
    """The training state at the start of a step, so that an interrupt in the middle of it can be undone.

    A step updates the RNG, G, D, both Adam states, G_ema and the counters one after another, and
    KeyboardInterrupt may land anywhere among them. Copying every tensor before each step costs under
    1% of a CPU step (the default config, 2.5M parameters: 8 ms of 1.3 s) and holds one more copy of the
    weights and Adam moments.
    """

    def __init__(self, state: TrainingState) -> None:
        self.state = state
        self._keys: list[tuple] = []  # (module, name) or (optimizer, parameter, name), one per backup
        self._signature: list[tuple] = []  # the keys with objects replaced by their ids
        self._backup: list[Tensor] = []
        self._scalars: tuple = ()

    def save(self) -> None:
        state = self.state
        keys, live = [], []
        for module in (state.G, state.G_ema, state.D):
            for name, tensor in module.state_dict().items():
                keys.append((module, name))
                live.append(tensor)
        for opt in (state.opt_G, state.opt_D):
            for param, values in opt.state.items():  # empty until the first step creates Adam's moments
                for name, value in values.items():
                    keys.append((opt, param, name))
                    live.append(value)
        # The same tensors in the same order as last time (always, after Adam's first step): copy in place.
        signature = [tuple(id(part) for part in key[:-1]) + key[-1:] for key in keys]
        if signature != self._signature:
            self._keys, self._signature = keys, signature
            self._backup = [t.detach().clone() for t in live]
        else:
            torch._foreach_copy_(self._backup, live)  # one call, not hundreds of copy kernels
        self._scalars = (
            state.rng.get_state(),
            state.step,
            state.nimg,
            state.pl_mean.clone(),
            dict(state.metric_sums),
            state.metric_count,
        )

    def restore(self) -> None:
        """Put the saved state back (the guard is spent: its tensors become the state's)."""
        state = self.state
        modules: dict[nn.Module, dict[str, Tensor]] = {}
        optimizers: dict[torch.optim.Optimizer, dict[Tensor, dict[str, Tensor]]] = {}
        for key, value in zip(self._keys, self._backup, strict=True):
            if len(key) == 2:
                modules.setdefault(key[0], {})[key[1]] = value
            else:
                optimizers.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = value
        for module, tensors in modules.items():
            module.load_state_dict(tensors)
        for opt in (state.opt_G, state.opt_D):
            opt.state.clear()
            opt.state.update(optimizers.get(opt, {}))
        rng, state.step, state.nimg, state.pl_mean, state.metric_sums, state.metric_count = self._scalars
        state.rng.set_state(rng)
