"""Shared fixtures: a real temporary AiiDA profile (aiida-core's pytest fixtures) and the project's codes."""

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]


@pytest.fixture
def cryspai_codes(aiida_profile):
    """The localhost computer and the cryspai-* codes, created the way ``cryspai setup`` does."""
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    return ensure_codes(ensure_computer())


@pytest.fixture(scope="session")
def emt():
    from ase.calculators.emt import EMT

    return EMT()
