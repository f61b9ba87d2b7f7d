import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from classifiers import load_classifier_set
from genomekit.errors import UserError
from genomekit.stats import store
from genomekit.stats.collect import CollectConfig, chunk_sequences, collect_stats, finalize_stats
from genomekit.stats.estimate import attribute_given_variant
from genomekit.stats.info import describe_stats
from genomekit.stats.store import load_stats, recompute_sums_from_shards
from genomekit.training.checkpoint import load_discriminator, load_generator, model_identity


def models(artefacts, model="model", classifiers="classifiers"):
    return dict(
        generator=load_generator(artefacts[model]),
        classifiers=load_classifier_set(artefacts[classifiers]),
        discriminator=load_discriminator(artefacts[model]),
        model_identity=model_identity(artefacts[model]),
    )


@pytest.fixture(scope="module")
def loaded(artefacts):
    return models(artefacts)


def config(out, **kw):
    base = dict(out=out, samples=600, batch_size=64, chunk_size=128, seed=7)
    base.update(kw)
    return CollectConfig(**base)


def run(out, loaded, **kw):
    stop = kw.pop("stop", None)
    rank, world = kw.pop("rank", 0), kw.pop("world_size", 1)
    return collect_stats(config(out, **kw), **loaded, rank=rank, world_size=world, stop=stop, progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, loaded):
    """An uninterrupted single-process run: 600 samples in chunks of 128."""
    out = tmp_path_factory.mktemp("reference") / "stats"
    result = run(out, loaded)
    return out, result


class Tripwire(torch.nn.Module):
    """Wraps the classifier set: after ``calls`` forward calls, set ``stop`` or raise KeyboardInterrupt."""

    def __init__(self, inner, calls, stop=None):
        super().__init__()
        self.inner, self.calls, self.stop = inner, calls, stop
        self.attribute_names, self.identity = inner.attribute_names, inner.identity

    def forward(self, images):
        self.calls -= 1
        if self.calls == 0:
            if self.stop is None:
                raise KeyboardInterrupt
            self.stop.set()
        return self.inner(images)


def test_accumulated_sums_match_a_pandas_groupby_of_the_shards(reference):
    out, result = reference
    assert result.complete and result.samples_done == 600 and result.samples_generated == 600
    frame = pd.concat([pd.read_parquet(p) for p in sorted((out / "shards").glob("*.parquet"))], ignore_index=True)
    assert frame["sample_id"].tolist() == list(range(600))
    stats = load_stats(out)
    attributes = list(stats.attributes)
    num_genes, num_variants, _ = stats.genome_shape
    for i in range(num_genes):
        grouped = frame.groupby(f"gene_{i:03d}")
        counts = grouped.size().reindex(range(num_variants), fill_value=0).to_numpy()
        np.testing.assert_array_equal(stats.totals.counts[i].numpy(), counts)
        sums = grouped[attributes].sum().reindex(range(num_variants), fill_value=0).to_numpy(np.float64)
        np.testing.assert_allclose(stats.totals.sums[i].numpy(), sums, rtol=1e-6)
        realness = grouped["realness"].sum().reindex(range(num_variants), fill_value=0).to_numpy(np.float64)
        np.testing.assert_allclose(stats.totals.realness_sums[i].numpy(), realness, rtol=1e-5, atol=1e-5)
        means = grouped[attributes].mean().reindex(range(num_variants)).to_numpy(np.float64)
        p = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)[i].numpy()
        np.testing.assert_allclose(p, means, rtol=1e-6)
    # The Parquet shards alone give the accumulated sums bit for bit.
    assert recompute_sums_from_shards(out).equal(stats.totals)
    assert result.totals.equal(stats.totals)


def test_manifest_lists_shards_with_rows_and_checksums(reference):
    out, _ = reference
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert [e["rows"] for e in manifest["shards"]] == [128, 128, 128, 128, 88]
    for entry in manifest["shards"]:
        assert entry["sha256"] == store.file_sha256(out / entry["file"])
    assert manifest["identity"]["genome_shape"] == [4, 8, 4] and manifest["identity"]["chunk_size"] == 128
    assert manifest["runs"][0]["samples_per_s"] > 0
    assert not list(out.rglob("*.tmp"))


def test_rows_do_not_depend_on_the_batch_size(reference, tmp_path, loaded):
    out, _ = reference
    run(tmp_path / "b", loaded, batch_size=30)  # rounded up to 32, a multiple of the D group
    for part in ("part-00000.parquet", "part-00004.parquet"):
        a, b = pd.read_parquet(out / "shards" / part), pd.read_parquet(tmp_path / "b" / "shards" / part)
        genes = [c for c in a.columns if c.startswith("gene_")]
        assert a[["sample_id", *genes]].equals(b[["sample_id", *genes]])
        np.testing.assert_allclose(a.drop(columns=genes).to_numpy(), b.drop(columns=genes).to_numpy(), atol=1e-5)


def test_chunk_sequences_are_a_prefix_and_depend_only_on_seed_and_chunk(loaded):
    genome = loaded["generator"].latent
    full = chunk_sequences(genome, 7, 3, 128, 128)
    assert torch.equal(chunk_sequences(genome, 7, 3, 128, 50), full[:50])
    assert not torch.equal(chunk_sequences(genome, 7, 2, 128, 128), full)
    assert not torch.equal(chunk_sequences(genome, 8, 3, 128, 128), full)


def test_stop_request_then_resume_gives_identical_sums(reference, tmp_path, loaded):
    stop = threading.Event()
    tripped = dict(loaded, classifiers=Tripwire(loaded["classifiers"], calls=3, stop=stop))  # during chunk 1
    out = tmp_path / "stats"
    result = collect_stats(config(out), **tripped, stop=stop, progress=False)
    assert result.interrupted and not result.complete and result.samples_done == 256
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and len(manifest["shards"]) == 2
    info = describe_stats(out)
    assert "running (rerun the same collect-stats command to finish)" in info and "256 of 600" in info
    with pytest.raises(UserError, match="incomplete"):
        load_stats(out)
    resumed = run(out, loaded)
    assert resumed.complete and resumed.samples_generated == 600 - 256
    assert load_stats(out).totals.equal(load_stats(reference[0]).totals)


def test_keyboard_interrupt_mid_chunk_leaves_a_consistent_directory(reference, tmp_path, loaded):
    tripped = dict(loaded, classifiers=Tripwire(loaded["classifiers"], calls=6))  # raises inside chunk 2
    out = tmp_path / "stats"
    with pytest.raises(KeyboardInterrupt):
        collect_stats(config(out), **tripped, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["chunk"] for e in manifest["shards"]] == [0, 1]
    assert manifest["runs"][-1]["interrupted"] is True
    assert not (out / "sums.safetensors").exists() and not list(out.rglob("*.tmp"))
    run(out, loaded)
    assert load_stats(out).totals.equal(load_stats(reference[0]).totals)


def test_corrupt_and_truncated_shards_are_redone(reference, tmp_path, loaded, caplog):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    good = (out / "shards/part-00001.parquet").read_bytes()
    data = bytearray(good)
    data[100] ^= 0xFF
    (out / "shards/part-00001.parquet").write_bytes(bytes(data))
    (out / "shards/part-00003.parquet").write_bytes((out / "shards/part-00003.parquet").read_bytes()[:500])
    with caplog.at_level("WARNING"):
        result = run(out, loaded)
    assert "part-00001.parquet is corrupt" in caplog.text and "part-00003.parquet is truncated" in caplog.text
    assert result.samples_generated == 256
    assert (out / "shards/part-00001.parquet").read_bytes() == good
    assert load_stats(out).totals.equal(load_stats(reference[0]).totals)


def test_ranks_split_chunks_and_merge_to_the_single_process_result(reference, tmp_path, loaded):
    out = tmp_path / "stats"
    first = run(out, loaded, rank=0, world_size=2)
    second = run(out, loaded, rank=1, world_size=2)
    assert not first.complete and first.samples_done == 128 * 2 + 88 and second.samples_done == 128 * 2
    assert (out / "manifest.rank-00001.json").exists()
    with pytest.raises(UserError, match="2 chunks .* are missing"):  # rank 1's chunks are unknown without its file
        _finalize_without(out, "manifest.rank-00001.json")
    totals = finalize_stats(out)
    assert totals.equal(load_stats(reference[0]).totals)
    assert not (out / "manifest.rank-00001.json").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["shards"]) == 5 and len(manifest["runs"]) == 2


def _finalize_without(out, fragment):
    import shutil

    copy = out.parent / "partial"
    shutil.copytree(out, copy)
    (copy / fragment).unlink()
    finalize_stats(copy)


def test_more_samples_extend_a_finished_directory(reference, tmp_path, loaded):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    result = run(out, loaded, samples=700)
    assert result.samples_generated == 700 - 512  # chunk 4 grows from 88 to 128 rows, chunk 5 is new
    direct = run(tmp_path / "direct", loaded, samples=700)
    assert load_stats(out).totals.equal(direct.totals)
    with pytest.raises(UserError, match="--samples 700 or more"):
        run(out, loaded, samples=600)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(model="other_model"), "model: stored"),
        (dict(model="other_shape"), "genome shape"),
        (dict(classifiers="other_classifiers"), "classifier set: stored"),
        (dict(seed=8), "seed: stored 7, requested 8"),
        (dict(chunk_size=64), "chunk size"),
    ],
)
def test_resuming_with_another_run_identity_is_refused(reference, tmp_path, artefacts, change, message):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    names = {k: change.pop(k) for k in ("model", "classifiers") if k in change}
    with pytest.raises(UserError, match=message):
        collect_stats(config(out, **change), **models(artefacts, **names), progress=False)


def test_mapping_models_and_bad_directories_are_refused(tmp_path, artefacts, loaded):
    with pytest.raises(UserError, match="no genes"):
        collect_stats(config(tmp_path / "m"), **models(artefacts, model="mapping"), progress=False)
    with pytest.raises(UserError, match="--resume given"):
        collect_stats(config(tmp_path / "new", resume=True), **loaded, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="non-empty directory"):
        collect_stats(config(tmp_path / "busy"), **loaded, progress=False)
    with pytest.raises(UserError, match="--samples must be at least 1"):
        config(tmp_path / "x", samples=0)


def _damage(out, part, how):
    path = out / "shards" / part
    if how == "corrupt":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    else:
        path.unlink()


@pytest.mark.parametrize(
    ("how", "reason"),
    [("corrupt", "is corrupt (sha256 mismatch)"), ("truncated", "is truncated or changed"), ("missing", "is missing")],
)
def test_load_stats_refuses_a_damaged_shard_and_collect_stats_repairs_it(reference, tmp_path, loaded, how, reason):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    _damage(out, "part-00002.parquet", how)
    with pytest.raises(UserError) as caught:
        load_stats(out)
    message = str(caught.value)
    assert f"shard shards/part-00002.parquet {reason}" in message
    assert "rerun the collect-stats command that created it" in message
    assert f"--out {out} --samples 600 --seed 7 --chunk-size 128" in message
    assert str(Path(reference_classifiers(reference)).resolve()) in message  # the recorded classifier set
    assert "\n" not in message
    # What the message promises: the same collect-stats run regenerates the damaged shard only.
    result = run(out, loaded)
    assert result.samples_generated == 128
    assert load_stats(out).totals.equal(load_stats(reference[0]).totals)


def reference_classifiers(reference):
    return json.loads((reference[0] / "manifest.json").read_text())["classifier_source"]


def test_load_stats_names_the_first_damaged_shard_and_counts_the_others(reference, tmp_path):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    _damage(out, "part-00003.parquet", "corrupt")
    _damage(out, "part-00001.parquet", "truncated")
    with pytest.raises(
        UserError, match=r"shard shards/part-00001.parquet is truncated .* \(and 1 more damaged shard\)"
    ):
        load_stats(out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = [e for e in manifest["shards"] if e["chunk"] != 0]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=r"shard shards/part-00000.parquet is not listed in the manifest"):
        load_stats(out)


def test_stats_info_reports_a_damaged_complete_directory_and_still_prints(reference, tmp_path):
    import shutil

    out = tmp_path / "stats"
    shutil.copytree(reference[0], out)
    assert "status            complete\n" in describe_stats(out)
    _damage(out, "part-00001.parquet", "corrupt")
    _damage(out, "part-00004.parquet", "missing")
    info = describe_stats(out)
    status = next(line for line in info.splitlines() if line.startswith("status"))
    assert status.startswith(
        "status            complete, but damaged: shards/part-00001.parquet corrupt (sha256 mismatch), "
        "shards/part-00004.parquet missing; rerun the collect-stats command"
    )
    assert "samples/variant   min" in info and "throughput" in info  # the rest of the summary is there
    (out / "sums.safetensors").write_bytes(b"not safetensors")
    info = describe_stats(out)
    assert "sums.safetensors corrupt" in info and "samples/variant   unknown" in info


def test_stats_info_lists_damaged_shards_of_an_interrupted_run(tmp_path, loaded):
    stop = threading.Event()
    tripped = dict(loaded, classifiers=Tripwire(loaded["classifiers"], calls=5, stop=stop))  # during chunk 2
    out = tmp_path / "stats"
    collect_stats(config(out), **tripped, stop=stop, progress=False)
    assert "damaged shards" not in describe_stats(out)
    _damage(out, "part-00000.parquet", "truncated")
    assert "; damaged shards, redone when resumed: shards/part-00000.parquet truncated" in describe_stats(out)


def test_the_manifest_records_where_the_classifier_set_came_from(reference, tmp_path, artefacts, loaded):
    from genomekit.stats import classifier_source

    stats = load_stats(reference[0])
    assert classifier_source(stats) == str(artefacts["classifiers"].resolve())
    assert stats.identity.classifiers == loaded["classifiers"].identity
    # A set without a source (not loaded from disk) records none; old manifests lack the field.
    bare = dict(loaded, classifiers=Tripwire(loaded["classifiers"], calls=-1))
    run(tmp_path / "bare", bare, samples=128)
    assert classifier_source(load_stats(tmp_path / "bare")) is None
    manifest = json.loads((reference[0] / "manifest.json").read_text())
    del manifest["classifier_source"]
    assert classifier_source(manifest) is None
    # The shipped set is recorded by the name the resolution picks.
    assert load_classifier_set("default", resolution=32).source == "default-32"
    assert load_classifier_set("default").source == "default"


# -- batch size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("free", "per_sample", "expected"),
    [
        (100 * 2**30, 2**20, 256),  # plenty: the cap
        (10 * 2**30, 100 * 2**20, 64),  # 0.8 * 10 GiB / 100 MiB = 81.9 -> 64
        (10 * 2**30, 2.5 * 2**30, 2),  # 3.2 samples fit -> 2
        (2**30, 2 * 2**30, 1),  # not even one: 1, and the pass reports the out-of-memory error
        (0, 2**20, 1),
        (2**30, 0, 256),  # nothing measured per sample
    ],
)
def test_choose_batch_size_is_the_largest_power_of_two_that_fits(free, per_sample, expected):
    from genomekit.stats.collect import choose_batch_size

    batch = choose_batch_size(free, per_sample)
    assert batch == expected and batch & (batch - 1) == 0
    assert batch == 1 or batch * per_sample <= 0.8 * free
    assert choose_batch_size(free, per_sample, maximum=32) == min(expected, 32)
    with pytest.raises(ValueError, match="power of two"):
        choose_batch_size(free, per_sample, maximum=100)


def test_auto_batch_size_measures_on_cuda_only():
    from genomekit.stats.collect import CPU_BATCH_SIZE, auto_batch_size

    def unused():
        raise AssertionError("measured off CUDA")

    assert auto_batch_size(torch.device("cpu"), unused) == CPU_BATCH_SIZE == 256
    assert auto_batch_size(torch.device("cuda:1"), lambda: (40 * 2**30, 300 * 2**20)) == 64  # 109 fit


def test_measure_batch_memory_reads_the_peak_of_a_trial_batch(loaded, monkeypatch):
    """The arithmetic of the method, with the CUDA memory counters replaced by numbers (no GPU here)."""
    from genomekit.stats import collect

    calls = []
    real = collect.score_chunk

    def score_chunk(sequences, *args, **kwargs):
        calls.append(len(sequences))
        return real(sequences, *args, **kwargs)

    counters = dict(allocated=1_000, peak=1_000 + 4 * 250, reserved=3_000)
    monkeypatch.setattr(collect, "score_chunk", score_chunk)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: counters["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: counters["peak"])
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: counters["reserved"])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10_000, 80_000))
    free, per_sample = collect.measure_batch_memory(
        loaded["generator"], loaded["classifiers"], loaded["discriminator"], torch.device("cpu")
    )
    assert calls == [4, 4]  # warm-up, then the measured pass; D groups of 4
    assert per_sample == 250 and free == 10_000 + 3_000 - 1_000


def test_batch_auto_and_explicit_batch_are_recorded_but_not_part_of_the_run(tmp_path, loaded):
    run(tmp_path / "auto", loaded, batch_size="auto", samples=128)
    run(tmp_path / "explicit", loaded, batch_size=16, samples=128)
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("auto", "explicit")]
    assert [m["runs"][0]["batch_size"] for m in manifests] == [256, 16]  # CPU: auto is the former default
    assert manifests[0]["identity"] == manifests[1]["identity"] and "batch" not in json.dumps(manifests[0]["identity"])
    assert CollectConfig(out=tmp_path).batch_size == "auto"
    with pytest.raises(UserError, match="--batch must be 'auto' or a positive integer, got 'big'"):
        config(tmp_path / "x", batch_size="big")
    with pytest.raises(UserError, match="--batch must be at least 1, got 0"):
        config(tmp_path / "x", batch_size=0)


def test_celebahq_scores_do_not_depend_on_the_batch_size(tmp_path, artefacts):
    """The CelebA-HQ networks' minibatch-stddev groups are consecutive samples, whatever the batch."""
    from tests.stats.artefacts import make_celebahq_classifiers

    directory = make_celebahq_classifiers(tmp_path / "celebahq")
    loaded = dict(models(artefacts), classifiers=load_classifier_set(directory))
    assert loaded["classifiers"].mbstd_group_size == 4
    for batch in (64, 8, 12):  # 12: not a power of two; chunk 0 then ends in a batch of 8
        run(tmp_path / f"b{batch}", loaded, batch_size=batch, samples=200)
    frames = [
        pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / f"b{b}" / "shards").iterdir())) for b in (64, 8, 12)
    ]
    scores = [frame[list(loaded["classifiers"].attribute_names)].to_numpy() for frame in frames]
    assert scores[0].std() > 1e-3  # the scores vary from sample to sample
    for other in scores[1:]:
        np.testing.assert_allclose(other, scores[0], atol=1e-5)
    eights = load_classifier_set(make_celebahq_classifiers(tmp_path / "eights", mbstd_group_size=8))
    message = (
        r"multiple of 8, for the minibatch groups of the discriminator \(4\) and the classifier set \(8\), got 132"
    )
    with pytest.raises(UserError, match=message):
        collect_stats(config(tmp_path / "odd", chunk_size=132), **dict(loaded, classifiers=eights), progress=False)
