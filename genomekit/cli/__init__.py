"""The `genomekit` command line: one command per user job, each a thin call into the library.

Each module below registers its commands on ``app``; see ``genomekit --help``.
"""

from __future__ import annotations

import typer

from genomekit.cli.common import Group

app = typer.Typer(
    cls=Group,
    name="genomekit",
    help="StyleGenes toolkit: train Genome GANs, collect genome statistics, sample conditionally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """StyleGenes toolkit: train Genome GANs, collect genome statistics, sample conditionally."""
    if version:
        from genomekit import __version__

        typer.echo(f"genomekit {__version__}")
        raise typer.Exit()


# Command modules register themselves on `app` when imported.
from genomekit.cli import analysis as _analysis  # noqa: E402,F401
from genomekit.cli import classifiers as _classifiers  # noqa: E402,F401
from genomekit.cli import data as _data  # noqa: E402,F401
from genomekit.cli import demo as _demo  # noqa: E402,F401
from genomekit.cli import interop as _interop  # noqa: E402,F401
from genomekit.cli import metrics as _metrics  # noqa: E402,F401
from genomekit.cli import probe as _probe  # noqa: E402,F401
from genomekit.cli import project as _project  # noqa: E402,F401
from genomekit.cli import stats as _stats  # noqa: E402,F401
from genomekit.cli import train as _train  # noqa: E402,F401


def main() -> None:
    app(prog_name="genomekit")
