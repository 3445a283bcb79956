"""Neighbour lists: matscipy's (C, about 50x faster than ASE's on small cells) for periodic cells, ASE's otherwise.

Both return the same pairs (i, j, cell shift S, distance d) within a cutoff; matscipy needs a cell periodic in
all three directions, which every crystal here is, and ASE covers the rest (molecules, slabs).
"""

from __future__ import annotations

from ase import Atoms
from ase.neighborlist import neighbor_list
from matscipy.neighbours import neighbour_list


def neighbour_pairs(quantities: str, atoms: Atoms, cutoff: float) -> tuple:
    """``quantities`` as in ASE/matscipy (e.g. ``"ijSd"``) for all pairs closer than ``cutoff`` (Å)."""
    if atoms.pbc.all():
        return neighbour_list(quantities, atoms, cutoff)
    return neighbor_list(quantities, atoms, cutoff)
