"""A stand-in for the ``vasp`` executable that replays recorded real VASP outputs (``tests/fixtures/vasp``).

Run in a calculation folder as ``python mock_vasp.py FIXTURES``: it reads the INCAR, POSCAR and KPOINTS that were
written there, finds the recorded run whose inputs they match (``inp/`` of the fixture, or, for a fixture with only
a ``vasprun.xml``, the inputs recorded in it) and copies that run's outputs in place. Inputs that match no recorded
run are an error (exit 1, the differences on stderr), so the test fails instead of replaying the wrong run.
"""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5


def read_incar(text: str) -> dict[str, str]:
    tags = {}
    for line in text.splitlines():
        line = line.split("#")[0].split("!")[0]
        for statement in line.split(";"):
            if "=" in statement:
                key, value = statement.split("=", 1)
                tags[key.strip().upper()] = value.strip()
    return tags


def read_poscar(text: str) -> dict:
    lines = text.splitlines()
    scale = float(lines[1].split()[0])
    cell = scale * np.array([[float(x) for x in lines[i].split()[:3]] for i in (2, 3, 4)])
    symbols, counts = lines[5].split(), [int(n) for n in lines[6].split()]
    start = 8 if lines[7].strip()[0] in "Ss" else 7  # selective dynamics line
    direct = lines[start].strip()[0] in "Dd"
    n_atoms = sum(counts)
    positions = np.array([[float(x) for x in lines[start + 1 + i].split()[:3]] for i in range(n_atoms)])
    if not direct:
        positions = positions @ np.linalg.inv(cell)
    species = [s for s, n in zip(symbols, counts) for _ in range(n)]
    return {"cell": cell, "fractional": positions, "species": species}


def read_kpoints_mesh(text: str) -> list[int]:
    return [int(n) for n in text.splitlines()[3].split()[:3]]


def recorded_inputs(fixture: Path) -> dict:
    """The inputs of a recorded run: its ``inp/`` files, or those recorded in its ``vasprun.xml``."""
    inputs = fixture / "inp"
    if inputs.is_dir():
        return {
            "incar": read_incar((inputs / "INCAR").read_text()),
            "structure": read_poscar((inputs / "POSCAR").read_text()),
            "mesh": read_kpoints_mesh((inputs / "KPOINTS").read_text()),
        }
    root = ElementTree.parse(fixture / "vasprun.xml").getroot()
    incar = {item.get("name").upper(): item.text.strip() for item in root.find("incar") if item.tag == "i"}
    mesh = [int(n) for n in root.find("kpoints/generation/v[@name='divisions']").text.split()]
    species = [row[0].text.strip() for row in root.findall("atominfo/array[@name='atoms']/set/rc")]
    initial = root.find("structure[@name='initialpos']")
    cell = np.array([[float(x) for x in v.text.split()] for v in initial.findall("crystal/varray[@name='basis']/v")])
    fractional = np.array([[float(x) for x in v.text.split()] for v in initial.findall("varray[@name='positions']/v")])
    return {"incar": incar, "structure": {"cell": cell, "fractional": fractional, "species": species}, "mesh": mesh}


def _same_value(written: str | None, recorded: str) -> bool:
    if written is None:
        return False
    try:
        return abs(float(written) - float(recorded)) <= 1e-9 * max(1.0, abs(float(recorded)))
    except ValueError:  # strings: VASP reads the first letter (PREC = a is Accurate)
        return written.strip(" .").lower()[:1] == recorded.strip(" .").lower()[:1]


def differences(written: dict, recorded: dict) -> list[str]:
    """What in the written inputs differs from a recorded run's (empty when they match)."""
    found = []
    for tag, value in recorded["incar"].items():
        if not _same_value(written["incar"].get(tag), value):
            found.append(f"INCAR {tag} = {written['incar'].get(tag)} (recorded: {value})")
    if written["mesh"] != recorded["mesh"]:
        found.append(f"KPOINTS mesh {written['mesh']} (recorded: {recorded['mesh']})")
    mine, theirs = written["structure"], recorded["structure"]
    if mine["species"] != theirs["species"]:
        found.append(f"POSCAR species {mine['species']} (recorded: {theirs['species']})")
    elif not np.allclose(mine["cell"], theirs["cell"], atol=TOLERANCE):
        found.append("POSCAR cell differs")
    else:
        delta = mine["fractional"] - theirs["fractional"]
        if np.abs(delta - np.round(delta)).max() > TOLERANCE:
            found.append("POSCAR positions differ")
    return found


def main(fixtures: Path, folder: Path = Path(".")) -> int:
    written = {
        "incar": read_incar((folder / "INCAR").read_text()),
        "structure": read_poscar((folder / "POSCAR").read_text()),
        "mesh": read_kpoints_mesh((folder / "KPOINTS").read_text()),
    }
    if "TITEL" not in (folder / "POTCAR").read_text():
        print("mock vasp: the POTCAR has no TITEL header", file=sys.stderr)
        return 1
    report = []
    for fixture in sorted(path for path in fixtures.iterdir() if path.is_dir()):
        found = differences(written, recorded_inputs(fixture))
        if not found:
            outputs = fixture / "out" if (fixture / "out").is_dir() else fixture
            for path in outputs.iterdir():
                shutil.copy(path, folder / path.name)
            print(f" running on    1 total cores (mock vasp: replaying the recorded run {fixture.name})")
            return 0
        report.append(f"{fixture.name}: " + "; ".join(found))
    print("mock vasp: the inputs match no recorded run\n" + "\n".join(report), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
