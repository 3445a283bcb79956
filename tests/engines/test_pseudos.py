"""Abinit pseudopotential families from Debian's abinit-data, as aiida-pseudo families."""

import shutil
from pathlib import Path

import pytest

from aiida_cryspai.engines.pseudos import (
    ABINIT_TABLES,
    DEBIAN_PSP_ROOT,
    PseudoError,
    abinit_family_label,
    install_abinit_families,
    pseudos_for,
    select_psp8_files,
)

needs_abinit_data = pytest.mark.skipif(not DEBIAN_PSP_ROOT.is_dir(), reason="Debian's abinit-data is not installed")


def test_one_file_per_element_default_variant_first(tmp_path):
    for name in ("Mg-low.psp8", "Mg.psp8", "Se-d.psp8", "Si.psp8", "README.md"):
        (tmp_path / name).write_text("x")
    chosen = select_psp8_files(tmp_path)
    assert {element: path.name for element, path in chosen.items()} == {
        "Mg": "Mg.psp8", "Se": "Se-d.psp8", "Si": "Si.psp8"}


def test_unknown_functional_is_refused():
    with pytest.raises(PseudoError, match="PBE or LDA"):
        abinit_family_label("HSE")


@needs_abinit_data
def test_debian_tables_install_once_and_name_missing_elements(aiida_profile_clean, tmp_path):
    messages = []
    labels = install_abinit_families(log=messages.append)
    assert labels == [table.label for table in ABINIT_TABLES]
    assert install_abinit_families(log=messages.append) == labels  # idempotent: nothing stored twice
    assert len(messages) == 2

    pbe = pseudos_for(abinit_family_label("PBE"), ["Si", "Si", "O"])
    assert sorted(pbe) == ["O", "Si"]
    assert pbe["Si"].element == "Si" and pbe["Si"].filename == "Si.psp8"
    lda = pseudos_for(abinit_family_label("LDA"), ["Mg"])
    assert lda["Mg"].filename == "Mg.psp8"  # not Mg-low
    with pytest.raises(PseudoError, match=r"has no pseudopotential for Cu, Zr"):
        pseudos_for(abinit_family_label("PBE"), ["Zr", "O", "Cu"])


def test_missing_family_and_missing_folder_are_reported(aiida_profile_clean, tmp_path):
    with pytest.raises(PseudoError, match="is not installed; run `cryspai setup`"):
        pseudos_for("PseudoDojo/0.4/PBE/SR/standard/psp8", ["Si"])
    messages = []
    assert install_abinit_families(root=tmp_path, log=messages.append) == []
    assert all("not found" in m for m in messages) and len(messages) == 2


@needs_abinit_data
def test_a_copied_table_with_readme_installs(aiida_profile_clean, tmp_path):
    table = ABINIT_TABLES[0]
    shutil.copytree(DEBIAN_PSP_ROOT / table.folder, tmp_path / table.folder)
    assert (Path(tmp_path) / table.folder / "README.md").exists()
    assert install_abinit_families(root=tmp_path, log=lambda _: None) == [table.label]
