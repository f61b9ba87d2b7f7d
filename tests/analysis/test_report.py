"""analysis.report.write_report: inputs are checked before anything is written; progress."""

import json

import pandas as pd
import pytest

from analysis.report import write_report
from genomekit.errors import UserError
from genomekit.stats import load_stats

pytestmark = pytest.mark.usefixtures("one_thread")


def damage(stats, part, how):
    path = stats / "shards" / part
    if how == "corrupt":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.unlink()


@pytest.mark.parametrize(
    ("how", "reason"),
    [("corrupt", "is corrupt (sha256 mismatch)"), ("truncated", "is truncated"), ("missing", "is missing")],
)
def test_a_damaged_shard_is_one_user_error_before_anything_is_written(stats_copy, tmp_path, how, reason):
    damage(stats_copy, "part-00002.parquet", how)
    out = tmp_path / "report"
    with pytest.raises(UserError) as caught:
        write_report(load_stats(stats_copy), out)
    assert f"shard shards/part-00002.parquet {reason}" in str(caught.value)
    assert "rerun the collect-stats command that created it" in str(caught.value)
    assert not out.exists()


def test_the_model_must_be_the_one_the_statistics_came_from(loaded, tmp_path):
    out, stats = tmp_path / "report", loaded["stats"]
    with pytest.raises(UserError, match="collected from another model .* --allow-other-model"):
        write_report(stats, out, model=loaded["other"])
    with pytest.raises(UserError, match=r"genome of shape \(G, V, D\) = \(4, 8, 4\), but .* has \(4, 16, 4\)"):
        write_report(stats, out, model=loaded["other_shape"])
    with pytest.raises(UserError, match="mapping-network model; drawing gene-edit figures needs a Genome model"):
        write_report(stats, out, model=loaded["mapping"])
    with pytest.raises(UserError, match="unknown attribute 'smilng'; did you mean: Smiling"):
        write_report(stats, out, model=loaded["model"], edit_attributes=["smilng"])
    with pytest.raises(UserError):
        write_report(stats, out, data=tmp_path / "no-such-data")
    assert not out.exists()
    result = write_report(stats, out, model=loaded["other"], edit_attributes=["male"], allow_other_model=True)
    assert "gene_edit_Male.png" in result.files and (out / "gene_edit_Male.png").is_file()


def test_progress_counts_the_shards_read_and_the_gene_edit_images(loaded, tmp_path, bars, capsys):
    write_report(
        loaded["stats"], tmp_path / "r", model=loaded["model"], edit_attributes=["smiling", "male"], progress=bars,
    )  # fmt: skip
    assert bars.totals == {"report: reading shards": 512, "report: gene edits": 2 * 2 * 7}
    assert bars.done == bars.totals
    write_report(loaded["stats"], tmp_path / "quiet")  # default: silent
    assert capsys.readouterr().err == ""
    scores = pd.read_csv(tmp_path / "quiet" / "scores.csv")
    assert len(scores) == 4 * 3


def test_statistics_from_before_the_classifier_source_still_report(stats_copy, tmp_path):
    manifest = json.loads((stats_copy / "manifest.json").read_text())
    del manifest["classifier_source"]
    (stats_copy / "manifest.json").write_text(json.dumps(manifest))
    assert "index.html" in write_report(load_stats(stats_copy), tmp_path / "r").files


def test_plotting_needs_no_pyplot():
    """The figures are Figure objects on their own Agg canvas: importing the plotting modules leaves
    pyplot, and with it the global backend, alone."""
    import subprocess
    import sys

    code = (
        "import sys; import analysis.report, analysis.conditional, genomekit.probes;"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_both_pages_show_the_top_genes_table_and_every_figure(loaded, tmp_path):
    import re

    out = tmp_path / "r"
    write_report(loaded["stats"], out, model=loaded["model"], edit_attributes=["male"])
    top = pd.read_csv(out / "top_genes.csv").sort_values(["rank"], kind="stable")
    expected = []  # the table's cells, row by row
    for name in ("Smiling", "Eyeglasses", "Male"):
        rows = top[top["attribute"] == name]
        floor = f"{rows['noise_floor'].iloc[0]:.2f}"
        expected.append([name, floor, *(f"{g} ({s:.2f})" for g, s in zip(rows["gene"], rows["score"], strict=True))])
    markdown, page = (out / "index.md").read_text(), (out / "index.html").read_text()
    table = "| attribute | noise floor | gene (score) | 2nd | 3rd |\n|---|---|---|---|---|\n"
    assert table + "\n".join("| " + " | ".join(row) + " |" for row in expected) + "\n" in markdown
    assert re.findall(r"<th>(.*?)</th>", page) == ["attribute", "noise floor", "gene (score)", "2nd", "3rd"]
    assert re.findall(r"<td>(.*?)</td>", page) == [cell for row in expected for cell in row]
    figures = ["polar.png", "heatmap.png", "correlation_generated.png", "gene_edit_Male.png"]
    assert re.findall(r"!\[[^]]*\]\(([^)]*)\)", markdown) == figures
    assert re.findall(r'<img src="([^"]*)"', page) == figures
    assert "**Male**: gene" in markdown and "<strong>Male</strong>: gene" in page


def test_top_gene_spread_counts_each_attributes_top_gene():
    from analysis.report import top_gene_spread

    top = {"a": 3, "b": 3, "c": 5, "d": 1, "e": 5}  # genes 3 and 5 tie at 2; the lower index is named
    frame = pd.DataFrame(
        [{"attribute": a, "gene": g, "rank": 1} for a, g in top.items()]
        + [{"attribute": a, "gene": 7, "rank": 2} for a in top]  # second-ranked genes do not count
    )
    assert top_gene_spread(frame) == (3, 3, 2)


def test_the_pages_and_the_result_state_the_top_gene_spread(loaded, tmp_path):
    out = tmp_path / "r"
    result = write_report(loaded["stats"], out)
    top = pd.read_csv(out / "top_genes.csv")
    counts = top[top["rank"] == 1]["gene"].value_counts()
    gene = min(g for g, c in counts.items() if c == counts.max())
    sentence = (f"Top genes: {len(counts)} distinct over the {top['attribute'].nunique()} attributes; gene {gene} "
                f"is the top gene of {counts.max()} of them")  # fmt: skip
    assert result.spread.startswith(sentence)
    assert sentence in (out / "index.md").read_text() and sentence in (out / "index.html").read_text()
