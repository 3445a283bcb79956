"""``cryspai enthalpies``: a run's candidates (or any structure files) relaxed at several pressures with an ASE
engine; their enthalpies per atom and the pressures where the lowest phase changes (no AiiDA needed)."""

from __future__ import annotations

import json
from pathlib import Path

import click


def parse_pressures(text: str) -> list[float]:
    """``"0,10,20"`` -> [0.0, 10.0, 20.0]; each within the search's pressure range, at least two, ascending."""
    from ..workchains.request import PRESSURE_RANGE_GPA

    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of pressures in GPa") from None
    low, high = PRESSURE_RANGE_GPA
    bad = [v for v in values if not low <= v <= high]
    if bad:
        raise click.BadParameter(f"pressures must lie between {low:g} and {high:g} GPa, got {bad}")
    if len(values) < 2:
        raise click.BadParameter("give at least two pressures, e.g. 0,10,20")
    return sorted(set(values))


def read_phases(paths: tuple[str, ...], top: int) -> dict:
    """Name -> ASE Atoms: of a results folder (``results.json``) its ``top`` first candidates, named by rank and
    space group; of a structure file (CIF, POSCAR, extxyz) its structure, named by the file."""
    from ase.io import read

    phases = {}
    for path in map(Path, paths):
        if path.is_dir():
            results_file = path / "results.json"
            if not results_file.exists():
                raise click.ClickException(f"{path} has no results.json (the folder `cryspai predict --output` "
                                           "or `cryspai export` writes)")
            results = json.loads(results_file.read_text())
            for candidate in results["candidates"][:top]:
                name = f"{path.name}:{candidate['rank']} {candidate['spacegroup_symbol']}"
                phases[name] = read(path / candidate["cif"])
        else:
            try:
                phases[path.name] = read(path)
            except Exception as error:  # ASE raises several types for an unreadable file
                raise click.ClickException(f"{path} is not a readable structure file: {error}") from None
    if not phases:
        raise click.ClickException("no structures given")
    counts = {name: atoms.get_chemical_formula(empirical=True) for name, atoms in phases.items()}
    if len(set(counts.values())) > 1:
        raise click.ClickException("the structures must share one composition to compare enthalpies per atom: "
                                   + ", ".join(f"{n} {c}" for n, c in counts.items()))
    return phases


@click.command("enthalpies")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--pressures", required=True, help="Comma-separated pressures in GPa, e.g. 0,10,20.")
@click.option("--engine", default="ase:chgnet", show_default=True,
              help="An ASE engine (ase:chgnet, ase:sevennet, ase:emt); for DFT run `cryspai predict --pressure`.")
@click.option("--top", type=int, default=5, show_default=True, help="Candidates taken from each results folder.")
@click.option("--fmax", type=float, default=0.01, show_default=True,
              help="Force (eV/Å) and cell-force threshold of each relaxation.")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Also write every phase at every pressure as JSON lines.")
def enthalpies_command(paths, pressures, engine, top, fmax, output):
    """Relax the structures of PATHS (results folders or structure files) at each pressure and print their
    enthalpies per atom above the lowest, and the transition pressures between them."""
    from ..engines import EngineError, get_engine
    from ..ml.potentials import get_calculator

    values = parse_pressures(pressures)
    try:
        oracle = get_engine(engine)
    except EngineError as error:
        raise click.UsageError(str(error)) from None
    if not oracle.uses_relax_code:
        raise click.UsageError(f"{engine} is not an ASE engine; relax DFT phases with `cryspai predict --pressure`")
    phases = read_phases(paths, top)
    missing = oracle.unsupported_elements(sorted({s for a in phases.values() for s in a.get_chemical_symbols()}))
    if missing:
        raise click.UsageError(f"engine {engine} cannot compute {', '.join(missing)}")

    from ..ml.enthalpy import format_table, relax_phases

    click.echo(f"{len(phases)} phases x {len(values)} pressures on {engine} (fmax {fmax} eV/Å)", err=True)
    points = relax_phases(phases, get_calculator(oracle.calculator), values, fmax=fmax,
                          log=lambda line: click.echo(line, err=True))
    click.echo(format_table(points))
    if output is not None:
        with open(output, "w") as handle:
            for p in points:
                handle.write(json.dumps({"phase": p.name, "pressure_gpa": p.pressure_gpa,
                                         "enthalpy_per_atom": p.enthalpy_per_atom, "energy_per_atom": p.energy_per_atom,
                                         "volume_per_atom": p.volume_per_atom, "spacegroup": p.spacegroup,
                                         "converged": p.converged}) + "\n")
