"""Comparison of a predicted structure with a reference (the paper's Table 2 metrics)."""

from __future__ import annotations

import warnings

from ase import Atoms

from .compare import matcher, to_pymatgen
from .symmetry import refined, spacegroup


def c_over_a(atoms: Atoms) -> float:
    a, _, c = atoms.cell.cellpar()[:3]
    return float(c / a)


def compare_with_reference(predicted: Atoms, reference: Atoms, symprec: float = 0.1) -> dict:
    """Target vs predicted space group, c/a bias, site bias (Å), volume error (Å^3 per cell), match verdict.

    c/a is taken in the standardised conventional cells. The site bias is the RMS distance between matched
    sites after StructureMatcher's best mapping (both scaled to the reference volume); ``None`` if no match.
    Volumes are compared per atom and expressed for the reference cell.
    """
    target = spacegroup(reference, symprec)
    found = spacegroup(predicted, symprec)
    ref_std, pred_std = refined(reference, symprec), refined(predicted, symprec)
    volume_error = (predicted.get_volume() / len(predicted) - reference.get_volume() / len(reference)) * len(reference)
    sm = matcher()
    ref_pmg, pred_pmg = to_pymatgen(reference), to_pymatgen(predicted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matched = bool(sm.fit(ref_pmg, pred_pmg))
        rms = sm.get_rms_dist(ref_pmg, pred_pmg) if matched else None
    site_bias = None
    if rms is not None:
        # get_rms_dist is normalised by (V/n)^(1/3); return Å
        site_bias = float(rms[0] * (reference.get_volume() / len(reference)) ** (1.0 / 3.0))
    return {
        "spacegroup_target": target.number,
        "spacegroup_predicted": found.number,
        "c_over_a_bias": round(float(c_over_a(pred_std) - c_over_a(ref_std)), 4),
        "site_bias": None if site_bias is None else round(site_bias, 4),
        "volume_error": round(float(volume_error), 3),
        "matched": matched,
    }
