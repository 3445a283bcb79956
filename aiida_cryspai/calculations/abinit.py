"""``cryspai.abinit``: aiida-abinit 0.5.0's ``AbinitCalculation`` made to work with aiida-core 2.9, abipy 1.0 and
current pymatgen (see docs/engines.md, "Abinit"; its parser is ``parsers/abinit.py``).

Same inputs, outputs and exit codes as aiida-abinit's, with these fixes:

- (a) the input file is written here, not by abipy 1.0's ``AbinitInput``, which adds ``outdata_prefix
  "outdata/out"`` (and ``indata``/``tmpdata``) so that Abinit fails to create ``outdata/out_OUT.nc`` and the parser
  looks for the wrong file names; without them Abinit names its outputs ``aiidao_GSR.nc``, ``aiidao_HIST.nc``;
- (b) the user's parameters are written as given (abipy replaced ``ecut`` 15 Ha by its hint, 50 Ha);
- (c) the structure is written as given (abipy's ``abi_sanitize(primitive=True)`` turned an 8-atom cell into 2);
- MPI is off by default (``withmpi`` False): on a workstation, as root, ``mpirun`` refuses to run.

Defect (e), the inverted k-point validator of ``AbinitBaseWorkChain``, is avoided by not using that work chain.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida_abinit.calculations import AbinitCalculation


def _format(value) -> str:
    """An Abinit input value: numbers and lists of numbers as they are, strings in double quotes."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, str):
        return value if value.startswith('"') else f'"{value}"'
    if isinstance(value, (list, tuple, np.ndarray)):
        flat = np.asarray(value, dtype=object).ravel()
        return " ".join(_format(v) for v in flat)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def right_handed(atoms):
    """The same crystal with a right-handed cell (Abinit refuses a negative triple product): the first two lattice
    vectors, and the fractional coordinates along them, swapped."""
    if np.linalg.det(atoms.cell[:]) >= 0:
        return atoms
    swapped = atoms.copy()
    cell = atoms.cell[:][[1, 0, 2]]
    scaled = atoms.get_scaled_positions(wrap=False)[:, [1, 0, 2]]
    swapped.set_cell(cell)
    swapped.set_scaled_positions(scaled)
    return swapped


def abinit_input(parameters: dict, structure: orm.StructureData, kpoints: orm.KpointsData,
                 pseudo_filenames: dict[str, str], pseudo_dir: str) -> str:
    """The Abinit input file: the structure and k-points as given, then ``parameters`` verbatim."""
    ase_atoms = right_handed(structure.get_ase())
    elements = list(dict.fromkeys(ase_atoms.get_chemical_symbols()))
    numbers = {s: z for s, z in zip(ase_atoms.get_chemical_symbols(), ase_atoms.get_atomic_numbers())}
    lines = ["# structure (as given; Angstrom)", "acell 3*1.0 Angstrom"]
    lines.append("rprim " + "\n      ".join(" ".join(f"{x:.12f}" for x in row) for row in ase_atoms.cell[:]))
    lines += [f"natom {len(ase_atoms)}", f"ntypat {len(elements)}",
              "typat " + " ".join(str(elements.index(s) + 1) for s in ase_atoms.get_chemical_symbols()),
              "znucl " + " ".join(str(numbers[s]) for s in elements)]
    lines.append("xred " + "\n     ".join(" ".join(f"{x:.12f}" for x in row)
                                           for row in ase_atoms.get_scaled_positions(wrap=False)))
    lines.append("# k-points")
    parameters = dict(parameters)
    try:
        mesh, offset = kpoints.get_kpoints_mesh()
        lines += [f"kptopt {parameters.pop('kptopt', 1)}", "ngkpt " + " ".join(str(int(n)) for n in mesh),
                  "nshiftk 1", "shiftk " + " ".join(repr(float(o)) for o in offset)]
    except AttributeError:
        points = kpoints.get_kpoints()
        lines += ["kptopt 0", f"nkpt {len(points)}", "kptnrm 1",
                  "kpt " + "\n    ".join(" ".join(repr(float(x)) for x in k) for k in points)]
    lines.append("# pseudopotentials")
    lines.append(f'pseudos "{", ".join(pseudo_filenames[s] for s in elements)}"')
    lines.append(f'pp_dirpath "{pseudo_dir}"')
    lines.append("# parameters")
    lines += [f"{key} {_format(value)}" for key, value in parameters.items()]
    return "\n".join(lines) + "\n"


class CryspaiAbinitCalculation(AbinitCalculation):
    """aiida-abinit's ``AbinitCalculation`` writing its own input (defects a, b, c) and without MPI by default."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.inputs["metadata"]["options"]["withmpi"].default = False
        spec.inputs["metadata"]["options"]["parser_name"].default = "cryspai.abinit"

    def _generate_inputdata(self, parameters, pseudos, structure, kpoints):
        kinds = structure.get_kind_names()
        local_copy = [(pseudos[k].uuid, pseudos[k].filename, f"{self._PSEUDO_SUBFOLDER}{pseudos[k].filename}")
                      for k in kinds]
        symbols = {kind.name: kind.symbol for kind in structure.kinds}
        filenames = {symbols[k]: pseudos[k].filename for k in kinds}
        text = abinit_input(parameters.get_dict(), structure, kpoints, filenames, self._PSEUDO_SUBFOLDER)
        return text, local_copy
