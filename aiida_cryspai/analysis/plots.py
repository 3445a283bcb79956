"""The figures of a run, as PNG files (matplotlib, no display needed); they take plain numbers, not AiiDA nodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .crystal_systems import CRYSTAL_SYSTEMS

# one colour per crystal system, the same in every figure
SYSTEM_COLOURS = dict(zip(CRYSTAL_SYSTEMS, ("#7f7f7f", "#8c564b", "#9467bd", "#2ca02c", "#ff7f0e", "#1f77b4",
                                             "#d62728")))


def _figure(width: float = 5.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=110)


def _save(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_rmse(iterations: list[dict], threshold: float | None, path: Path) -> Path:
    """Network RMSE per iteration: validation (held-out frames of the training set) and out-of-sample (the previous
    network on the next oracle batch, the convergence test). ``iterations``: dicts with ``iteration``,
    ``validation``, ``out_of_sample`` and ``out_of_sample_basin`` (the same within the basin; meV/atom or None)."""
    figure, axis = _figure()
    for key, label, marker in (("validation", "validation", "o"),
                               ("out_of_sample", "out-of-sample (next oracle batch)", "s"),
                               ("out_of_sample_basin", "out-of-sample near the basin", "^")):
        points = [(row["iteration"], row[key]) for row in iterations if row.get(key) is not None]
        if points:
            axis.plot(*zip(*points), marker=marker, label=label)
    if threshold is not None:
        axis.axhline(threshold, color="k", linestyle="--", linewidth=1, label=f"convergence ({threshold:g})")
    from matplotlib.ticker import LogFormatter, MaxNLocator

    axis.set_xlabel("iteration")
    axis.set_ylabel("RMSE (meV/atom)")
    axis.set_yscale("log")
    # plain numbers; minor ticks labelled only where there is room (below ~2 decades), not all eight per decade
    axis.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize=8)
    axis.set_title("Network error per iteration")
    return _save(figure, path)


def plot_ga_progress(curves: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """Best predicted energy per generation for each crystal system. ``curves``: GA label (``ga_01``,
    ``final_ga``...) -> crystal system -> best energy per atom per generation; the last label is drawn solid,
    earlier ones faint."""
    figure, axis = _figure(6.0, 3.8)
    labels = list(curves)
    for label in labels:
        last = label == labels[-1]
        for system, values in curves[label].items():
            if not values:
                continue
            axis.plot(range(len(values)), values, color=SYSTEM_COLOURS.get(system, "k"),
                      alpha=1.0 if last else 0.25, linewidth=1.8 if last else 1.0,
                      label=system if last else None, marker="o" if last else None, markersize=3)
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("generation")
    axis.set_ylabel("best predicted energy (eV/atom)")
    axis.set_title(f"GA on the network ({labels[-1]} solid)" if labels else "GA on the network")
    if labels:
        axis.legend(fontsize=7, ncol=2)
    return _save(figure, path)


def plot_parity(oracle: list[float], predicted: list[float], groups: list[str], path: Path) -> Path:
    """Network against oracle energies per atom; ``groups`` names the network/batch of each point."""
    figure, axis = _figure(4.4, 4.2)
    oracle_array, predicted_array = np.asarray(oracle, float), np.asarray(predicted, float)
    for group in dict.fromkeys(groups):
        mask = np.array([g == group for g in groups])
        rmse = np.sqrt(np.mean((predicted_array[mask] - oracle_array[mask]) ** 2)) * 1000
        axis.scatter(oracle_array[mask], predicted_array[mask], s=10, alpha=0.7,
                     label=f"{group} (RMSE {rmse:.0f} meV/atom, {mask.sum()})")
    if len(oracle_array):
        low = min(oracle_array.min(), predicted_array.min())
        high = max(oracle_array.max(), predicted_array.max())
        axis.plot([low, high], [low, high], color="k", linewidth=1)
    axis.set_xlabel("oracle energy (eV/atom)")
    axis.set_ylabel("network energy (eV/atom)")
    axis.set_title("Network against oracle")
    axis.legend(fontsize=6)
    return _save(figure, path)


def plot_energy_volume(volumes: list[float], energies: list[float], systems: list[str], path: Path,
                       pressure_gpa: float = 0.0) -> Path:
    """Energy per atom against volume per atom of every oracle result, coloured by crystal system; under a pressure
    the enthalpy per atom E/N + P V/N (what the search ranks)."""
    from ase.units import GPa

    figure, axis = _figure()
    volume_array, energy_array = np.asarray(volumes, float), np.asarray(energies, float)
    energy_array = energy_array + pressure_gpa * GPa * volume_array
    for system in CRYSTAL_SYSTEMS:
        mask = np.array([s == system for s in systems], dtype=bool)
        if mask.any():
            axis.scatter(volume_array[mask], energy_array[mask], s=14, color=SYSTEM_COLOURS[system], label=system,
                         alpha=0.8)
    if len(energy_array):
        best = int(np.argmin(energy_array))
        axis.scatter([volume_array[best]], [energy_array[best]], s=120, facecolors="none", edgecolors="k",
                     label="lowest")
    axis.set_xlabel("volume (Å$^3$/atom)")
    axis.set_ylabel(f"oracle enthalpy at {pressure_gpa:g} GPa (eV/atom)" if pressure_gpa else "oracle energy (eV/atom)")
    axis.set_title("Oracle results")
    axis.legend(fontsize=7, ncol=2)
    return _save(figure, path)


def phase_name(point: dict, spacegroups: dict[str, str] | None = None) -> str:
    """A hull point as a reader names the phase: its reduced formula, and its space group where ``spacegroups``
    (cell formula -> symbol of that composition's best structure) gives one, e.g. ``Li2O2 Immm``."""
    from pymatgen.core import Composition

    name = Composition(point["formula"]).reduced_formula
    symbol = (spacegroups or {}).get(point["formula"])
    return f"{name} {symbol}" if symbol else name


def best_spacegroups(summary: dict) -> dict[str, str]:
    """Cell formula -> space-group symbol of that composition's best structure, from a system's summary."""
    return {formula: info["best"]["spacegroup_symbol"] for formula, info in summary["compositions"].items()}


def plot_hull(points: list[dict], elements: list[str], path: Path, pressure_gpa: float = 0.0,
              spacegroups: dict[str, str] | None = None) -> Path:
    """The convex hull of a binary system: formation energy (enthalpy under pressure) per atom against the fraction
    of the second element, the hull through the stable phases (labelled by :func:`phase_name`), the metastable
    ones above it. ``points``: :class:`~.hull.HullPoint` dicts. More than two elements: the stable phases listed,
    no drawing."""
    from pymatgen.core import Composition

    figure, axis = _figure(6.4, 3.8)
    quantity = "enthalpy" if pressure_gpa else "energy"
    if len(elements) == 3:
        return _plot_ternary(figure, axis, points, elements, path, quantity, pressure_gpa, spacegroups)
    if len(elements) != 2:
        stable = ", ".join(phase_name(p, spacegroups) for p in points if p["stable"])
        axis.text(0.5, 0.5, f"{'-'.join(elements)}: stable {stable}", ha="center", va="center", wrap=True)
        axis.set_axis_off()
        return _save(figure, path)
    x = [Composition(p["formula"]).get_atomic_fraction(elements[1]) for p in points]
    y = [p["formation_energy_per_atom"] for p in points]
    stable = sorted((xi, yi, phase_name(p, spacegroups)) for xi, yi, p in zip(x, y, points) if p["stable"])
    axis.plot([s[0] for s in stable], [s[1] for s in stable], color="k", linewidth=1.2, zorder=1)
    above = [(xi, yi) for xi, yi, p in zip(x, y, points) if not p["stable"]]
    if above:
        axis.scatter(*zip(*above), s=14, color="#1f77b4", alpha=0.6, label="above the hull", zorder=2)
    axis.scatter([s[0] for s in stable], [s[1] for s in stable], s=40, color="#d62728", label="stable", zorder=3)
    for xi, yi, label in stable:
        axis.annotate(label, (xi, yi), textcoords="offset points", xytext=(0, -12), ha="center", fontsize=7)
    axis.set_xlabel(f"fraction of {elements[1]} in {elements[0]}$_{{1-x}}${elements[1]}$_x$")
    axis.set_ylabel(f"formation {quantity} (eV/atom)")
    axis.set_title(f"{'-'.join(elements)} convex hull" + (f" at {pressure_gpa:g} GPa" if pressure_gpa else ""))
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: no point hidden
    return _save(figure, path)


def _plot_ternary(figure, axis, points: list[dict], elements: list[str], path: Path, quantity: str,
                  pressure_gpa: float, spacegroups: dict[str, str] | None) -> Path:
    """A ternary hull in the composition triangle (``elements`` at its corners)."""
    import math

    from pymatgen.core import Composition

    from .hull import tie_lines

    def where(formula: str) -> tuple[float, float]:
        composition = Composition(formula)
        b, c = (composition.get_atomic_fraction(e) for e in elements[1:])
        return b + c / 2, c * math.sqrt(3) / 2

    corners = [(0.0, 0.0), (1.0, 0.0), (0.5, math.sqrt(3) / 2)]
    axis.plot(*zip(*corners, corners[0]), color="0.6", linewidth=0.8, zorder=0)
    for corner, element in zip(corners, elements):
        axis.annotate(element, corner, textcoords="offset points", xytext=(0, -12 if corner[1] == 0 else 6),
                      ha="center", fontsize=8, fontweight="bold")
    at = {p["label"]: where(p["formula"]) for p in points}
    for a, b in sorted(tie_lines(points)):
        axis.plot(*zip(at[a], at[b]), color="k", linewidth=1.0, zorder=1)
    above = [p for p in points if not p["stable"]]
    if above:
        shown = axis.scatter([at[p["label"]][0] for p in above], [at[p["label"]][1] for p in above], s=14,
                             c=[1000 * p["e_above_hull"] for p in above], cmap="viridis", zorder=2)
        figure.colorbar(shown, ax=axis, label=f"{quantity} above the hull (meV/atom)", shrink=0.8)
    stable = [p for p in points if p["stable"]]
    axis.scatter([at[p["label"]][0] for p in stable], [at[p["label"]][1] for p in stable], s=40, color="#d62728",
                 zorder=3)
    for p in stable:
        if Composition(p["formula"]).is_element:
            continue
        axis.annotate(phase_name(p, spacegroups), at[p["label"]], textcoords="offset points", xytext=(0, 6),
                      ha="center", fontsize=7)
    axis.set_aspect("equal")
    axis.set_axis_off()
    axis.set_title(f"{'-'.join(elements)} convex hull" + (f" at {pressure_gpa:g} GPa" if pressure_gpa else ""))
    return _save(figure, path)
