"""`genomekit classifiers import-celebahq`: StyleGAN's 40 TF classifier pickles -> one classifier set."""

import builtins
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from classifiers import CelebAHQClassifierSet, load_classifier_set
from classifiers.celebahq import CELEBAHQ_CLASSIFIERS, celebahq_file_name
from genomekit.cli import app
from tests.interop.tflib_pickles import celebahq_classifier_pickle, celebahq_tf_variables

runner = CliRunner()
RESOLUTION = 16  # the converter takes any power of two >= 8; the official files are 256 px


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "executed.txt"
    yield path
    assert not path.exists(), "code stored in a pickle was executed"


@pytest.fixture
def official_dir(tmp_path, marker):
    """All 40 official file names, each a tiny D_basic classifier pickle with random weights."""
    directory = tmp_path / "stylegan-metrics"
    directory.mkdir()
    rng = np.random.default_rng(0)
    for index, (slug, _) in enumerate(CELEBAHQ_CLASSIFIERS):
        variables = celebahq_tf_variables(RESOLUTION, fmap_base=32, fmap_max=16, rng=rng)
        data = celebahq_classifier_pickle(marker, variables, resolution=RESOLUTION)
        (directory / celebahq_file_name(index, slug, ".pkl")).write_bytes(data)
    (directory / "README.txt").write_text("not a classifier; ignored")
    return directory


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.endswith(".tmp"))


def test_import_all_40(official_dir, tmp_path):
    out = tmp_path / "sets" / "celebahq"
    result = runner.invoke(app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "converting 40 classifiers" in result.output and "(40 of the 40 official files)" in result.output
    assert "[ 1/40] celebahq-classifier-00-male.pkl  D_basic, 16 px, blur, mbstd 4x1" in result.output
    assert "[40/40] celebahq-classifier-39-wearing-necktie.pkl" in result.output
    model = load_classifier_set(out)
    assert isinstance(model, CelebAHQClassifierSet) and model.resolution == RESOLUTION
    assert model.attribute_names == tuple(name for _, name in CELEBAHQ_CLASSIFIERS)
    assert sorted(p.name for p in out.iterdir()) == ["classifier.json", "classifier.safetensors"]
    probabilities = model(torch.rand(4, 3, RESOLUTION, RESOLUTION) * 2 - 1)
    assert probabilities.shape == (4, 40) and torch.all((probabilities >= 0) & (probabilities <= 1))
    assert leftovers(out.parent) == []

    result = runner.invoke(app, ["classifiers", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "celebahq" in result.output and "Wearing_Necktie" in result.output


def test_bad_inputs_are_one_line_before_any_work(official_dir, tmp_path):
    def run(*args):
        result = runner.invoke(app, ["classifiers", "import-celebahq", *map(str, args)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
        return result.output

    assert "not found" in run(tmp_path / "missing", "--out", tmp_path / "o")
    (tmp_path / "empty").mkdir()
    assert "holds no files named celebahq-classifier-NN-attribute.pkl" in run(
        tmp_path / "empty", "--out", tmp_path / "o"
    )
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert "already exists and is not an empty directory" in run(official_dir, "--out", busy)
    assert (busy / "keep.txt").read_text() == "mine" and len(list(busy.iterdir())) == 1
    assert not (tmp_path / "o").exists()

    (tmp_path / "empty-out").mkdir()  # an empty --out directory is fine
    result = runner.invoke(
        app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(tmp_path / "empty-out")]
    )
    assert result.exit_code == 0, result.output


def test_a_refused_or_broken_file_leaves_nothing_behind(official_dir, tmp_path, marker):
    out = tmp_path / "set"
    evil = official_dir / "celebahq-classifier-05-5-o-clock-shadow.pkl"

    class Evil:
        def __reduce__(self):
            return builtins.eval, (f"__import__('pathlib').Path({str(marker)!r}).write_text('x')",)

    evil.write_bytes(pickle.dumps(Evil()))
    result = runner.invoke(app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(out)])
    assert result.exit_code == 2
    assert (
        f"error: refusing to load builtins.eval from {evil}: a tflib pickle holds only networks and NumPy arrays"
        in result.output
    )
    assert "Traceback" not in result.output and not out.exists() and leftovers(tmp_path) == []

    data = (official_dir / "celebahq-classifier-00-male.pkl").read_bytes()
    evil.write_bytes(data[: len(data) // 3])
    result = runner.invoke(app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(out)])
    assert result.exit_code == 2 and "truncated" in result.output and not out.exists()


def test_ctrl_c_while_writing_leaves_nothing_behind(official_dir, tmp_path, monkeypatch):
    import classifiers.saved

    real_save = classifiers.saved.save_classifier_set

    def save_then_interrupt(classifier, directory, **kwargs):
        real_save(classifier, directory, **kwargs)  # the files are complete in the temporary directory...
        raise KeyboardInterrupt  # ...and the user presses Ctrl-C before the rename

    monkeypatch.setattr(classifiers.saved, "save_classifier_set", save_then_interrupt)
    out = tmp_path / "set"
    result = runner.invoke(app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(out)])
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_files_with_different_settings_are_refused(official_dir, tmp_path, marker):
    variables = celebahq_tf_variables(RESOLUTION, fmap_base=32, fmap_max=16, rng=np.random.default_rng(1))
    odd = celebahq_classifier_pickle(marker, variables, resolution=RESOLUTION, build_func_name="D_paper")
    (official_dir / "celebahq-classifier-07-bags-under-eyes.pkl").write_bytes(odd)
    result = runner.invoke(app, ["classifiers", "import-celebahq", str(official_dir), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "celebahq-classifier-07-bags-under-eyes.pkl (D_paper, 16 px, no blur, mbstd 4x1)" in result.output
    assert "one set holds classifiers of one architecture" in result.output and not (tmp_path / "s").exists()
