"""``torch.compile`` for the forward passes, with a fallback to eager execution.

``compile_module(module, enabled)`` returns something called exactly like ``module``: the module itself
when compiling is off or cannot run here, else a ``CompiledModule`` whose calls run through
``torch.compile`` and whose attributes (``parameters()``, ``state_dict()``, ``config`` ...) are the
module's own. The module is not changed, so checkpoints keep their keys and the eager module stays at
hand for the passes that must not be compiled.

What to compile, and what not:

* G forward (``Generator`` or ``G.synthesis``): with ``noise_mode="const"``, or ``"random"`` with the
  maps drawn up front (``draw_noise`` and ``noise=``). A draw from a ``torch.Generator`` inside the
  forward cannot be traced, so ``generator=`` there is a graph break (and, with ``fullgraph``, the
  fallback below).
* D forward, a classifier set's forward.
* NOT the passes differentiated twice: the R1 penalty (``autograd.grad(D(reals).sum(), reals,
  create_graph=True)``, then the backward of the penalty) and the path-length penalty (the same through
  ``G.synthesis``). AOTAutograd compiles a backward that is not itself differentiable; torch raises
  "torch.compile with aot_autograd does not currently support double backward". Call the eager module
  (``compiled.module``, or the module kept by the caller) for those steps.

The fallback: when ``torch.compile`` cannot run on this platform or backend (no Dynamo for this Python,
no C++ compiler for inductor on CPU, no Triton for inductor on CUDA), ``compile_module`` logs one warning
line and returns the module. When compiling fails at a call (the first, or one with a new input shape;
a backend error, or a graph break under ``fullgraph=True``), the call is run eagerly, one warning line is
logged, and that wrapper stays eager from then on. An error the eager module raises itself (a wrong
input shape) is raised as it is.

Shapes are static (``dynamic=False``): each new input shape (a smaller last batch, ``--batch auto``'s
trial sizes) compiles once more, and after torch's recompile limit (8) new shapes run eagerly. Dynamic
shapes would break D's graph at its minibatch-stddev group (``math.gcd`` of a symbolic batch size that
is not a multiple of the group).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

BACKENDS = ("inductor", "aot_eager", "eager")  # inductor generates kernels; the others only capture graphs


def _compile_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "could not compile", as opposed to errors of the computation itself."""
    import torch._dynamo.exc as dynamo_exc

    errors: list[type[BaseException]] = [
        dynamo_exc.BackendCompilerFailed,  # the backend (inductor, a C++ compiler) failed
        dynamo_exc.Unsupported,  # a graph break under fullgraph, or a raise while tracing
        dynamo_exc.TorchRuntimeError,  # an op failed on fake tensors while tracing (a wrong input shape)
    ]
    try:
        import torch._inductor.exc as inductor_exc

        errors += [inductor_exc.InductorError, inductor_exc.CppCompileError]
    except (ImportError, AttributeError):  # older or stripped-down torch builds
        pass
    return tuple(errors)


def unavailable_reason(backend: str, device: torch.device) -> str | None:
    """Why ``torch.compile`` with ``backend`` cannot run for a module on ``device``; None when it can.

    Checks what is known before tracing: Dynamo's support for this Python and platform, and the
    toolchain inductor needs (a C++ compiler on CPU, Triton on CUDA).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    try:
        from torch._dynamo.eval_frame import is_dynamo_supported

        if not is_dynamo_supported():
            return "torch.compile (Dynamo) does not support this Python version or platform"
    except ImportError:
        return "this torch build has no torch.compile (Dynamo)"
    if backend != "inductor":
        return None
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "inductor on CUDA needs Triton, which is not installed"
    if device.type == "cpu":
        try:
            from torch._inductor.cpp_builder import get_cpp_compiler

            get_cpp_compiler()
        except Exception:  # InvalidCxxCompiler, or a torch without this helper
            return "inductor on CPU needs a C++ compiler (g++ or clang; set CXX) and none was found"
    return None


class CompiledModule:
    """A module's calls run through ``torch.compile``; everything else is the module's.

    Made by ``compile_module``. ``module`` is the eager module (for the R1 and path-length passes);
    ``compiled`` tells whether calls still go through ``torch.compile`` (False after a fallback).
    """

    def __init__(self, module: nn.Module, name: str, **options: Any) -> None:
        self.module = module
        self.name = name
        self._compiled_call = torch.compile(module, **options)
        self._errors = _compile_errors()

    @property
    def compiled(self) -> bool:
        return self._compiled_call is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._compiled_call is None:
            return self.module(*args, **kwargs)
        try:
            return self._compiled_call(*args, **kwargs)
        except self._errors as error:
            # Tracing fails before anything runs, so the eager call below is the only execution. If the
            # input itself is wrong, the eager call raises the module's own error and compiling stays on.
            output = self.module(*args, **kwargs)
            reason = " ".join(str(error).split())[:200]
            logger.warning(
                "torch.compile failed for %s, running it eagerly (%s: %s)", self.name, type(error).__name__, reason
            )
            self._compiled_call = None
            return output

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not set in __init__: the module's attributes and methods.
        module = self.__dict__.get("module")
        if module is None:
            raise AttributeError(name)
        return getattr(module, name)

    def __repr__(self) -> str:
        return f"CompiledModule({self.name}, compiled={self.compiled})"


def compile_module(
    module: nn.Module,
    enabled: bool,
    *,
    backend: str = "inductor",
    fullgraph: bool = True,
    dynamic: bool | None = False,
    mode: str | None = None,
) -> nn.Module | CompiledModule:
    """``module``'s forward through ``torch.compile`` when ``enabled`` and possible, else ``module`` itself.

    Args:
        module: a network on its device (G, G.synthesis, D, a classifier set). It is not modified.
        enabled: False returns ``module`` unchanged (the ``--compile`` flag off).
        backend: "inductor" (generated kernels), "aot_eager" or "eager" (graph capture only, for tests
            and for checking graph breaks).
        fullgraph: one graph per forward; a graph break is a compile failure (the eager fallback).
        dynamic: False compiles one graph per input shape (a few batch sizes at most in our loops),
            so the shape checks of the forwards stay Python conditions on constants.
        mode: inductor's mode ("reduce-overhead", "max-autotune"), None = default.
    Returns:
        ``module``, or a ``CompiledModule`` called like it.
    """
    if not enabled:
        return module
    name = type(module).__name__
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    reason = unavailable_reason(backend, device)
    if reason is not None:
        logger.warning("--compile: %s; %s runs eagerly", reason, name)
        return module
    return CompiledModule(module, name, backend=backend, fullgraph=fullgraph, dynamic=dynamic, mode=mode)
