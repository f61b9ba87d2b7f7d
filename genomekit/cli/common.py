"""Pieces every command shares: user-error handling, logging set-up and option aliases."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

import typer

from genomekit.errors import UserError

Device = Annotated[str, typer.Option(help="Torch device: 'cpu', 'cuda', 'cuda:1' or 'auto' (CUDA when present).")]
Seed = Annotated[int, typer.Option(help="Random seed; the same seed gives the same result.")]


def command(app: typer.Typer, name: str | None = None, **kwargs: Any) -> Callable:
    """Register ``fn`` as a command of ``app`` whose user errors end in one line and exit code 2."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except UserError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(130) from None

        return app.command(name, **kwargs)(run)

    return register


def parse_temperatures(text: str) -> list[float]:
    """``--temps 1.0,0.5``: comma-separated numbers (each checked > 0 where it is used)."""
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"--temps must be comma-separated numbers, got {text!r}") from None


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when available, else 'cpu'; an unavailable CUDA device is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    return device


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")
