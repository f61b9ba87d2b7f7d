"""`collect-stats --compile`: the generator, classifier set and discriminator through torch.compile give
the statistics of eager passes.

The compiled run uses the "aot_eager" backend (graph capture, no generated kernels: seconds on the CPU);
inductor's kernels are checked against eager in tests/networks/test_compile.py.
"""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import genomekit.compile
from genomekit.cli import app
from genomekit.compile import CompiledModule
from genomekit.stats import load_stats
from tests.stats.test_cli import collect_args

pytestmark = pytest.mark.usefixtures("fresh_dynamo")


@pytest.fixture
def aot_eager(monkeypatch):
    """The CLI's compile_module with the aot_eager backend; returns the wrappers it made."""
    made = []
    original = genomekit.compile.compile_module

    def compile_aot_eager(module, enabled):
        wrapper = original(module, enabled, backend="aot_eager")
        if enabled:
            made.append(wrapper)
        return wrapper

    monkeypatch.setattr(genomekit.compile, "compile_module", compile_aot_eager)
    return made


def test_compiled_collect_stats_gives_the_eager_statistics(tmp_path, artefacts, aot_eager):
    runner = CliRunner()
    # 300 samples in chunks of 128 and batches of 64: the last chunk's batch of 44 is a second shape.
    result = runner.invoke(app, collect_args(artefacts, tmp_path / "eager"))
    assert result.exit_code == 0, result.output
    assert aot_eager == []  # without --compile nothing is compiled
    result = runner.invoke(app, collect_args(artefacts, tmp_path / "compiled", extra=["--compile"]))
    assert result.exit_code == 0, result.output
    assert [type(w.module).__name__ for w in aot_eager] == ["Generator", "MultiHeadClassifierSet", "Discriminator"]
    assert all(isinstance(w, CompiledModule) and w.compiled for w in aot_eager)  # no fallback to eager
    eager, compiled = load_stats(tmp_path / "eager"), load_stats(tmp_path / "compiled")
    assert torch.equal(eager.totals.counts, compiled.totals.counts)  # the same gene sequences
    # Measured: identical (0.0).
    torch.testing.assert_close(compiled.totals.sums, eager.totals.sums, rtol=0, atol=1e-5)
    torch.testing.assert_close(compiled.totals.realness_sums, eager.totals.realness_sums, rtol=0, atol=1e-5)
    assert compiled.manifest["identity"] == eager.manifest["identity"]  # compiling is not part of the run
