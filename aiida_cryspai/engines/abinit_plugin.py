"""aiida-abinit 0.5.0 made to work with aiida-core 2.9, abipy 1.0 and current pymatgen: the one place where the
project works around that plugin (see docs/engines.md, "Abinit").

``cryspai.abinit`` is aiida-abinit's ``AbinitCalculation`` (same inputs, outputs and exit codes) with these fixes:

- (a) the input file is written here, not by abipy 1.0's ``AbinitInput``, which adds ``outdata_prefix
  "outdata/out"`` (and ``indata``/``tmpdata``) so that Abinit fails to create ``outdata/out_OUT.nc`` and the parser
  looks for the wrong file names; without them Abinit names its outputs ``aiidao_GSR.nc``, ``aiidao_HIST.nc``;
- (b) the user's parameters are written as given (abipy replaced ``ecut`` 15 Ha by its hint, 50 Ha);
- (c) the structure is written as given (abipy's ``abi_sanitize(primitive=True)`` turned an 8-atom cell into 2);
- MPI is off by default (``withmpi`` False): on a workstation, as root, ``mpirun`` refuses to run.

``cryspai.abinit`` (parser) is aiida-abinit's ``AbinitParser`` with:

- (d) ``TrajectoryData`` given the symbols as a list (a numpy array raised, so the calculation ended Excepted);
- node attributes read through ``node.base.attributes`` (``Node.get_attribute`` is gone from aiida-core 2);
- the stdout events, GSR and HIST files parsed with aiida-abinit's own methods otherwise.

Defect (e), the inverted k-point validator of ``AbinitBaseWorkChain``, is avoided by not using that work chain.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from aiida import orm
from aiida.engine import ExitCode
from aiida_abinit.calculations import AbinitCalculation
from aiida_abinit.parsers import AbinitParser
from ase.units import Bohr, Hartree


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


class CryspaiAbinitParser(AbinitParser):
    """aiida-abinit's ``AbinitParser`` for aiida-core 2 (attributes) with a valid trajectory (defect d)."""

    def parse(self, **kwargs):
        try:
            retrieved = self.retrieved
        except Exception:  # noqa: BLE001 - aiida raises NotExistent
            return self.exit_codes.ERROR_NO_RETRIEVED_FOLDER
        parameters = self.node.inputs.parameters.get_dict()
        is_relaxation = parameters.get("ionmov", 0) != 0 or parameters.get("optcell", 0) != 0
        attributes = self.node.base.attributes
        prefix = attributes.get("prefix", "aiida")
        names = retrieved.base.repository.list_object_names()
        with TemporaryDirectory() as folder:
            retrieved.base.repository.copy_tree(folder)
            stdout = attributes.get("output_filename")
            if stdout not in names:
                return self.exit_codes.ERROR_OUTPUT_MISSING
            self._warnings: dict[str, int] = {}
            exit_code = self._parse_stdout(str(Path(folder) / stdout), error_on_warning=False, report_comments=False)
            for first_line, count in self._warnings.items():
                self.logger.warning(f"Abinit warning ({count}x): {first_line}")
            gsr_ok = f"{prefix}o_GSR.nc" in names
            hist_ok = f"{prefix}o_HIST.nc" in names
            if hist_ok:
                self._parse_trajectory(str(Path(folder) / f"{prefix}o_HIST.nc"))
            if exit_code is not None:
                return exit_code
            if not gsr_ok:
                return self.exit_codes.ERROR_MISSING_GSR_OUTPUT_FILE
            self._parse_gsr(str(Path(folder) / f"{prefix}o_GSR.nc"), is_relaxation)
            if is_relaxation and not hist_ok:
                return self.exit_codes.ERROR_MISSING_HIST_OUTPUT_FILE
            return self._ionic_convergence(Path(folder) / stdout, parameters, is_relaxation)

    def _report_message(self, level, message):
        """Abinit's warnings are collected (one log line per kind, with its count; the full text is in the
        retrieved log), errors are logged as they come."""
        if str(level).upper() == "WARNING":
            first_line = next((line.strip() for line in message.splitlines() if line.strip()), "")
            self._warnings[first_line] = self._warnings.get(first_line, 0) + 1
            return
        super()._report_message(level, message)

    def _ionic_convergence(self, stdout: Path, parameters: dict, is_relaxation: bool):
        """Exit 501 when a relaxation used all ``ntime`` steps without reaching ``tolmxf``; 500 for SCF."""
        text = stdout.read_text(errors="replace")
        if "ScfConvergenceWarning" in text and not is_relaxation:
            return self.exit_codes.ERROR_SCF_CONVERGENCE_NOT_REACHED
        if is_relaxation and "RelaxConvergenceWarning" in text:
            return self.exit_codes.ERROR_GEOMETRY_CONVERGENCE_NOT_REACHED
        return ExitCode(0)

    def _parse_trajectory(self, filepath):
        import netCDF4

        with netCDF4.Dataset(filepath, "r") as data:
            cells = np.asarray(data.variables["rprimd"][:]) * Bohr
            reduced = np.asarray(data.variables["xred"][:])
            energies = np.asarray(data.variables["etotal"][:]) * Hartree
            forces = np.asarray(data.variables["fcart"][:]) * Hartree / Bohr
            stress_voigt = np.asarray(data.variables["strten"][:]) * Hartree / Bohr**3
        structure = self.node.inputs.structure
        symbols = [site.kind_name for site in structure.sites]
        kinds = {kind.name: kind.symbol for kind in structure.kinds}
        positions = np.einsum("tij,tjk->tik", reduced, cells)
        stress = np.zeros((len(stress_voigt), 3, 3))
        for (i, j), column in zip([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)], range(6)):
            stress[:, i, j] = stress[:, j, i] = stress_voigt[:, column]
        trajectory = orm.TrajectoryData()
        trajectory.set_trajectory(symbols=[kinds[s] for s in symbols], positions=positions,
                                  stepids=np.arange(len(energies)), cells=cells, pbc=structure.pbc)
        trajectory.set_array("energy", energies)  # eV
        trajectory.set_array("forces", forces)  # eV/Angstrom
        trajectory.set_array("stress", stress)  # eV/Angstrom^3
        self.out("output_trajectory", trajectory)
        last = structure.clone()
        last.reset_cell(cells[-1].tolist())
        last.reset_sites_positions(positions[-1].tolist())
        self.out("output_structure", last)
