import numpy as np
import pandas as pd
import pytest
import torch

from genomekit.stats import store
from genomekit.stats.correlation import correlation_from_moments, moments, score_moments, variance_from_moments

ATTRIBUTES = ("Smiling", "Male", "Eyeglasses")


def test_correlation_and_variance_match_pandas_and_constant_attributes_are_nan():
    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    x[:, 1] = 0.5 * x[:, 0] + 0.1 * rng.random(200)
    x[:, 2] = 1.0  # never varies
    corr = correlation_from_moments(*moments(x), ATTRIBUTES)
    reference = pd.DataFrame(x, columns=list(ATTRIBUTES)).corr()
    assert np.allclose(corr.iloc[:2, :2], reference.iloc[:2, :2], atol=1e-12)
    assert list(corr.index) == list(corr.columns) == list(ATTRIBUTES)
    assert corr["Eyeglasses"].isna().all() and corr.loc["Eyeglasses"].isna().all()
    assert np.allclose(variance_from_moments(*moments(x)), x.var(0), atol=1e-12)


def test_moments_of_parts_add_up_to_the_moments_of_the_whole():
    x = np.random.default_rng(1).random((90, 3))
    parts = [moments(part) for part in (x[:10], x[10:55], x[55:])]
    count, total, outer = moments(x)
    assert sum(p[0] for p in parts) == count == 90
    assert np.allclose(sum(p[1] for p in parts), total) and np.allclose(sum(p[2] for p in parts), outer)


def test_score_moments_streams_every_shard_of_a_stats_directory(tmp_path):
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(20, 3, generator=g)
    entries = []
    for chunk, (start, stop) in enumerate([(0, 8), (8, 20)]):
        genes = torch.randint(5, (stop - start, 2), generator=g)
        realness = torch.zeros(stop - start)
        entries.append(store.write_shard(tmp_path, chunk, start, genes, scores[start:stop], realness, ATTRIBUTES))
    manifest = {"identity": {"genome_shape": [2, 5, 4]}, "shards": entries}
    seen = []
    count, total, outer = score_moments(tmp_path, manifest, ATTRIBUTES, on_shard=seen.append)
    expected = moments(scores.double().numpy())
    assert seen == [8, 12] and count == expected[0] == 20
    assert total == pytest.approx(expected[1]) and np.allclose(outer, expected[2])
