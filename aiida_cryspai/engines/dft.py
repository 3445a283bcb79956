"""What the DFT engines (``abinit``, ``vasp``) share: settings checks, CalcJob options, k-point meshes, frames."""

from __future__ import annotations

import io

import numpy as np

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def check_settings(settings: dict, namespace: str, cell_relaxations: dict) -> dict:
    """``settings`` of a DFT engine's protocol, checked: raises ValueError naming ``oracle.<namespace>.<key>``."""
    if settings["cell_relaxation"] not in cell_relaxations:
        raise ValueError(f"oracle.{namespace}.cell_relaxation must be one of {', '.join(cell_relaxations)}, "
                         f"got {settings['cell_relaxation']!r}")
    if not float(settings["kpoints_distance"]) > 0:
        raise ValueError(f"oracle.{namespace}.kpoints_distance must be positive, got {settings['kpoints_distance']}")
    return settings


def calculation_options(options: dict, mpiprocs: int = 1) -> dict:
    """``metadata.options`` of a DFT CalcJob from the search's ``options`` (walltime, threads)."""
    calc_options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": mpiprocs},
                    "max_wallclock_seconds": int(options.get("max_wallclock_seconds", 3600))}
    if options.get("threads"):
        calc_options["environment_variables"] = {"OMP_NUM_THREADS": str(int(options["threads"]))}
    return calc_options


def kpoints_mesh(cell: np.ndarray, distance: float) -> list[int]:
    """Monkhorst-Pack divisions with at most ``distance`` (1/Angstrom, 2 pi included) between k-points."""
    reciprocal = 2.0 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    return [max(1, int(np.ceil(np.linalg.norm(b) / distance - 1e-8))) for b in reciprocal]


def trajectory_to_arrays(cells, positions, numbers, energies, forces, stress) -> dict[str, np.ndarray]:
    """The dataset's arrays (``ml/dataset.py``) of one relaxation's frames; ``stress`` (n, 3, 3) to Voigt."""
    n_steps, n_atoms = len(energies), len(numbers)
    return {
        "n_atoms": np.full(n_steps, n_atoms, dtype=np.int64),
        "cells": np.asarray(cells, dtype=float),
        "positions": np.asarray(positions, dtype=float).reshape(-1, 3),
        "numbers": np.tile(np.asarray(numbers, dtype=np.int64), n_steps),
        "energies": np.asarray(energies, dtype=float),
        "forces": np.asarray(forces, dtype=float).reshape(-1, 3),
        "stress": np.array([[s[i, j] for i, j in VOIGT] for s in np.asarray(stress, dtype=float)]).reshape(-1, 6),
        "groups": np.zeros(n_steps, dtype=np.int64),
        "sources": np.full(n_steps, "abinit", dtype="<U80"),
    }


def vasprun_frames(text: bytes | str) -> dict[str, np.ndarray]:
    """The dataset's arrays of every ionic step of a ``vasprun.xml`` (ASE's reader: positions in Angstrom, free
    energy F in eV, forces eV/Angstrom, stress eV/Angstrom^3 with ASE's sign)."""
    from ase.io import read
    from ase.stress import voigt_6_to_full_3x3_stress

    data = text.encode() if isinstance(text, str) else text
    images = read(io.BytesIO(data), index=":", format="vasp-xml")
    if not images:
        raise ValueError("vasprun.xml holds no ionic step")
    return trajectory_to_arrays(
        [atoms.cell[:] for atoms in images],
        [atoms.positions for atoms in images],
        images[0].numbers,
        [atoms.get_potential_energy(force_consistent=True) for atoms in images],
        [atoms.get_forces() for atoms in images],
        [voigt_6_to_full_3x3_stress(atoms.get_stress()) for atoms in images],
    )
