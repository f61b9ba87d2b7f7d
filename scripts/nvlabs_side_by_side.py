"""The README's NVlabs-vs-genomekit figure: the same weights through NVlabs' StyleGAN2 and genomekit's.

Builds NVlabs' ``networks_stylegan2.Generator`` at StyleGAN2 config F, 256 px (the FFHQ-256 setting:
channel_base 32768, channel_max 512, w 512, fp16 resolutions 4, conv_clamp 256) with the seeded weights
of the ``g_mapping_256_f`` fixture, converts its state dict with ``genomekit.interop.nvlabs``, renders
the same z with both, and writes one PNG: NVlabs' row, genomekit's row, and |difference| x 10^4.
The weights are random (no trained NVlabs model can be downloaded here), so the images are textures;
what matters is that the rows agree.

    python scripts/nvlabs_side_by_side.py --stylegan3 /path/to/stylegan3 [--out docs/images/nvlabs_vs_genomekit.png]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from genomekit.images import save_grid  # noqa: E402
from genomekit.interop.nvlabs import generator_from_nvlabs  # noqa: E402
from tests.interop.fixtures import load_fixture  # noqa: E402


def _fixture_script():
    spec = importlib.util.spec_from_file_location(
        "make_nvlabs_fixtures", REPO_ROOT / "scripts" / "make_nvlabs_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stylegan3", type=Path, required=True, help="a stylegan3 checkout")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images" / "nvlabs_vs_genomekit.png")
    parser.add_argument("--count", type=int, default=4)
    args = parser.parse_args()
    nvlabs = _fixture_script().import_nvlabs(args.stylegan3, "training.networks_stylegan2")
    fixture = load_fixture("g_mapping_256_f")
    kwargs, state = fixture.meta["init_kwargs"], fixture.state
    G_nvlabs = nvlabs.Generator(**kwargs).eval().requires_grad_(False)
    G_nvlabs.load_state_dict(state, strict=False)  # resample_filter buffers keep NVlabs' filter
    G_ours = generator_from_nvlabs(kwargs, state)
    z = torch.randn(args.count, kwargs["z_dim"], generator=torch.Generator().manual_seed(2026))
    with torch.no_grad():
        ref = G_nvlabs(z, None, noise_mode="const", force_fp32=True)
        ours = G_ours(z, noise_mode="const")
    diff = (ref - ours).abs()
    print(
        f"max |NVlabs - genomekit| = {diff.max().item():.2e} (images span {ref.min().item():.1f} .. {ref.max().item():.1f})"
    )
    # Each image scaled to [-1, 1] by NVlabs' range for display; the difference x 10^4, 0 = black.
    scale = ref.abs().amax(dim=(1, 2, 3), keepdim=True)
    rows = torch.cat([ref / scale, ours / scale, (diff * 1e4).clamp(0, 2) - 1])
    save_grid(rows, args.out, args.count, padding=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
