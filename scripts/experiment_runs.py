"""What the experiment scripts share: train a list of runs, a few at a time, each logging to its own file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
