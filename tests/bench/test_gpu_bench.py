"""bench/gpu_train.py and bench/gpu_collect.py run in --tiny mode on the CPU and print parseable ratio lines.

These check the scripts, not performance: tiny networks, a few steps, one thread.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
NVLABS = Path("/work/nvlabs/stylegan3")  # a local stylegan3 checkout; CI has none
NUMBER = r"(\d+(?:\.\d+)?)"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--tiny", "--device", "cpu", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def train_rows(out: str) -> list[tuple[int, float, str, str]]:
    header = out.index("genomekit/NVlabs")
    pattern = re.compile(rf"^\s*(\d+)\s+{NUMBER}\s+(\S+)\s+(\S+)\s*$", re.M)
    return [(int(r), float(g), n, ratio) for r, g, n, ratio in pattern.findall(out[header:])]


@pytest.mark.slow
def test_gpu_train_tiny_without_nvlabs():
    out = run("gpu_train.py")
    assert "NVlabs: not given" in out and "not a measure of performance" in out
    [(resolution, genomekit, nvlabs, ratio)] = train_rows(out)
    assert resolution == 16 and genomekit > 0 and nvlabs == ratio == "-"


@pytest.mark.slow
@pytest.mark.skipif(
    not (NVLABS / "training" / "networks_stylegan2.py").is_file() or importlib.util.find_spec("requests") is None,
    reason=f"no NVlabs checkout at {NVLABS}, or not its dependency `requests` (NVlabs' dnnlib imports it)",
)
def test_gpu_train_tiny_against_nvlabs():
    out = run("gpu_train.py", "--nvlabs", str(NVLABS))
    assert re.search(r"16 px: G [\d,]+ and D [\d,]+ parameters on both sides", out), out
    assert "NVlabs ran with reference ops" in out
    [(resolution, genomekit, nvlabs, ratio)] = train_rows(out)
    assert resolution == 16 and genomekit > 0 and float(nvlabs) > 0
    assert ratio.endswith("x") and float(ratio[:-1]) == pytest.approx(genomekit / float(nvlabs), abs=0.01)


def test_gpu_train_refuses_a_ratio_when_parameters_differ(monkeypatch, capsys, tmp_path):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import gpu_train

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep this test process's threads
    monkeypatch.setattr(gpu_train, "import_nvlabs", lambda path: object())
    monkeypatch.setattr(gpu_train, "nvlabs_side", lambda nv, setting, device, seed: (None, {"G": 1, "D": 2}))
    monkeypatch.setattr(sys, "argv", ["gpu_train.py", "--tiny", "--device", "cpu", "--nvlabs", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        gpu_train.main()
    out = capsys.readouterr().out
    assert exited.value.code == 1
    assert "parameter counts differ" in out and "NVlabs G 1 D 2" in out
    assert train_rows(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_gpu_collect_tiny(precision):
    out = run("gpu_collect.py", "--precision", precision)
    assert f"precision {precision}" in out and "not a measure of performance" in out
    total = float(re.search(rf"total {NUMBER} GFLOP", out).group(1)) * 1e9
    assert total > 0
    rows = re.findall(rf"^(bare|score_chunk|collect_stats)\b.*?\s{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}%\s+{NUMBER}x$", out, re.M)  # fmt: skip
    assert [r[0] for r in rows] == ["bare", "score_chunk", "collect_stats"], out
    seconds = {name: float(s) for name, s, *_ in rows}
    for _, s, rate, tflops, _, ratio in rows:
        assert float(rate) == pytest.approx(64 / float(s), rel=0.02)
        assert float(tflops) == pytest.approx(float(rate) * total / 1e12, abs=1e-3)
        assert float(ratio) == pytest.approx(seconds["bare"] / float(s), abs=0.01)
