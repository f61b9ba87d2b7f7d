"""Every row of the bad-input table (tests/cli/test_bad_inputs.py) through the installed command, as a
user types it: one process per row, stdout and stderr captured. Prints one line per row and a summary;
exit code 1 when a row breaks a promise (exit 2, one `error:` line, no traceback, nothing new on disk).

    .venv/bin/python scripts/cli_bad_input_sweep.py        # about 4 minutes on 2 CPU cores
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cli.test_bad_inputs import ROWS, _args, _scratch, _tree  # noqa: E402
from tests.cli.world import build_world  # noqa: E402


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="genomekit-sweep-"))
    world = build_world(root / "world")
    broken = 0
    for name, line, fragment in ROWS:
        scratch = root / name
        scratch.mkdir()
        names = {**world, **_scratch(scratch)}
        before = _tree(scratch, *{p.parent for p in world.values()})
        result = subprocess.run(
            [sys.executable, "-m", "genomekit", *_args(line, names)], capture_output=True, text=True, cwd=scratch,
            timeout=600,
        )  # fmt: skip
        lines = (result.stdout + result.stderr).strip().splitlines()
        problems = []
        if result.returncode != 2:
            problems.append(f"exit {result.returncode}")
        if "Traceback" in result.stderr:
            problems.append("traceback")
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"{len(lines)} lines")
        if fragment.format(**{k: str(v) for k, v in names.items()}) not in (lines[0] if lines else ""):
            problems.append("unexpected message")
        if _tree(scratch, *{p.parent for p in world.values()}) != before:
            problems.append("changed files")
        broken += bool(problems)
        shown = lines[0] if len(lines) == 1 else " | ".join(lines)[:300]
        print(
            f"{'ok  ' if not problems else 'FAIL'} {name:<28} {shown}"
            + (f"  [{', '.join(problems)}]" if problems else "")
        )
    print(f"{len(ROWS) - broken} of {len(ROWS)} rows keep every promise")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
