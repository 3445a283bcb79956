"""``cryspai train`` and ``cryspai evaluate`` on extxyz files, the second one never seen in training."""

import json

from ase.io import write
from click.testing import CliRunner

from aiida_cryspai.cli.main import cryspai

from ..labelled import emt_copper_frames


def test_train_then_evaluate_unseen_data(tmp_path):
    train_frames, _ = emt_copper_frames(per_lattice=4, seed=10)
    test_frames, _ = emt_copper_frames(per_lattice=2, seed=99)
    write(tmp_path / "train.extxyz", train_frames, format="extxyz")
    write(tmp_path / "test.extxyz", test_frames, format="extxyz")
    model = tmp_path / "cu.pt"

    trained = CliRunner().invoke(cryspai, ["train", str(tmp_path / "train.extxyz"), "--output", str(model)],
                                 catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    metrics = json.loads(trained.stdout)
    assert metrics["n_train"] + metrics["n_validation"] == len(train_frames)

    evaluated = CliRunner().invoke(cryspai, ["evaluate", str(model), str(tmp_path / "test.extxyz")],
                                   catch_exceptions=False)
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout)
    assert set(result) == {"rmse_mev_per_atom", "mae_mev_per_atom", "n_structures", "force_rmse_ev_per_angstrom",
                           "n_force_components"}
    assert result["n_structures"] == len(test_frames)
    assert result["mae_mev_per_atom"] <= result["rmse_mev_per_atom"] < 25.0
    assert result["force_rmse_ev_per_angstrom"] < 1.0


def test_evaluate_refuses_bad_files(tmp_path):
    (tmp_path / "bad.extxyz").write_text("not a structure\n")
    (tmp_path / "model.pt").write_text("not a model")
    result = CliRunner().invoke(cryspai, ["evaluate", str(tmp_path / "model.pt"), str(tmp_path / "bad.extxyz")])
    assert result.exit_code != 0 and "is not a cryspai model" in result.output
