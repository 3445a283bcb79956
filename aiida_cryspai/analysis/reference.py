"""Comparison of a predicted structure with a reference (the paper's Table 2 metrics)."""

from __future__ import annotations

import warnings

from ase import Atoms

from .compare import matcher, to_pymatgen
from .symmetry import DEFAULT_SYMPREC, conventional_lattice, spacegroup


def c_over_a(atoms: Atoms, symprec: float = DEFAULT_SYMPREC) -> float:
    """c/a of the standardised conventional cell (independent of the supercell ``atoms`` is given in)."""
    a, _, c = conventional_lattice(atoms, symprec)
    return c / a


def compare_with_reference(predicted: Atoms, reference: Atoms, symprec: float = 0.1) -> dict:
    """Target vs predicted space group, c/a bias, site bias (Å), volume error (Å^3 per cell), match verdict.

    c/a is taken in the standardised conventional cells, so a supercell compares like its primitive cell. The
    site bias is the RMS distance between matched sites after StructureMatcher's best mapping (both scaled to the
    reference volume); ``None`` if no match. Volumes are compared per atom and expressed for the reference cell.
    """
    target = spacegroup(reference, symprec)
    found = spacegroup(predicted, symprec)
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
        "c_over_a_bias": round(float(c_over_a(predicted, symprec) - c_over_a(reference, symprec)), 4),
        "site_bias": None if site_bias is None else round(site_bias, 4),
        "volume_error": round(float(volume_error), 3),
        "matched": matched,
    }


def compare_ranked_with_reference(ranked: list[Atoms], reference: Atoms, symprec: float = 0.1) -> dict:
    """Table 2 metrics of rank 1 against ``reference``, plus the first rank that matches it.

    The paper shows "one of the 16 lowest-energy structures" per material; ``matched_rank`` says which of the
    ranked candidates StructureMatcher matches with the reference (None: none does) and ``matched`` holds that
    candidate's metrics.
    """
    if not ranked:
        raise ValueError("no candidates to compare with the reference")
    result = compare_with_reference(ranked[0], reference, symprec)
    result["matched_rank"] = 1 if result["matched"] else None
    if not result["matched"]:
        sm = matcher()
        ref_pmg = to_pymatgen(reference)
        for rank, atoms in enumerate(ranked[1:], start=2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if sm.fit(ref_pmg, to_pymatgen(atoms)):
                    result["matched_rank"] = rank
                    result["matched_candidate"] = compare_with_reference(atoms, reference, symprec)
                    break
    return result


def format_reference(result: dict) -> str:
    """The comparison as the lines of the paper's Table 2."""
    lines = [f"reference: target/predicted space group {result['spacegroup_target']}/{result['spacegroup_predicted']}"
             f", c/a bias {result['c_over_a_bias']:+.4f}, volume error {result['volume_error']:+.3f} A^3/cell, "
             f"site bias {_text(result['site_bias'], ' A')}, StructureMatcher: "
             f"{'match' if result['matched'] else 'no match'} (rank 1)"]
    matched = result.get("matched_candidate")
    if matched is not None:
        lines.append(f"reference found at rank {result['matched_rank']}: space group {matched['spacegroup_predicted']}"
                     f", c/a bias {matched['c_over_a_bias']:+.4f}, volume error {matched['volume_error']:+.3f} "
                     f"A^3/cell, site bias {_text(matched['site_bias'], ' A')}")
    elif result.get("matched_rank") is None:
        lines.append("reference not among the ranked candidates")
    return "\n".join(lines)


def _text(value, unit: str) -> str:
    return "n/a" if value is None else f"{value:.4f}{unit}"
