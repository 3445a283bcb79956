"""Pseudopotential families for the DFT engines, as aiida-pseudo families.

Abinit's PseudoDojo NC-SR v0.4 psp8 tables come with Debian's ``abinit-data`` under ``/usr/share/abinit/psp/``.
Their folders also hold a ``README.md`` and, for magnesium, both ``Mg.psp8`` and ``Mg-low.psp8``, so aiida-pseudo's
``create_from_folder`` cannot read them as they are: :func:`install_abinit_families` takes the ``*.psp8`` files,
prefers the standard table's default of an element (``Mg`` over ``Mg-low``) and stores one family per functional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PSP_ROOT = Path("/usr/share/abinit/psp")


@dataclass(frozen=True)
class PseudoTable:
    """A folder of psp8 files installed as one family."""

    folder: str
    functional: str

    @property
    def label(self) -> str:
        return f"PseudoDojo/0.4/{self.functional}/SR/standard/psp8"


ABINIT_TABLES = (
    PseudoTable("Pseudodojo_nc_sr_04_pbe_standard_psp8", "PBE"),
    PseudoTable("Pseudodojo_nc_sr_04_pw_standard_psp8", "LDA"),
)
DEFAULT_ABINIT_FUNCTIONAL = "PBE"


class PseudoError(ValueError):
    """A family is missing, or lacks an element."""


def psp8_valence(text: str) -> float:
    """Valence charge (zion) of a psp8 file: the second number of its second line."""
    lines = text.splitlines()
    try:
        return float(lines[1].split()[1])
    except (IndexError, ValueError):
        raise PseudoError("not a psp8 file: no zatom, zion on its second line") from None


def abinit_family_label(functional: str = DEFAULT_ABINIT_FUNCTIONAL) -> str:
    """The label of the Abinit family of ``functional`` (PBE or LDA)."""
    for table in ABINIT_TABLES:
        if table.functional == functional.upper():
            return table.label
    raise PseudoError(f"no Abinit pseudopotential table for functional {functional!r}; choose PBE or LDA")


def select_psp8_files(folder: Path) -> dict[str, Path]:
    """Element -> psp8 file of ``folder``: one file per element, the variant without suffix first
    (``Mg`` over ``Mg-low``), otherwise the only variant (``Se-d``, ``Zn-sp``)."""
    chosen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.psp8")):
        match = re.fullmatch(r"([A-Z][a-z]?)(-.+)?\.psp8", path.name)
        if match is None:
            continue
        element, variant = match.groups()
        if element not in chosen or variant is None:
            chosen[element] = path
    return chosen


def install_abinit_families(root: Path = DEBIAN_PSP_ROOT, log=print) -> list[str]:
    """Install (once) the PseudoDojo PBE and LDA families from ``root``; returns the labels present afterwards.

    A table whose folder is missing is reported through ``log`` and skipped.
    """
    import shutil
    import tempfile

    from aiida.orm import QueryBuilder
    from aiida_pseudo.data.pseudo import Psp8Data
    from aiida_pseudo.groups.family import PseudoPotentialFamily

    labels = []
    for table in ABINIT_TABLES:
        existing = QueryBuilder().append(PseudoPotentialFamily, filters={"label": table.label}).first()
        if existing is not None:
            labels.append(table.label)
            continue
        folder = Path(root) / table.folder
        if not folder.is_dir():
            log(f"pseudopotentials: {folder} not found (Debian package abinit-data); {table.label} not installed")
            continue
        files = select_psp8_files(folder)
        with tempfile.TemporaryDirectory() as staging:
            for path in files.values():
                shutil.copy(path, Path(staging) / path.name)
            PseudoPotentialFamily.create_from_folder(
                Path(staging), table.label, pseudo_type=Psp8Data,
                description=f"PseudoDojo NC-SR v0.4 {table.functional} standard (psp8) from {folder}",
            )
        log(f"pseudopotentials: {table.label} installed ({len(files)} elements: {', '.join(sorted(files))})")
        labels.append(table.label)
    return labels


def load_family(label: str):
    """The aiida-pseudo family ``label``; a clear error when it is not installed."""
    from aiida.orm import QueryBuilder
    from aiida_pseudo.groups.family import PseudoPotentialFamily

    family = QueryBuilder().append(PseudoPotentialFamily, filters={"label": label}).first(flat=True)
    if family is None:
        raise PseudoError(f"pseudopotential family {label!r} is not installed; run `cryspai setup` "
                          "(it installs the Abinit families from Debian's abinit-data)")
    return family


def pseudos_for(label: str, symbols: list[str]) -> dict:
    """Element -> pseudopotential node of family ``label`` for ``symbols``; names every missing element."""
    family = load_family(label)
    missing = sorted(set(symbols) - set(family.elements))
    if missing:
        raise PseudoError(f"pseudopotential family {label!r} has no pseudopotential for {', '.join(missing)} "
                          f"(it has {', '.join(sorted(family.elements))})")
    return family.get_pseudos(elements=sorted(set(symbols)))
