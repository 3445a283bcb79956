"""The console scripts run without AiiDA in a plain folder, as on a cluster node."""

import json

from ase.build import bulk
from ase.io import read, write

from aiida_cryspai.executables import evolve, relax, train
from aiida_cryspai.ml.dataset import load_arrays


def test_relax_train_evolve_in_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    structures = []
    for n, (name, a) in enumerate([("fcc", 3.7), ("bcc", 2.95), ("sc", 2.4), ("fcc", 3.5)]):
        atoms = bulk("Cu", name, a=a, cubic=True) if name != "sc" else bulk("Cu", "sc", a=a) * (2, 1, 1)
        atoms.rattle(0.05, seed=n)
        atoms.info["key"] = f"s{n}"
        structures.append(atoms)
    write("structures.xyz", structures, format="extxyz")
    (tmp_path / "parameters.json").write_text(json.dumps({"calculator": "emt", "fmax": 0.05, "max_steps": 60}))
    relax.main([])
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["status"] for r in results.values()} == {"ok"}
    assert len(read("relaxed.xyz", index=":")) == 4
    frames = load_arrays("frames.npz")
    assert len(frames["energies"]) > 4

    (tmp_path / "dataset.npz").write_bytes((tmp_path / "frames.npz").read_bytes())
    (tmp_path / "parameters.json").write_text(json.dumps({
        "descriptor": {"species": ["Cu"], "radial_cutoff": 5.0, "radial_order": 6, "angular_cutoff": 3.5},
        "training": {"hidden": 8, "max_epochs": 50},
    }))
    train.main([])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_train"] > 0 and (tmp_path / "model.pt").exists()

    (tmp_path / "parameters.json").write_text(json.dumps({
        "composition": "Cu4", "crystal_systems": ["cubic", "tetragonal"], "seeds": {"cubic": 1, "tetragonal": 2},
        "volume": 48.0,
        "ga": {"n_trial": 3, "n_generations": 1, "n_replace": 1, "n_offspring": 2, "n_recommend": 2},
        "local": {"max_steps": 10},
    }))
    evolve.main([])
    recommended = read("recommended.xyz", index=":")
    summary = json.loads((tmp_path / "evolve.json").read_text())
    # both systems' GAs ran in the one process, each recommending its own lowest
    assert set(summary["systems"]) == {"cubic", "tetragonal"}
    for system, info in summary["systems"].items():
        mine = [a for a in recommended if a.info["crystal_system"] == system]
        assert 1 <= len(mine) == info["n_recommended"] <= 2 and info["n_local_optimisations"] >= 3
        energies = [a.info["predicted_energy_per_atom"] for a in mine]
        assert energies == sorted(energies)


def test_a_script_asked_for_a_gpu_it_cannot_see_stops_with_one_line(tmp_path, monkeypatch):
    import pytest

    from aiida_cryspai.ml import device

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    write("structures.xyz", [bulk("Cu", "fcc", a=3.6)], format="extxyz")
    (tmp_path / "parameters.json").write_text(json.dumps({"calculator": "emt", "device": "cuda"}))
    with pytest.raises(SystemExit, match="cryspai-relax: device 'cuda' was asked for, but torch sees no CUDA GPU"):
        relax.main([])
    assert not (tmp_path / "results.json").exists()


def test_a_script_records_the_device_it_computed_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.info["key"] = "s0"
    write("structures.xyz", [atoms], format="extxyz")
    (tmp_path / "parameters.json").write_text(json.dumps({"calculator": "emt", "device": "auto", "max_steps": 5}))
    relax.main([])
    from aiida_cryspai.ml.device import gpu_available

    assert json.loads((tmp_path / "versions.json").read_text())["device"] == ("cuda" if gpu_available() else "cpu")


def test_a_script_bounds_its_own_memory(tmp_path):
    """``max_memory_kb`` in the parameters: the script's address space is bounded, so an allocation beyond it fails
    in the script (a MemoryError the relaxer records) instead of swapping the machine."""
    import subprocess
    import sys

    program = (
        "import json, numpy as np\n"
        "from aiida_cryspai.executables.common import limit_memory\n"
        "size = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0])\n"
        "limit_memory(size + 400 * 1024)\n"
        "small = np.ones(100 * 1024**2 // 8)\n"
        "try:\n"
        "    np.ones(2 * 1024**3 // 8)\n"
        "    print('allocated')\n"
        "except MemoryError:\n"
        "    print('refused')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "refused", result.stderr
