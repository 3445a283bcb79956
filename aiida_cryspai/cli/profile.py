"""The AiiDA profile (embedded: SQLite + ZeroMQ broker, like ``verdi presto``; production: PostgreSQL + RabbitMQ),
the computer and the codes."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ..executables.files import CODE_SCRIPTS

DEFAULT_PROFILE = "cryspai"
PRODUCTION_PROFILE = "cryspai-production"


def _script_path(name: str) -> str:
    """Absolute path of a console script: beside this Python first (a virtual environment), then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise click.ClickException(f"console script {name} not found; is aiida-cryspai installed?")
    return found


@dataclass
class ProductionServices:
    """Where the production profile's PostgreSQL server and RabbitMQ broker are (``cryspai setup --production``)."""

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    broker_host: str = "127.0.0.1"
    broker_port: int = 5672
    broker_user: str = "guest"
    broker_password: str = "guest"


class ProfileError(click.ClickException):
    """The profile cannot be created as asked (a service unreachable, a name taken with other storage)."""


def _postgres(services: ProductionServices):
    """aiida-core's PostgreSQL admin connection (``Postgres``) as ``services.postgres_user``."""
    from aiida.manage.external.postgres import Postgres

    return Postgres(interactive=False, quiet=True, dbinfo={
        "host": services.postgres_host, "port": services.postgres_port,
        "user": services.postgres_user, "password": services.postgres_password})


def _create_database(name: str, services: ProductionServices) -> dict:
    """A new PostgreSQL role and database for profile ``name``; the ``core.psql_dos`` storage configuration.

    aiida-core's own helper (behind ``verdi presto --use-postgres``) creates the database with the locale
    ``en_US.UTF-8``, which servers without that locale refuse (Debian's default cluster is ``C.UTF-8``); here the
    database takes the server's default locale. An existing database is never reused.
    """
    import secrets

    from aiida.manage.configuration.settings import AiiDAConfigDir

    postgres = _postgres(services)
    where = f"PostgreSQL at {services.postgres_host}:{services.postgres_port} as {services.postgres_user}"
    if not postgres.is_connected:
        raise ProfileError(f"{where}: cannot connect")
    database = f"aiida-{name}"
    if postgres.db_exists(database):
        raise ProfileError(f"{where}: database {database} exists already (an earlier profile '{name}'?); "
                           "choose another profile name or drop that database")
    user, password = postgres.find_new_dbuser(f"aiida-{name}"), secrets.token_hex(15)
    try:
        postgres.create_dbuser(dbuser=user, dbpass=password)
    except Exception as error:
        raise ProfileError(f"{where}: cannot create the role {user}: {error}") from None
    try:
        postgres.execute(f"CREATE DATABASE \"{database}\" OWNER \"{user}\" ENCODING 'UTF8' TEMPLATE template0")
    except Exception as error:
        postgres.drop_dbuser(user)
        raise ProfileError(f"{where}: cannot create the database {database}: {error}") from None
    return {
        "database_hostname": services.postgres_host,
        "database_port": services.postgres_port,
        "database_name": database,
        "database_username": user,
        "database_password": password,
        "repository_uri": (AiiDAConfigDir.get() / "repository" / name).as_uri(),
    }


def _drop_database(storage: dict, services: ProductionServices) -> None:
    """Undo :func:`_create_database` when the profile could not be created."""
    postgres = _postgres(services)
    postgres.drop_db(storage["database_name"])
    postgres.drop_dbuser(storage["database_username"])


def _rabbitmq(services: ProductionServices) -> dict:
    """The broker configuration, after checking that RabbitMQ answers."""
    from aiida.brokers.rabbitmq.defaults import detect_rabbitmq_config

    try:
        return detect_rabbitmq_config(host=services.broker_host, port=services.broker_port,
                                      username=services.broker_user, password=services.broker_password)
    except ConnectionError as error:
        raise ProfileError(f"RabbitMQ not reachable at {services.broker_host}:{services.broker_port} "
                           f"as {services.broker_user}: {error.__cause__ or error}") from None


def ensure_profile(profile_name: str | None, production: ProductionServices | None = None) -> str:
    """Load ``profile_name`` (or the default profile); create it when missing: embedded (SQLite + ZeroMQ broker)
    by default, on PostgreSQL + RabbitMQ with ``production``."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, load_profile
    from aiida.plugins import BrokerFactory

    loaded = get_manager().get_profile()
    if loaded is not None and profile_name in (None, loaded.name):
        _check_kind(loaded, production)
        return loaded.name
    config = get_config(create=True)
    if profile_name is None and config.default_profile_name and production is None:
        load_profile(config.default_profile_name, allow_switch=True)
        return config.default_profile_name
    name = profile_name or (PRODUCTION_PROFILE if production else DEFAULT_PROFILE)
    if name in config.profile_names:
        _check_kind(config.get_profile(name), production)
        load_profile(name, allow_switch=True)
        return name
    if production is None:
        click.echo(f"Creating the AiiDA profile '{name}' (SQLite storage, ZeroMQ broker)...")
        storage_backend, storage_config = "core.sqlite_dos", {}
        broker_backend, broker_config = "core.zeromq", BrokerFactory("core.zeromq").get_default_config()
    else:
        broker_config = _rabbitmq(production)
        storage_config = _create_database(name, production)
        storage_backend, broker_backend = "core.psql_dos", "core.rabbitmq"
        click.echo(f"Creating the AiiDA profile '{name}' (PostgreSQL database {storage_config['database_name']} "
                   f"on {production.postgres_host}:{production.postgres_port}, RabbitMQ on "
                   f"{production.broker_host}:{production.broker_port})...")
    try:
        profile = create_profile(config, name=name, email="cryspai@localhost", storage_backend=storage_backend,
                                 storage_config=storage_config, broker_backend=broker_backend,
                                 broker_config=broker_config)
    except Exception:
        if production is not None:
            _drop_database(storage_config, production)
        raise
    config.set_option("runner.poll.interval", 1, scope=profile.name)
    if config.default_profile_name is None:
        config.set_default_profile(profile.name, overwrite=True)
    config.store()
    load_profile(profile.name, allow_switch=True)
    return profile.name


def _check_kind(profile, production: ProductionServices | None) -> None:
    """``--production`` on an existing profile that is not on PostgreSQL is refused rather than ignored."""
    if production is not None and profile.storage_backend != "core.psql_dos":
        raise ProfileError(f"profile '{profile.name}' exists with {profile.storage_backend} storage; "
                           "--production needs a new profile name (-p NAME) or that profile's own storage")


SCHEDULERS = ("core.direct", "core.slurm")


def ensure_computer(label: str = "localhost", scheduler: str | None = None, max_concurrent: int | None = None,
                    create: bool = True):
    """The computer ``label``: an existing one (any transport, e.g. a cluster set up with ``verdi computer setup``)
    or, if missing, this machine (``core.local`` transport) with ``scheduler`` (``core.direct`` by default, or
    ``core.slurm`` when this machine is a SLURM node or login node). ``max_concurrent`` is stored on the computer:
    the most oracle CalcJobs one run keeps on it at once."""
    from aiida.common.exceptions import NotExistent
    from aiida.manage.configuration import get_config
    from aiida.orm import Computer, load_computer

    from ..workchains.request import MAX_CONCURRENT_PROPERTY

    if scheduler is not None and scheduler not in SCHEDULERS:
        raise click.BadParameter(f"{scheduler}: the scheduler of a computer on this machine is one of "
                                 f"{', '.join(SCHEDULERS)}", param_hint="--scheduler")
    if max_concurrent is not None and max_concurrent < 1:
        raise click.BadParameter(f"{max_concurrent}: must be at least 1", param_hint="--max-concurrent")
    try:
        computer = load_computer(label)
    except NotExistent:
        if not create:
            raise click.UsageError(f"no computer '{label}': create it with `cryspai setup --computer {label}`") \
                from None
        workdir = Path(get_config().dirpath) / "scratch"
        computer = Computer(
            label=label,
            hostname="localhost",
            description=f"This machine, {scheduler or 'core.direct'} scheduler (created by cryspai setup)",
            transport_type="core.local",
            scheduler_type=scheduler or "core.direct",
            workdir=str(workdir),
        ).store()
        computer.set_minimum_job_poll_interval(1)
        computer.set_default_mpiprocs_per_machine(1)
    else:
        if scheduler is not None and computer.scheduler_type != scheduler:
            raise click.ClickException(f"computer '{label}' exists with scheduler {computer.scheduler_type}, "
                                       f"not {scheduler}; choose another label")
    if max_concurrent is not None:
        computer.set_property(MAX_CONCURRENT_PROPERTY, max_concurrent)
    if not computer.is_configured:
        if computer.transport_type != "core.local":
            raise click.UsageError(f"computer '{label}' is not configured for this user: "
                                   f"verdi computer configure {computer.transport_type} {label}")
        computer.configure(safe_interval=0)
    return computer


def ensure_codes(computer, bin_dir: str | None = None) -> dict:
    """Installed codes ``cryspai-relax``, ``cryspai-train``, ``cryspai-evolve`` on ``computer``; their executables
    are in ``bin_dir`` there (default: beside this Python, for a computer on this machine). A code whose executable
    moved (another virtual environment) is relabelled ``<script>-<pk>`` and a new one made."""
    from aiida.common.exceptions import NotExistent
    from aiida.orm import InstalledCode, load_code

    remote = computer.transport_type != "core.local"
    codes = {}
    for name, script in CODE_SCRIPTS.items():
        try:
            code = load_code(f"{script}@{computer.label}")
        except NotExistent:
            code = None
        if remote and bin_dir is None:
            if code is None:
                raise click.UsageError(f"computer '{computer.label}' is reached by {computer.transport_type}: "
                                       "run `cryspai setup --computer LABEL --bin-dir DIR` with the folder of the "
                                       "cryspai-* scripts of aiida-cryspai installed there")
            codes[name] = code
            continue
        path = str(Path(bin_dir) / script) if bin_dir else _script_path(script)
        if code is not None and str(code.filepath_executable) != path:
            code.base.extras.set("superseded", True)
            code.label = f"{script}-{code.pk}"
            code = None
        if code is None:
            code = InstalledCode(computer=computer, filepath_executable=path, label=script,
                                 description=f"aiida-cryspai console script {script}")
            code.store()
        codes[name] = code
    return codes


def ensure_abinit_code(computer, executable: str | None = None):
    """The ``abinit@<computer>`` code (``cryspai.abinit`` CalcJob) for Debian's ``abinit``, or None without one."""
    from aiida.common.exceptions import NotExistent
    from aiida.orm import InstalledCode, load_code

    if executable is None and computer.transport_type != "core.local":
        return None  # on a cluster: `verdi code create` for its Abinit, then `cryspai predict --oracle-code`
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


def setup_all(profile_name: str | None, production: ProductionServices | None = None,
              computer_label: str = "localhost", scheduler: str | None = None, max_concurrent: int | None = None,
              bin_dir: str | None = None, create_computer: bool = True) -> tuple[str, object, dict]:
    """The profile's name, the computer and the codes on it."""
    name = ensure_profile(profile_name, production)
    computer = ensure_computer(computer_label, scheduler, max_concurrent, create=create_computer or
                               computer_label == "localhost")
    codes = ensure_codes(computer, bin_dir)
    abinit = ensure_abinit_code(computer)
    if abinit is not None:
        codes["abinit"] = abinit
    return name, computer, codes
