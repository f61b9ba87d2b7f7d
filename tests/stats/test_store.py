import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from genomekit.errors import UserError
from genomekit.stats import store
from genomekit.stats.store import RunIdentity, VariantTotals

ATTRIBUTES = ("Smiling", "Male")


def identity(**changes):
    base = dict(model="m1", classifiers="c1", attributes=ATTRIBUTES, genome_shape=(3, 5, 4), seed=0, chunk_size=8)
    base.update(changes)
    return RunIdentity(**base)


def shard_data(rows=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(5, (rows, 3), generator=g), torch.rand(rows, 2, generator=g), torch.randn(rows, generator=g)


def test_shard_round_trip_and_columns_readable_by_pandas(tmp_path):
    genes, scores, realness = shard_data()
    entry = store.write_shard(tmp_path, 2, 16, genes, scores, realness, ATTRIBUTES, metadata={"chunk": 2})
    assert entry["file"] == "shards/part-00002.parquet" and entry["rows"] == 8
    assert entry["sha256"] == store.file_sha256(tmp_path / entry["file"])
    ids, genes_back, scores_back, realness_back = store.read_shard(tmp_path / entry["file"], 3, ATTRIBUTES)
    assert ids.tolist() == list(range(16, 24))
    assert torch.equal(genes_back, genes) and torch.equal(scores_back, scores) and torch.equal(realness_back, realness)
    frame = pd.read_parquet(tmp_path / entry["file"])
    assert list(frame.columns) == ["sample_id", "gene_000", "gene_001", "gene_002", "Smiling", "Male", "realness"]
    assert frame["gene_001"].dtype == np.uint16 and frame["Smiling"].dtype == np.float32
    assert frame["sample_id"].dtype == np.int64
    assert b"genomekit" in pq.read_schema(tmp_path / entry["file"]).metadata
    assert not list((tmp_path / "shards").glob(".*"))  # no temporary left behind


def test_check_shard_detects_missing_truncated_and_corrupt_files(tmp_path):
    entry = store.write_shard(tmp_path, 0, 0, *shard_data(), ATTRIBUTES)
    path = tmp_path / entry["file"]
    assert store.check_shard(tmp_path, entry, 8) is None
    assert "rows" in store.check_shard(tmp_path, entry, 7)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "corrupt" in store.check_shard(tmp_path, entry, 8)
    path.write_bytes(bytes(data[:-10]))
    assert "truncated" in store.check_shard(tmp_path, entry, 8)
    path.unlink()
    assert store.check_shard(tmp_path, entry, 8) == "missing"


def test_identity_differences_name_what_changed():
    assert identity().differences(identity()) == []
    diffs = identity().differences(identity(model="m2", genome_shape=(3, 6, 4)))
    assert diffs[0].startswith("model: stored 'm1', requested 'm2'")
    assert "genome shape (G, V, D): stored [3, 5, 4], requested [3, 6, 4]" in diffs[1]
    assert RunIdentity.from_json(identity().to_json()) == identity()


def test_attribute_names_that_clash_with_columns_are_refused():
    store.check_attribute_names(["Smiling", "Male"])
    for bad in (["realness"], ["gene_001"], ["a", "a"], [""]):
        with pytest.raises(UserError):
            store.check_attribute_names(bad)


def test_recompute_from_shards_equals_the_totals_of_all_rows(tmp_path):
    manifest = store.new_manifest(identity(), 20)
    parts = [shard_data(rows, seed) for seed, rows in enumerate((8, 8, 4))]
    for chunk, (genes, scores, realness) in enumerate(parts):
        manifest["shards"].append(store.write_shard(tmp_path, chunk, 8 * chunk, genes, scores, realness, ATTRIBUTES))
    store.write_manifest(tmp_path / store.MANIFEST, manifest)
    totals = store.recompute_sums_from_shards(tmp_path, batch_rows=10)  # adds shards 0+1, then 2
    assert totals.samples == 20
    # Samples are added one at a time in sample order: the same bits as all rows at once.
    everything = VariantTotals.of_samples(*(torch.cat(x) for x in zip(*parts, strict=True)), num_variants=5)
    assert totals.equal(everything)
    streamed = VariantTotals.zeros(3, 5, 2)
    for part in parts:
        streamed.add_samples(*part)
    assert streamed.equal(everything)
    assert store.recompute_sums_from_shards(tmp_path, batch_rows=1).equal(everything)


def test_totals_file_round_trip(tmp_path):
    totals = VariantTotals.of_samples(*shard_data(), num_variants=5)
    sha = store.save_totals(tmp_path / "sums.safetensors", totals, ATTRIBUTES)
    loaded, names = store.load_totals(tmp_path / "sums.safetensors")
    assert loaded.equal(totals) and names == ATTRIBUTES
    assert sha == store.file_sha256(tmp_path / "sums.safetensors")


def test_read_rows_returns_every_row_in_sample_order(tmp_path):
    from genomekit.surrogate import read_rows

    manifest = store.new_manifest(identity(), 20)
    parts = [shard_data(rows, seed) for seed, rows in enumerate((8, 8, 4))]
    for chunk, (genes, scores, realness) in enumerate(parts):
        manifest["shards"].append(store.write_shard(tmp_path, chunk, 8 * chunk, genes, scores, realness, ATTRIBUTES))
    totals = VariantTotals.of_samples(*(torch.cat(x) for x in zip(*parts, strict=True)), num_variants=5)
    stats = store.Stats(totals, ATTRIBUTES, (3, 5, 4), manifest, tmp_path)
    sequences, probabilities = read_rows(stats)
    frame = pd.concat(pd.read_parquet(tmp_path / e["file"]) for e in manifest["shards"])
    assert np.array_equal(sequences.numpy(), frame[["gene_000", "gene_001", "gene_002"]].to_numpy())
    assert np.array_equal(probabilities.numpy(), frame[list(ATTRIBUTES)].to_numpy())
    assert np.array_equal(sequences.numpy(), torch.cat([p[0] for p in parts]).numpy())
