"""Fixtures of the work chain tests."""

import pytest


@pytest.fixture
def abinit_code(aiida_profile_clean):
    """abinit@localhost and the PseudoDojo families from Debian's tables, as ``cryspai setup`` makes them."""
    from aiida_cryspai.cli.profile import ensure_abinit_code, ensure_computer
    from aiida_cryspai.engines.pseudos import install_abinit_families

    install_abinit_families(log=lambda _: None)
    return ensure_abinit_code(ensure_computer())
