"""Shared fixtures: a real temporary AiiDA profile (aiida-core's pytest fixtures) and the project's codes."""

import logging

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]


@pytest.fixture(autouse=True)
def database_log_after_the_command_line():
    """A command run in-process (``CliRunner``) leaves aiida's logging configured for a terminal: its verbosity
    option re-configures logging without the database handler, which a real ``cryspai`` process adds again when it
    loads the storage but a test session, whose storage is already loaded, would not (nor after anything else that
    re-configures logging). Every later test would record no process reports. The handler is put back, where it is
    missing, before and after each test."""
    _restore_database_log()
    yield
    _restore_database_log()
    silenced = _silenced_aiida_loggers()
    if silenced:  # the process reports of every later test would be lost: fail here, at the test that did it
        for name in silenced:
            logging.getLogger(name).disabled = False
        pytest.fail(f"this test disabled AiiDA's loggers ({', '.join(silenced[:3])}, ...): a logging set-up that "
                    f"keeps no existing logger ran in this process", pytrace=False)


def _silenced_aiida_loggers() -> list[str]:
    return sorted(name for name, logger in logging.root.manager.loggerDict.items()
                  if name.startswith("aiida") and isinstance(logger, logging.Logger) and logger.disabled)


def _restore_database_log() -> None:
    from aiida.common import log
    from aiida.manage import get_manager
    from aiida.orm.utils.log import DBLogHandler

    log.CLI_ACTIVE = log.CLI_LOG_LEVEL = None
    manager = get_manager()
    if manager.get_profile() is None or not manager.profile_storage_loaded:
        return
    if not any(isinstance(handler, DBLogHandler) for handler in logging.getLogger("aiida").handlers):
        log_file = manager.get_config().filepaths(manager.get_profile())["profile"]["log"]
        log.configure_logging(with_orm=True, daemon_log_file=log_file)


@pytest.fixture
def cryspai_codes(aiida_profile):
    """The localhost computer and the cryspai-* codes, created the way ``cryspai setup`` does."""
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    return ensure_codes(ensure_computer())


@pytest.fixture(scope="session")
def emt():
    from ase.calculators.emt import EMT

    return EMT()
