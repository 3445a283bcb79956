"""The embedded default profile (SQLite + ZeroMQ broker, like ``verdi presto``), the computer and the codes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

CODE_SCRIPTS = {"relax": "cryspai-relax", "train": "cryspai-train", "evolve": "cryspai-evolve"}
DEFAULT_PROFILE = "cryspai"


def _script_path(name: str) -> str:
    """Absolute path of a console script: beside this Python first (a virtual environment), then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise click.ClickException(f"console script {name} not found; is aiida-cryspai installed?")
    return found


def ensure_profile(profile_name: str | None) -> str:
    """Load ``profile_name`` (or the default profile); create the embedded one when no profile exists."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, load_profile
    from aiida.plugins import BrokerFactory

    loaded = get_manager().get_profile()
    if loaded is not None and profile_name in (None, loaded.name):
        return loaded.name
    config = get_config(create=True)
    if profile_name and profile_name in config.profile_names:
        load_profile(profile_name, allow_switch=True)
        return profile_name
    if profile_name is None and config.default_profile_name:
        load_profile(config.default_profile_name, allow_switch=True)
        return config.default_profile_name
    name = profile_name or DEFAULT_PROFILE
    click.echo(f"Creating the AiiDA profile '{name}' (SQLite storage, ZeroMQ broker)...")
    profile = create_profile(
        config,
        name=name,
        email="cryspai@localhost",
        storage_backend="core.sqlite_dos",
        storage_config={},
        broker_backend="core.zeromq",
        broker_config=BrokerFactory("core.zeromq").get_default_config(),
    )
    config.set_option("runner.poll.interval", 1, scope=profile.name)
    if config.default_profile_name is None:
        config.set_default_profile(profile.name, overwrite=True)
    config.store()
    load_profile(profile.name, allow_switch=True)
    return profile.name


def ensure_computer(label: str = "localhost"):
    """The local computer (``core.local`` transport, ``core.direct`` scheduler), created if missing."""
    from aiida.common.exceptions import NotExistent
    from aiida.manage.configuration import get_config
    from aiida.orm import Computer, load_computer

    try:
        computer = load_computer(label)
    except NotExistent:
        workdir = Path(get_config().dirpath) / "scratch"
        computer = Computer(
            label=label,
            hostname="localhost",
            description="This machine (created by cryspai setup)",
            transport_type="core.local",
            scheduler_type="core.direct",
            workdir=str(workdir),
        ).store()
        computer.set_minimum_job_poll_interval(1)
        computer.set_default_mpiprocs_per_machine(1)
    if not computer.is_configured:
        computer.configure(safe_interval=0)
    return computer


def ensure_codes(computer) -> dict:
    """Installed codes ``cryspai-relax``, ``cryspai-train``, ``cryspai-evolve`` on ``computer``."""
    from aiida.common.exceptions import NotExistent
    from aiida.orm import InstalledCode, load_code

    codes = {}
    for name, script in CODE_SCRIPTS.items():
        path = _script_path(script)
        try:
            code = load_code(f"{script}@{computer.label}")
            if str(code.filepath_executable) != path:
                code.base.extras.set("superseded", True)
                code.label = f"{script}-{code.pk}"
                raise NotExistent
        except NotExistent:
            code = InstalledCode(computer=computer, filepath_executable=path, label=script,
                                 description=f"aiida-cryspai console script {script}")
            code.store()
        codes[name] = code
    return codes


def ensure_abinit_code(computer, executable: str | None = None):
    """The ``abinit@<computer>`` code (``cryspai.abinit`` CalcJob) for Debian's ``abinit``, or None without one."""
    from aiida.common.exceptions import NotExistent
    from aiida.orm import InstalledCode, load_code

    path = executable or shutil.which("abinit")
    if path is None:
        return None
    try:
        return load_code(f"abinit@{computer.label}")
    except NotExistent:
        code = InstalledCode(computer=computer, filepath_executable=path, label="abinit",
                             default_calc_job_plugin="cryspai.abinit",
                             description="Abinit (serial; aiida-abinit's AbinitCalculation as cryspai.abinit)")
        return code.store()


def setup_all(profile_name: str | None) -> tuple[str, dict]:
    name = ensure_profile(profile_name)
    computer = ensure_computer()
    codes = ensure_codes(computer)
    abinit = ensure_abinit_code(computer)
    if abinit is not None:
        codes["abinit"] = abinit
    return name, codes
