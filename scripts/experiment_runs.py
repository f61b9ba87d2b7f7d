"""What the experiment scripts share: train a list of runs, a few at a time, each logging to its own file."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn


def refuse(message: str) -> NoReturn:
    """Refuse bad input as genomekit's commands do: one ``error:`` line on stderr and exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def genomekit_command() -> list[str]:
    """The `genomekit` command of this environment."""
    return [str(Path(sys.executable).parent / "genomekit")]


def run_jobs(jobs: list[tuple[str, list[str]]], runs: Path, parallel: int) -> None:
    """Run each (name, command), ``parallel`` at a time, logging to ``runs/<name>.log`` (appended).

    With more than one at a time each gets one thread (on 2 cores, faster in all than one run on
    both). Raises SystemExit naming the runs that failed, once all have ended.
    """
    environment = {**os.environ, **({"OMP_NUM_THREADS": "1"} if parallel > 1 else {})}
    running: list[tuple[str, subprocess.Popen, object]] = []
    failed: list[str] = []
    for name, command in jobs:
        while len(running) >= parallel:
            failed += _reap(running)
        log = open(runs / f"{name}.log", "a")  # noqa: SIM115 - closed by _reap when the run ends
        print(f"training {name}", flush=True)
        running.append((name, subprocess.Popen(command, stdout=log, stderr=log, env=environment), log))
    while running:
        failed += _reap(running)
    if failed:
        raise SystemExit(f"error: these runs failed (see their .log in {runs}): {', '.join(failed)}")


def _reap(running: list) -> list[str]:
    """Wait for the first of the running processes to end; its name if it failed."""
    name, process, log = running.pop(0)
    code = process.wait()
    log.close()
    return [] if code == 0 else [name]


def experiment_parser(
    description: str, arms: dict, kimg: float, snap: float, seeds: list[int]
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `run` / `report` command line the experiment scripts share; returns (parser, its `run` parser,
    its `report` parser), so that a script can add its own options to either."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("run", help="train (or resume) every arm and seed")
    train.add_argument("--runs", type=Path, required=True)
    train.add_argument("--kimg", type=float, default=kimg, help="the budget of every run")
    train.add_argument("--snap", type=float, default=snap)
    train.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=seeds)
    train.add_argument("--arms", type=lambda s: s.split(","), default=list(arms))
    train.add_argument("--parallel", type=int, default=2)
    summary = commands.add_parser("report", help="gather the runs' snapshots into tables and figures")
    summary.add_argument("--runs", type=Path, required=True)
    summary.add_argument("--out", type=Path, required=True)
    return parser, train, summary


def parse_and_dispatch(parser: argparse.ArgumentParser, arms: dict, run, report) -> None:
    """Parse the command line, refuse unknown arms with one error line, and run or report."""
    args = parser.parse_args()
    if args.command == "run":
        unknown = sorted(set(args.arms) - set(arms))
        if unknown:
            refuse(f"unknown arms {', '.join(unknown)}; the arms are {', '.join(arms)}")
        run(args)
    else:
        report(args)
