"""Ctrl-C at seeded random moments: the output is either the old one or absent, never half-written,
and no temporary directory is left behind."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from tests.cli.world import invoke


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupt") / "stats"
    result = invoke("collect-stats", "--model", "default", "--out", out, "--samples", 256, "--chunk-size", 128,
                    "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


COMMANDS = {
    "sample": ["sample", "--model", "default", "--stats", "{stats}", "--samples", 12, "--out", "{out}"],
    "report": ["report", "--stats", "{stats}", "--model", "default", "--out", "{out}", "--no-progress"],
    "interpolate": ["interpolate", "--model", "default", "--steps", 4, "--out", "{out}"],
    "evaluate-conditional": [
        "evaluate-conditional",
        "--model",
        "default",
        "--stats",
        "{stats}",
        "--attr",
        "male",
        "--temps",
        "1,0.5",
        "--samples",
        8,
        "--out",
        "{out}",
        "--no-progress",
    ],  # fmt: skip
}


def _writers():
    """The calls through which the commands write their files."""
    import matplotlib.figure
    import pandas as pd

    from genomekit import fileio

    return [(Image.Image, "save"), (matplotlib.figure.Figure, "savefig"), (pd.DataFrame, "to_csv"),
            (fileio, "atomic_write"), (fileio, "atomic_path")]  # fmt: skip


def _patch_writers(monkeypatch, on_call) -> None:
    for owner, attr in _writers():
        original = getattr(owner, attr)

        def wrapped(*a, _original=original, **k):
            on_call()
            return _original(*a, **k)

        monkeypatch.setattr(owner, attr, wrapped)


def _writes_of(args) -> int:
    """How many file writes a complete run of the command makes."""
    count = 0

    def counting():
        nonlocal count
        count += 1

    with pytest.MonkeyPatch.context() as patch:
        _patch_writers(patch, counting)
        result = invoke(*args)
    assert result.exit_code == 0, result.output
    return count


def _listing(path):
    return sorted((str(p.relative_to(path)), p.read_bytes()) for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def baselines(stats, tmp_path_factory):
    """Per command: a complete output and the number of writes a complete run makes (run once)."""
    found = {}

    def get(name):
        if name not in found:
            out = tmp_path_factory.mktemp(name) / "out"
            args = [str(a).format(stats=stats, out=out) for a in COMMANDS[name]]
            assert invoke(*args).exit_code == 0  # a first complete run (it also fills caches: font lists)
            found[name] = (_writes_of(args), out)  # a second one, counted
        return found[name]

    return get


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ctrl_c_leaves_the_old_output_or_none(stats, baselines, tmp_path, monkeypatch, name, seed):
    import shutil

    writes, complete = baselines(name)
    out = tmp_path / "out"
    shutil.copytree(complete, out)  # the old output
    old = _listing(out)
    assert writes >= 2 and old
    args = [str(a).format(stats=stats, out=out) for a in COMMANDS[name]]

    stop_at = random.Random(seed).randint(1, writes)  # a seeded random moment among the writes
    calls = 0

    def interrupting():
        nonlocal calls
        calls += 1
        if calls == stop_at:
            raise KeyboardInterrupt

    _patch_writers(monkeypatch, interrupting)
    result = invoke(*args)
    assert result.exit_code == 130, result.output
    assert result.output.strip().splitlines()[-1] == "interrupted"
    assert _listing(out) == old  # the previous output, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary directory left

    fresh = tmp_path / "fresh"
    calls = 0
    result = invoke(*[str(a).format(stats=stats, out=fresh) for a in COMMANDS[name]])
    assert result.exit_code == 130
    assert not fresh.exists() and [p.name for p in tmp_path.iterdir()] == ["out"]
