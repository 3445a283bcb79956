"""Small real datasets for tests: frames of EMT relaxations of strained, rattled copper cells."""

import numpy as np
from ase.build import bulk

from aiida_cryspai.ml.relax import relax


def emt_copper_frames(per_lattice: int, seed: int, stride: int = 3) -> tuple[list, np.ndarray]:
    """Frames (with energy, forces, stress) of EMT relaxations of fcc, hcp and bcc Cu, and their trajectory ids."""
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    frames, groups = [], []
    starts = [bulk("Cu", "fcc", a=3.6, cubic=True), bulk("Cu", "hcp", a=2.55, c=4.2) * (1, 1, 2),
              bulk("Cu", "bcc", a=2.87, cubic=True) * (2, 1, 1)]
    group = 0
    for start in starts:
        for _ in range(per_lattice):
            atoms = start.copy()
            atoms.set_cell(atoms.cell[:] * rng.uniform(0.95, 1.08), scale_atoms=True)
            atoms.rattle(0.15, seed=int(rng.integers(1e6)))
            result = relax(atoms, EMT(), fmax=0.02, max_steps=40)
            for frame in result.frames[::stride]:
                frame.info["group"] = group
                frames.append(frame)
                groups.append(group)
            group += 1
    return frames, np.asarray(groups)
