"""Pieces every command shares: the error promise, output locations, Ctrl-C, option aliases.

The promise of the command line (README, "Bad input"): a wrong input ends with one line starting
``error:`` and exit code 2 before any work starts, and nothing is left half-written. Here that is:

* :class:`Group` (the root ``genomekit`` group) turns the CLI framework's parse errors (a
  misspelt flag, ``--samples abc``, a missing option) into that one line;
* :func:`command` registers a command whose :class:`UserError` and :class:`OSError` (a directory
  that cannot be written, a disk that is full) become that one line, and whose old option
  spellings (``aliases``) keep working with a note;
* :func:`check_output_dir` / :func:`check_output_file` validate where a command will write before
  it starts, and :func:`staged_output` writes a directory beside its destination and renames it
  into place, so an error or Ctrl-C leaves the old state or the complete new one.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

from genomekit.errors import UserError

Device = Annotated[str, typer.Option(help="Torch device: 'cpu', 'cuda', 'cuda:1' or 'auto' (CUDA when present).")]
Seed = Annotated[int, typer.Option(help="Random seed; the same seed gives the same result.")]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
OUTPUT_MARKER = ".genomekit-output.json"  # in every directory a command wrote with staged_output


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def say_error(message: str) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)


class Group(TyperGroup):
    """The root group: parse errors of the framework become one ``error:`` line and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        try:
            code = super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
            # without standalone mode an Exit comes back as its code (commands return None)
            sys.exit(code if isinstance(code, int) else 0)
        except click.exceptions.NoArgsIsHelpError as error:
            if error.message:  # (with rich installed the help is already printed)
                typer.echo(error.message)
            sys.exit(0)
        except click.exceptions.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            say_error(f"{error.format_message()}{where}")
            sys.exit(EXIT_USER_ERROR)
        except click.exceptions.ClickException as error:
            say_error(error.format_message())
            sys.exit(EXIT_USER_ERROR)
        except typer.Abort:
            typer.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as error:  # a closed pipe (genomekit ... | head) is not an error
            if error.errno == errno.EPIPE:
                sys.exit(1)
            raise


class AliasCommand(TyperCommand):
    """A command whose old option spellings (``aliases``: old -> new) still parse, with a note."""

    aliases: dict[str, str] = {}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten = []
        for arg in args:
            name, sep, value = arg.partition("=")
            if name in self.aliases:
                new = self.aliases[name]
                typer.echo(f"note: {name} is now {new}; the old spelling goes in genomekit 0.3", err=True)
                arg = f"{new}{sep}{value}"
            rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


def command(
    app: typer.Typer, name: str | None = None, *, aliases: dict[str, str] | None = None, **kwargs: Any
) -> Callable:
    """Register ``fn`` as a command of ``app`` whose user errors end in one line and exit code 2.

    ``aliases`` maps old option spellings to the current ones (kept for one release).
    """

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except UserError as error:
                say_error(str(error))
                raise typer.Exit(EXIT_USER_ERROR) from None
            except OSError as error:
                if error.errno == errno.EPIPE:
                    raise typer.Exit(1) from None
                say_error(describe_os_error(error))
                raise typer.Exit(EXIT_USER_ERROR) from None
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except RuntimeError as error:
                if type(error).__name__ != "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch
                    raise
                first = str(error).split(".")[0] or "out of memory"
                say_error(
                    f"{first}; lower --batch (images per forward pass: it does not change results), "
                    "or free the device's memory"
                )
                raise typer.Exit(EXIT_USER_ERROR) from None

        cls = type(f"{fn.__name__}_command", (AliasCommand,), {"aliases": dict(aliases or {})})
        return app.command(name, cls=cls, **kwargs)(run)

    return register


def describe_os_error(error: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` as ``x: permission denied``."""
    reason = (error.strerror or str(error)).lower()
    if error.errno == errno.ENOSPC:
        reason = "no space left on the device"
    if error.filename is not None:
        target = f" -> {error.filename2}" if error.filename2 is not None else ""
        return f"{error.filename}{target}: {reason}"
    return reason


# -- inputs --------------------------------------------------------------------------------------


def option_or_positional(option: Path | None, positional: Path | None, flag: str, what: str) -> Path:
    """``--flag VALUE``, or the old positional form of the same input (kept for one release)."""
    if option is not None and positional is not None and option != positional:
        raise UserError(f"give {what} once: {flag} {option} or the positional {positional}")
    value = option if option is not None else positional
    if value is None:
        raise UserError(f"missing option '{flag}' ({what})")
    return value


def given_options(ctx: typer.Context) -> set[str]:
    """Names of the parameters the user typed (not left at their defaults)."""
    from typer._click.core import ParameterSource

    return {name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}


def parse_temperatures(text: str, flag: str = "--temps") -> list[float]:
    """``--temps 1.0,0.5``: comma-separated finite numbers > 0, at least one."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise UserError(f"{flag} must be comma-separated numbers > 0, e.g. 1.0,0.5,0.3; got {text!r}") from None
    if not values:
        raise UserError(f"{flag} needs at least one temperature, e.g. {flag} 1.0,0.5,0.3; got {text!r}")
    for value in values:
        check_temperature(value, flag)
    return values


def check_temperature(value: float, flag: str = "--temp") -> float:
    if not (math.isfinite(value) and value > 0):
        raise UserError(
            f"{flag} must be a finite number > 0 (1 = unconditional strength, lower = stronger), got {value:g}"
        )
    return value


def check_positive(value: int | float | None, flag: str, minimum: int | float = 1) -> None:
    """``flag`` must be at least ``minimum`` (None = not given, accepted)."""
    if value is not None and not value >= minimum:
        raise UserError(f"{flag} must be at least {minimum:g}, got {value:g}")


def split_names(values: list[str] | None) -> list[str]:
    """A repeatable option that also takes comma-separated names: ``--attr a,b --attr c``."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when available, else 'cpu'; an unavailable CUDA device is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device!r} requested but CUDA is not available here; use --device cpu")
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise UserError(f"--device: unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise UserError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


# -- outputs -------------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_can_write_in(directory: Path, flag: str, path: Path) -> None:
    """Create and remove a file in ``directory``: the check that holds for root and read-only mounts too."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise UserError(f"{flag} {path}: cannot write in {directory} ({reason})") from None


def _check_parent_writable(path: Path, flag: str) -> None:
    ancestor = _nearest_existing(path.parent) if not path.exists() else path.absolute().parent
    if not ancestor.is_dir():
        raise UserError(f"{flag} {path}: {ancestor} is a file, not a directory")
    _check_can_write_in(ancestor, flag, path)


def check_output_file(path: Path, flag: str = "--out", *, inputs: tuple[Path, ...] = ()) -> Path:
    """``path`` can be written as a file: not a directory, not one of ``inputs``, in a writable place."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a directory; give the name of the file to write")
    for source in inputs:
        if path.exists() and Path(source).exists() and os.path.samefile(path, source):
            raise UserError(f"{flag} {path} is also the input {source}; write to another file")
    _check_parent_writable(path, flag)
    return path


def check_output_dir(path: Path, flag: str = "--out") -> Path:
    """``path`` can be a directory a command creates or continues: not a file, in a writable place."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file; give a directory")
    _check_parent_writable(path, flag)
    if path.is_dir():
        _check_can_write_in(path, flag, path)
    return path


def check_replaceable_dir(path: Path, command_name: str, flag: str = "--out") -> Path:
    """``path`` may be replaced by a new output of ``command_name``: absent, empty, or one it wrote."""
    path = check_output_dir(path, flag)
    if path.is_dir() and any(path.iterdir()):
        marker = path / OUTPUT_MARKER
        try:
            wrote = json.loads(marker.read_text()).get("command")
        except (OSError, ValueError, AttributeError):
            wrote = None
        if wrote is None:
            raise UserError(
                f"{flag} {path} exists and holds files genomekit did not write; "
                "choose a new directory or empty it (it would be replaced)"
            )
        if wrote != command_name:
            raise UserError(
                f"{flag} {path} holds the output of `genomekit {wrote}`; choose another directory for {command_name}"
            )
    return path


@contextlib.contextmanager
def staged_output(path: Path, command_name: str, flag: str = "--out") -> Iterator[Path]:
    """Check ``path`` (:func:`check_replaceable_dir`), then yield a temporary sibling to fill.

    On success the sibling (with a small marker naming ``command_name``) replaces ``path``; on an
    error or Ctrl-C it is removed and ``path`` is as it was.
    """
    from genomekit.fileio import staged_directory

    check_replaceable_dir(path, command_name, flag)
    with staged_directory(path, create=False) as tmp:
        yield tmp
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / OUTPUT_MARKER).write_text(json.dumps({"command": command_name}) + "\n")


# -- Ctrl-C --------------------------------------------------------------------------------------

INTERRUPTED = "interrupted; rerun the same command to resume"


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event, what: str = "the current shard", *, once: bool = False) -> Iterator[None]:
    """First Ctrl-C: set ``stop`` (the job finishes ``what``, then stops). Second: stop at once.

    With ``once`` (under torchrun, whose agent forwards the terminal's Ctrl-C a second time) every
    Ctrl-C only sets ``stop``, so all processes stop together.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        if stop.is_set():
            if once:
                return
            raise KeyboardInterrupt
        stop.set()
        again = "" if once else " (Ctrl-C again to stop at once)"
        typer.echo(f"\nstopping after {what}{again}", err=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[..., Callable[[int], Any]] | None]:
    """A factory ``make_bar(description, total, unit="img") -> update(n)`` of tqdm bars, closed after the block.

    None when ``enabled`` is false (the library then stays silent).
    """
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bars: list = []

    def make_bar(description: str, total: int, unit: str = "img") -> Callable[[int], Any]:
        bar = tqdm(total=total, desc=description, unit=unit, leave=False)
        bars.append(bar)
        return bar.update

    try:
        yield make_bar
    finally:
        for bar in bars:
            bar.close()
