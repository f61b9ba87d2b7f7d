"""analysis.conditional (and analysis.inputs, analysis.prune): inputs checked before anything is
generated or written; the classifier set the statistics were collected with; temperatures; progress.

The functions take loaded objects; a check that now happens while loading (damaged statistics, a
missing classifier set) is exercised through the loader, inside the same ``pytest.raises``."""

import json
import math
import shutil

import pandas as pd
import pytest
import torch

from analysis.conditional import (
    Refinement,
    check_temperature,
    evaluate_conditional,
    load_stats_classifiers,
    prune,
    sample,
)
from classifiers import load_classifier_set
from genomekit.data import open_dataset
from genomekit.errors import UserError
from genomekit.inference import render, score
from genomekit.sampling import refine_statistics, sample_conditional
from genomekit.stats import attribute_given_variant, classifier_source, load_stats
from genomekit.training import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


def edit_manifest(stats, **changes):
    """Rewrite fields of the manifest (None deletes one); ``classifiers`` sets the classifier identity."""
    manifest = json.loads((stats / "manifest.json").read_text())
    if "classifiers" in changes:
        manifest["identity"]["classifiers"] = changes.pop("classifiers")
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    (stats / "manifest.json").write_text(json.dumps(manifest))


# -- temperatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 0.0, -1.0, "warm"])
def test_temperatures_must_be_finite_and_positive(value):
    with pytest.raises(UserError, match="temperature must be a finite number > 0, got"):
        check_temperature(value)


def test_temperature_messages_name_the_value():
    with pytest.raises(UserError, match=r"temperature must be a finite number > 0, got inf\b"):
        check_temperature(float("inf"))
    with pytest.raises(UserError, match=r"got nan\b"):
        check_temperature(float("nan"))
    assert check_temperature(0.5) == 0.5 and check_temperature(1) == 1.0


def test_sample_refuses_an_infinite_temperature_before_anything(loaded, tmp_path, no_generation):
    with pytest.raises(UserError, match="got inf"):
        sample(loaded["model"], loaded["stats"], ["smiling"], float("inf"), 4, tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("attributes", "temperatures", "message"),
    [
        (["male"], [], "at least one temperature"),
        (["male"], [1.0, float("nan")], "got nan"),
        ([], [1.0], "at least one attribute"),
        (["male", "smilng"], [1.0], "did you mean: Smiling"),
    ],
)
def test_evaluate_conditional_checks_its_values_before_anything(
    loaded, tmp_path, no_generation, attributes, temperatures, message
):
    out = tmp_path / "e"
    classifiers = load_stats_classifiers(loaded["stats"], None)
    with pytest.raises(UserError, match=message):
        evaluate_conditional(loaded["model"], loaded["stats"], classifiers, attributes, temperatures, 4, out)
    assert not out.exists()


# -- the classifier set of the statistics --------------------------------------------------------


def test_the_recorded_classifier_set_is_used_when_none_is_given(tiny_world):
    stats = load_stats(tiny_world["stats"])
    assert classifier_source(stats) == str(tiny_world["clf"].resolve())
    found = load_stats_classifiers(stats, None)
    assert found.identity == stats.identity.classifiers and found.source == str(tiny_world["clf"].resolve())


def test_sample_scores_with_the_recorded_set_by_default(tiny_world, loaded, tmp_path):
    model, stats = loaded["model"], loaded["stats"]
    recorded = load_stats_classifiers(stats, None)
    result = sample(model, stats, ["smiling"], 0.5, 4, tmp_path / "s", classifiers=recorded)
    assert list(result.scores["attribute"]) == ["Smiling"]
    info = json.loads((tmp_path / "s" / "sample.json").read_text())
    assert info["classifiers"]["source"] == str(tiny_world["clf"].resolve())
    explicit = sample(
        model,
        stats,
        ["smiling"],
        0.5,
        4,
        tmp_path / "x",
        classifiers=load_stats_classifiers(stats, tiny_world["clf"]),
    )
    pd.testing.assert_frame_equal(explicit.scores, result.scores)
    unscored = sample(model, stats, ["smiling"], 0.5, 4, tmp_path / "u")
    assert unscored.scores is None and not (tmp_path / "u" / "scores.csv").exists()


def test_a_moved_or_changed_set_is_a_user_error_naming_the_identity(tiny_world, stats_copy, tmp_path, no_generation):
    stats = load_stats(stats_copy)
    wanted = stats.identity.classifiers
    moved = tmp_path / "moved-clf"
    edit_manifest(stats_copy, classifier_source=str(moved))
    with pytest.raises(UserError, match=f"identity {wanted}, recorded as {moved}, which cannot be loaded now"):
        load_stats_classifiers(load_stats(stats_copy), None)
    shutil.copytree(tiny_world["other_clf"], moved)  # same attributes, other weights
    with pytest.raises(UserError, match="which now holds another set"):
        load_stats_classifiers(load_stats(stats_copy), None)
    edit_manifest(stats_copy, classifier_source=None)  # a manifest from before the source was recorded
    with pytest.raises(UserError, match=f"identity {wanted}, which genomekit did not record"):
        load_stats_classifiers(load_stats(stats_copy), None)
    assert not (tmp_path / "s").exists() and not (tmp_path / "e").exists()


def test_statistics_of_the_shipped_set_find_it_without_a_recorded_source(tiny_world, stats_copy, tmp_path):
    from classifiers import read_classifier_info

    shipped = read_classifier_info("default-32")["identity"]
    edit_manifest(stats_copy, classifiers=shipped, classifier_source=None)
    found = load_stats_classifiers(load_stats(stats_copy), None)
    assert found.identity == shipped and found.source == "default-32"
    edit_manifest(stats_copy, classifier_source="/nowhere/any-more")
    assert load_stats_classifiers(load_stats(stats_copy), None).identity == shipped


@pytest.mark.parametrize(
    ("classifiers", "message"),
    [("few_clf", "lacks attributes of the statistics \\(Eyeglasses, Male\\)"), ("nowhere", "not found")],
)
def test_a_bad_classifier_set_is_refused_before_anything_is_generated(
    tiny_world, loaded, tmp_path, no_generation, classifiers, message
):
    path = tiny_world.get(classifiers, tmp_path / classifiers)
    model, stats = loaded["model"], loaded["stats"]
    with pytest.raises(UserError, match=message):
        sample(model, stats, ["smiling"], 0.5, 4, tmp_path / "s", classifiers=load_classifier_set(path))
    with pytest.raises(UserError, match=message):
        evaluate_conditional(model, stats, load_classifier_set(path), ["male"], [1.0], 4, tmp_path / "e")
    with pytest.raises(UserError, match=message):
        load_stats_classifiers(stats, path)
    assert not (tmp_path / "s").exists() and not (tmp_path / "e").exists()


def test_damaged_statistics_are_refused_before_anything(loaded, stats_copy, tmp_path, no_generation):
    (stats_copy / "shards" / "part-00001.parquet").unlink()
    with pytest.raises(UserError, match="shard shards/part-00001.parquet is missing"):
        sample(loaded["model"], load_stats(stats_copy), ["smiling"], 0.5, 4, tmp_path / "s")
    with pytest.raises(UserError, match="shard shards/part-00001.parquet is missing"):
        prune(loaded["model"], load_stats(stats_copy), 2, tmp_path / "p.safetensors")
    assert not (tmp_path / "s").exists() and not (tmp_path / "p.safetensors").exists()


# -- progress ------------------------------------------------------------------------------------


def test_evaluate_conditional_reports_progress_in_images(loaded, tmp_path, bars):
    classifiers = load_stats_classifiers(loaded["stats"], None)
    table = evaluate_conditional(
        loaded["model"], loaded["stats"], classifiers, ["male", "smiling"], [1.0, 0.5], 4, tmp_path / "e",
        progress=bars,
    )  # fmt: skip
    assert len(table) == 2 * 2 * 2
    assert bars.totals == {"evaluate-conditional": 4 * (1 + 2 * 2 * 2)} and bars.done == bars.totals


def test_refined_sampling_is_eq6_on_statistics_refined_by_the_steering_set(loaded, tmp_path):
    model, stats = loaded["model"], loaded["stats"]
    steering = load_stats_classifiers(stats, None)
    refinement = Refinement(rounds=2, samples=16, prior=4.0)
    result = sample(model, stats, ["smiling"], 0.5, 8, tmp_path / "s", seed=3, refinement=refinement,
                    steering=steering)  # fmt: skip
    # the reference, step by step: refine with the steering set's scores, then draw eq. 6 from the result
    G = model.generator("cpu")
    p_attr = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)
    (condition,) = result.conditions
    columns = [list(steering.attribute_names).index(a) for a in stats.attributes]
    refined = refine_statistics(
        G.latent, p_attr, [condition], 0.5, lambda seqs: score(steering, render(G, seqs))[0][:, columns],
        rounds=2, samples=16, prior=4.0, generator=torch.Generator().manual_seed(3 + 2),
    )  # fmt: skip
    assert not torch.allclose(refined, p_attr.to(refined.dtype), equal_nan=True)  # the refinement did something
    expected = sample_conditional(G.latent, refined, [condition], 0.5, 8, torch.Generator().manual_seed(3))
    assert torch.equal(result.sequences, expected.cpu())
    info = json.loads((tmp_path / "s" / "sample.json").read_text())
    assert info["sampler"] == "eq. 6 with statistics refined under itself (2 rounds x 16)"
    plain = sample(model, stats, ["smiling"], 0.5, 8, tmp_path / "p", seed=3)
    eq6 = sample_conditional(G.latent, p_attr, [condition], 0.5, 8, torch.Generator().manual_seed(3))
    assert torch.equal(plain.sequences, eq6.cpu())
    assert json.loads((tmp_path / "p" / "sample.json").read_text())["sampler"] == "eq. 6"
    with pytest.raises(ValueError, match="need the classifier set the statistics were collected with"):
        sample(model, stats, ["smiling"], 0.5, 8, tmp_path / "n", refinement=refinement)
    assert not (tmp_path / "n").exists()


def test_gibbs_sampling_draws_from_a_surrogate_fitted_to_the_statistics_rows(loaded, tmp_path, bars):
    from analysis.conditional import Gibbs
    from genomekit.surrogate import fit_surrogate, read_rows, sample_gibbs

    model, stats = loaded["model"], loaded["stats"]
    gibbs = Gibbs(sweeps=2, hidden=8, epochs=2)
    result = sample(model, stats, ["smiling"], 0.5, 8, tmp_path / "s", seed=3, gibbs=gibbs)
    # the reference, step by step: fit the surrogate to every collected row, then Gibbs-sample with it
    sequences, probabilities = read_rows(stats)
    assert len(sequences) == stats.samples
    G = model.generator("cpu")
    surrogate, _ = fit_surrogate(G.latent.genes.detach(), sequences, probabilities, stats.attributes, hidden=8,
                                 epochs=2, generator=torch.Generator().manual_seed(3 + 3))  # fmt: skip
    expected = sample_gibbs(surrogate, result.conditions, 0.5, 8, sweeps=2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(result.sequences, expected)
    assert json.loads((tmp_path / "s" / "sample.json").read_text())["sampler"] == gibbs.describe()
    with pytest.raises(ValueError, match="one of refinement and gibbs"):
        sample(model, stats, ["smiling"], 0.5, 8, tmp_path / "n", gibbs=gibbs, refinement=Refinement())
    assert not (tmp_path / "n").exists()
    classifiers = load_stats_classifiers(stats, None)
    table = evaluate_conditional(model, stats, classifiers, ["smiling"], [1.0, 0.5], 4, tmp_path / "e",
                                 progress=bars, gibbs=gibbs)  # fmt: skip
    assert len(table) == 4 and bars.totals == {"evaluate-conditional": 4 + 4 * 2 * 2} and bars.done == bars.totals


def test_evaluate_conditional_refines_each_cell_and_counts_its_images(loaded, tmp_path, bars):
    classifiers = load_stats_classifiers(loaded["stats"], None)
    refinement = Refinement(rounds=1, samples=8)
    table = evaluate_conditional(
        loaded["model"], loaded["stats"], classifiers, ["smiling"], [1.0, 0.5], 4, tmp_path / "e",
        progress=bars, refinement=refinement, steering=classifiers,
    )  # fmt: skip
    assert bars.totals == {"evaluate-conditional": 4 + (4 + 8) * 2 * 2} and bars.done == bars.totals
    plain = evaluate_conditional(
        loaded["model"], loaded["stats"], classifiers, ["smiling"], [1.0, 0.5], 4, tmp_path / "p"
    )
    assert table["unconditional_accuracy"].equals(plain["unconditional_accuracy"])


# -- prune ---------------------------------------------------------------------------------------


def test_prune_checks_the_data_and_classifiers_before_generating(tiny_world, loaded, tmp_path, no_generation):
    out = tmp_path / "p.safetensors"
    model, stats = loaded["model"], loaded["stats"]
    recorded = load_stats_classifiers(stats, None, check_attributes=False)
    with pytest.raises(UserError):
        prune(model, stats, 2, out, dataset=open_dataset(tmp_path / "no-data"), classifiers=recorded)
    with pytest.raises(UserError, match="not found"):
        prune(
            model,
            stats,
            2,
            out,
            dataset=open_dataset(tiny_world["data"]),
            classifiers=load_classifier_set(tmp_path / "x"),
        )
    with pytest.raises(UserError, match="V/2 = 4"):
        prune(model, stats, 5, out, dataset=open_dataset(tiny_world["data"]), classifiers=recorded)
    with pytest.raises(UserError, match="must be at least 2 for a Fréchet distance"):
        prune(model, stats, 2, out, dataset=open_dataset(tiny_world["data"]), classifiers=recorded, num_samples=1)
    assert not out.exists()


def test_prune_measures_with_the_recorded_set_and_reports_progress(tiny_world, loaded, tmp_path, bars):
    model, stats, dataset = loaded["model"], loaded["stats"], open_dataset(tiny_world["data"])
    genes = model.generator().latent.genes.clone()
    result = prune(
        model, stats, 2, tmp_path / "p.safetensors", dataset=dataset,
        classifiers=load_stats_classifiers(stats, None, check_attributes=False), num_samples=10, progress=bars,
    )  # fmt: skip
    assert result.fd_before is not None and result.fd_after is not None and result.fd_after != result.fd_before
    assert bars.totals == {"prune: Fréchet distances": 3 * 10} and bars.done == bars.totals
    explicit = prune(
        model, stats, 2, tmp_path / "q.safetensors", dataset=dataset,
        classifiers=load_stats_classifiers(stats, tiny_world["clf"], check_attributes=False), num_samples=10,
    )  # fmt: skip
    assert explicit.fd_before == pytest.approx(result.fd_before)
    assert torch.equal(model.generator().latent.genes, genes)  # the loaded model is left as it was
    assert not torch.equal(load_checkpoint(tmp_path / "p.safetensors").generator().latent.genes, genes)


def test_table4_summary_gives_the_mean_per_temperature_and_every_fall():
    from analysis.conditional import table4_summary

    rows = [("Bald", "yes", 1.0, 0.24), ("Bald", "yes", 0.5, 0.51), ("Bald", "yes", 0.3, 0.45),
            ("Bald", "no", 1.0, 0.99), ("Bald", "no", 0.5, 0.99), ("Bald", "no", 0.3, 1.0)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["attribute", "value", "temperature", "accuracy"]).sample(frac=1, random_state=0)
    means, falls = table4_summary(table)
    assert means == "mean accuracy over 2 cells: T = 1: 61.5%, T = 0.5: 75.0%, T = 0.3: 72.5%"
    assert falls == "falls as T goes down: Bald=yes (51% at T = 0.5, 45% at 0.3)"  # equal is no fall
    table.loc[table["accuracy"] == 0.45, "accuracy"] = 0.6
    assert table4_summary(table)[1] == "falls as T goes down: none"
