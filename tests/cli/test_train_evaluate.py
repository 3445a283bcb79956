"""``cryspai train`` and ``cryspai evaluate`` on extxyz files, the second one never seen in training."""

import json

import pytest
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
    assert result["rmse_mev_per_atom"] < 25.0
    # the numbers are the saved model's own on the unseen frames, recomputed here: energies from the loaded
    # network, forces through its ASE calculator (not the evaluator's batch path)
    import numpy as np

    from aiida_cryspai.ml.network import load_potential

    loaded = load_potential(model)
    energies = np.array([f.get_potential_energy() for f in test_frames])
    n_atoms = np.array([len(f) for f in test_frames])
    errors = (loaded.energies_and_spread(test_frames)[0] - energies) / n_atoms * 1000
    assert result["rmse_mev_per_atom"] == pytest.approx(float(np.sqrt(np.mean(errors**2))), rel=1e-6)
    assert result["mae_mev_per_atom"] == pytest.approx(float(np.mean(np.abs(errors))), rel=1e-6)
    assert result["n_force_components"] == 3 * int(n_atoms.sum())
    from aiida_cryspai.ml.network import NetworkCalculator

    force_errors = []
    for frame in test_frames:
        atoms = frame.copy()
        atoms.calc = NetworkCalculator(loaded)
        force_errors.append((atoms.get_forces() - frame.get_forces()).ravel())
    by_hand = float(np.sqrt(np.mean(np.concatenate(force_errors) ** 2)))
    assert result["force_rmse_ev_per_angstrom"] == pytest.approx(by_hand, rel=1e-6)
    assert result["force_rmse_ev_per_angstrom"] < 1.0


def test_evaluate_refuses_bad_files(tmp_path):
    (tmp_path / "bad.extxyz").write_text("not a structure\n")
    (tmp_path / "model.pt").write_text("not a model")
    result = CliRunner().invoke(cryspai, ["evaluate", str(tmp_path / "model.pt"), str(tmp_path / "bad.extxyz")])
    assert result.exit_code != 0 and "is not a cryspai model" in result.output


def test_train_and_evaluate_with_a_prior(tmp_path):
    """EMT copper learnt as CHGNet plus a correction: the model records its prior, evaluation loads it, and a model
    whose prior checkpoint differs from the installed one is refused."""
    import torch

    train_frames, _ = emt_copper_frames(per_lattice=2, seed=10, stride=4)
    test_frames, _ = emt_copper_frames(per_lattice=1, seed=99, stride=4)
    write(tmp_path / "train.extxyz", train_frames, format="extxyz")
    write(tmp_path / "test.extxyz", test_frames, format="extxyz")
    model = tmp_path / "cu.pt"
    trained = CliRunner().invoke(cryspai, ["train", str(tmp_path / "train.extxyz"), "--output", str(model),
                                           "--prior", "ase:chgnet"], catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["prior"]["name"] == "chgnet"
    evaluated = CliRunner().invoke(cryspai, ["evaluate", str(model), str(tmp_path / "test.extxyz")],
                                   catch_exceptions=False)
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["rmse_mev_per_atom"] < 25.0

    payload = torch.load(model, weights_only=False)
    payload["prior"]["checkpoint_sha256"] = "0" * 64
    torch.save(payload, tmp_path / "other.pt")
    refused = CliRunner().invoke(cryspai, ["evaluate", str(tmp_path / "other.pt"), str(tmp_path / "test.extxyz")])
    assert refused.exit_code != 0 and "is installed" in refused.output and "Traceback" not in refused.output

    unusable = CliRunner().invoke(cryspai, ["train", str(tmp_path / "train.extxyz"), "--output", str(model),
                                            "--prior", "ase:mace"])
    assert unusable.exit_code == 2 and "unknown prior 'mace'" in unusable.output


def test_enthalpies_shows_where_the_lowest_phase_changes(tmp_path):
    """Two copper phases as files, EMT, 0 and 40 GPa: a table of H - H_min per pressure (each line has a phase at
    zero) and the JSON lines of every phase at every pressure; bad pressures and mixed compositions are refused."""
    import json

    from ase.build import bulk
    from ase.io import write

    write(tmp_path / "fcc.cif", bulk("Cu", "fcc", a=3.6))
    write(tmp_path / "bcc.cif", bulk("Cu", "bcc", a=2.87))
    output = tmp_path / "h.jsonl"
    result = CliRunner().invoke(cryspai, ["enthalpies", str(tmp_path / "fcc.cif"), str(tmp_path / "bcc.cif"),
                                          "--pressures", "0,40", "--engine", "ase:emt", "--output", str(output)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = [line.split() for line in lines if line.strip() and line.split()[0] in ("0", "40")]
    assert len(rows) == 2 and all(min(float(v) for v in row[1:]) == 0.0 for row in rows)
    points = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(points) == 4 and {p["phase"] for p in points} == {"fcc.cif", "bcc.cif"}
    assert all(p["converged"] for p in points)
    bad = CliRunner().invoke(cryspai, ["enthalpies", str(tmp_path / "fcc.cif"), "--pressures", "0,2000"])
    assert bad.exit_code == 2 and "between -100 and 1000 GPa" in bad.output
    write(tmp_path / "si.cif", bulk("Si"))
    mixed = CliRunner().invoke(cryspai, ["enthalpies", str(tmp_path / "fcc.cif"), str(tmp_path / "si.cif"),
                                         "--pressures", "0,10", "--engine", "ase:emt"])
    assert mixed.exit_code != 0 and "one composition" in mixed.output
