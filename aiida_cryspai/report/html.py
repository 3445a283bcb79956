"""The self-contained HTML report of a run: plots as embedded PNG, the ranked table, a 3D view of each candidate
(``static/viewer.js``, embedded), the provenance summary and the commands that reproduce the run.

Takes plain data (see :func:`render`), no AiiDA: ``cli/report.py`` collects it from the graph.
"""

from __future__ import annotations

import base64
import html
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: .9em; } td, th { border: 1px solid #ddd; padding: .25em .6em; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plots figure { margin: 0; }
.plots img { max-width: 540px; border: 1px solid #eee; }
.views { display: flex; flex-wrap: wrap; gap: 1em; } .views figure { margin: 0; text-align: center; font-size: .85em; }
canvas.crystal-view { border: 1px solid #ccc; cursor: grab; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
.note { color: #666; font-size: .85em; }
"""


def structure_view_data(atoms: Atoms, bond_factor: float = 1.15) -> dict:
    """What ``viewer.js`` draws: the cell, the atoms (with their images on the cell's faces, edges and corners) and
    the bonds (pairs closer than ``bond_factor`` times the sum of covalent radii)."""
    fractional = atoms.get_scaled_positions(wrap=True)
    points, symbols = [], []
    shifts = [np.array([i, j, k]) for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    for position, symbol in zip(fractional, atoms.get_chemical_symbols()):
        seen = set()
        for shift in shifts:
            image = position + shift
            if np.all(image <= 1.0 + 1e-3):
                key = tuple(np.round(image, 3))
                if key not in seen:
                    seen.add(key)
                    points.append(image @ atoms.cell[:])
                    symbols.append(symbol)
    cartesian = np.array(points)
    radii = np.array([covalent_radii[atomic_numbers[s]] for s in symbols])
    distances = np.linalg.norm(cartesian[:, None, :] - cartesian[None, :, :], axis=-1)
    limit = bond_factor * (radii[:, None] + radii[None, :])
    first, second = np.nonzero(np.triu((distances < limit) & (distances > 0.1), k=1))
    atoms_out = []
    for point, symbol, radius in zip(cartesian, symbols, radii):
        red, green, blue = (int(round(255 * c)) for c in jmol_colors[atomic_numbers[symbol]])
        atoms_out.append([*(round(float(x), 4) for x in point), f"#{red:02x}{green:02x}{blue:02x}",
                          round(float(0.45 * radius + 0.15), 3), symbol])
    return {"cell": [[round(float(x), 4) for x in row] for row in atoms.cell[:]], "atoms": atoms_out,
            "bonds": [[int(i), int(j)] for i, j in zip(first, second)]}


def _escape(value) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_escape(h)}</th>" for h in header) if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{_escape(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    head = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _image(path: Path, caption: str) -> str:
    encoded = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img alt="{_escape(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption class=note>{_escape(caption)}</figcaption></figure>")


def render(report: dict) -> str:
    """The page. ``report`` holds: ``title``; ``overview`` (label -> value); ``plots`` (caption -> PNG path);
    ``candidates`` (dicts of rank, energy_per_atom, spacegroup_symbol, spacegroup_number, crystal_system,
    volume_per_atom, oracle_verified, origin); ``views`` (rank -> :func:`structure_view_data`); ``reference`` (or None);
    ``provenance`` (label -> value); ``versions`` (package -> version); ``commands`` (shell lines);
    ``parameters`` (the run's full parameters)."""
    viewer = files("aiida_cryspai.report").joinpath("static/viewer.js").read_text()
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_escape(report['title'])}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{_escape(report['title'])}</h1>",
             _table(["", ""], [[k, v] for k, v in report["overview"].items()])]
    if report["plots"]:
        parts.append("<h2>How the search went</h2><div class=plots>")
        parts += [_image(path, caption) for caption, path in report["plots"].items()]
        parts.append("</div>")
    # under pressure the ranking is by enthalpy: H and ΔH first, E beside them
    pressure = report.get("pressure_gpa") or 0.0
    ranked_by = "enthalpy_per_atom" if pressure else "energy_per_atom"
    lowest = report["candidates"][0][ranked_by] if report["candidates"] else 0.0
    rows = [[c["rank"], f"{c[ranked_by]:.5f}", f"{(c[ranked_by] - lowest) * 1000:.1f}",
             *([f"{c['energy_per_atom']:.5f}"] if pressure else []),
             f"{c['spacegroup_symbol']} ({c['spacegroup_number']})", c["crystal_system"],
             f"{c['volume_per_atom']:.3f}", "yes" if c["oracle_verified"] else "no", c.get("origin", "")]
            for c in report["candidates"]]
    header = (["rank", f"H at {pressure:g} GPa (eV/atom)", "ΔH (meV/atom)", "E (eV/atom)"] if pressure
              else ["rank", "E (eV/atom)", "ΔE (meV/atom)"])
    parts += ["<h2>Ranked candidates</h2>",
              _table(header + ["space group", "crystal system", "V (Å³/atom)", "oracle-relaxed", "origin"], rows,
                     numeric=set(range(len(header))) | {len(header) + 2})]
    if report.get("reference"):
        reference = report["reference"]
        parts += ["<h2>Comparison with the reference</h2>",
                  _table(["quantity", "value"], [[k, v] for k, v in reference.items() if k != "matched_candidate"])]
        if reference.get("matched_candidate"):
            parts.append(f"<p>Matched at rank {reference['matched_rank']}:</p>")
            parts.append(_table(["quantity", "value"], [[k, v] for k, v in reference["matched_candidate"].items()]))
    if report["views"]:
        parts.append("<h2>Structures</h2><p class=note>Drag to rotate, wheel to zoom, double-click to reset.</p>"
                     "<div class=views>")
        for rank, data in report["views"].items():
            candidate = next(c for c in report["candidates"] if c["rank"] == rank)
            caption = f"rank {rank}: {candidate['spacegroup_symbol']}, {candidate[ranked_by]:.4f} eV/atom"
            parts.append(f"<figure><canvas class=crystal-view width=300 height=300 data-rank={rank} "
                         f"data-structure='{_escape(json.dumps(data))}'></canvas>"
                         f"<figcaption>{_escape(caption)}</figcaption></figure>")
        parts.append("</div>")
    parts += ["<h2>Provenance</h2>", _table(["", ""], [[k, v] for k, v in report["provenance"].items()])]
    if report["versions"]:
        parts += ["<h3>Package versions (and the device) on the computers that ran the CalcJobs</h3>",
                  _table(["package", "version"], [[k, v] for k, v in report["versions"].items()])]
        if len(report["versions"]) == 1:
            parts.append("<p class=note>The CalcJobs of this run did not report their package versions (made by "
                         "aiida-cryspai before versions were recorded).</p>")
    parts += ["<h2>Reproduce</h2><pre>" + _escape("\n".join(report["commands"])) + "</pre>",
              "<details><summary>All parameters of the run</summary><pre>"
              + _escape(json.dumps(report["parameters"], indent=1, sort_keys=True)) + "</pre></details>",
              f"<script>{viewer}</script></body></html>"]
    return "\n".join(parts)


def render_system(report: dict) -> str:
    """The page of a chemical system. ``report`` holds: ``title``; ``overview`` (label -> value); ``hull`` (the PNG
    path of the hull figure); ``compositions`` (dicts of composition, spacegroup_symbol, spacegroup_number,
    energy_per_atom, formation_energy_per_atom, e_above_hull, stable); ``views`` (composition ->
    :func:`structure_view_data` of each stable phase); ``provenance``; ``commands``."""
    viewer = files("aiida_cryspai.report").joinpath("static/viewer.js").read_text()
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_escape(report['title'])}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{_escape(report['title'])}</h1>",
             _table(["", ""], [[k, v] for k, v in report["overview"].items()]),
             "<h2>Convex hull</h2><div class=plots>", _image(report["hull"], "formation energy against composition: "
                                                               "the stable phases on the line, the others above"),
             "</div>"]
    rows = [[c["composition"], f"{c['spacegroup_symbol']} ({c['spacegroup_number']})", f"{c['energy_per_atom']:.5f}",
             f"{c['formation_energy_per_atom'] * 1000:.1f}", f"{c['e_above_hull'] * 1000:.1f}",
             "stable" if c["stable"] else ""] for c in report["compositions"]]
    parts += ["<h2>Compositions</h2>",
              _table(["composition", "best space group", "E (eV/atom)", "formation (meV/atom)",
                      "above the hull (meV/atom)", ""], rows, numeric={2, 3, 4})]
    if report["views"]:
        parts.append("<h2>Stable phases</h2><p class=note>Drag to rotate, wheel to zoom, double-click to reset.</p>"
                     "<div class=views>")
        for rank, (composition, data) in enumerate(report["views"].items(), start=1):
            parts.append(f"<figure><canvas class=crystal-view width=300 height=300 data-rank={rank} "
                         f"data-structure='{_escape(json.dumps(data))}'></canvas>"
                         f"<figcaption>{_escape(composition)}</figcaption></figure>")
        parts.append("</div>")
    parts += ["<h2>Provenance</h2>", _table(["", ""], [[k, v] for k, v in report["provenance"].items()]),
              "<h2>Reproduce</h2><pre>" + _escape("\n".join(report["commands"])) + "</pre>",
              f"<script>{viewer}</script></body></html>"]
    return "\n".join(parts)
