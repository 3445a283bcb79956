"""``cryspai``: set up a profile, predict crystal structures, follow and export runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from aiida.cmdline.groups import VerdiCommandGroup

from ..analysis.crystal_systems import CRYSTAL_SYSTEMS
from ..engines import ENGINES
from ..protocols import PROTOCOLS
from .data import evaluate_command, train_command
from .enthalpies import enthalpies_command
from .params import RUN
from .profile import SCHEDULERS

ENGINE_CHOICES = tuple(ENGINES)


@click.group(cls=VerdiCommandGroup, context_settings={"help_option_names": ["--help", "-h"]})
@click.option("-p", "--profile", "profile_name", default=None,
              help="AiiDA profile (default: the default profile). `setup` creates it when it does not exist; "
                   "every other command only loads it.")
@click.pass_context
def cryspai(ctx, profile_name):
    """CrySPAI crystal structure prediction with AiiDA provenance."""
    # a name, not aiida's profile type: `cryspai -p new setup` names a profile that does not exist yet; the read-only
    # commands load it through aiida's type (params.py)
    ctx.obj["profile_name"] = profile_name


def _load(ctx, computer: str = "localhost", **setup) -> dict:
    """Set up (``setup``, ``predict``): the profile, the computer and the codes, created where missing."""
    from .profile import setup_all

    name, computer_node, codes = setup_all(ctx.obj["profile_name"], computer_label=computer, **setup)
    return {"profile": name, "computer": computer_node, "codes": codes}


@cryspai.command()
@click.option("--production", is_flag=True,
              help="Create the profile on PostgreSQL + RabbitMQ (default name cryspai-production) instead of the "
                   "embedded SQLite + ZeroMQ one: for the daemon with several workers and many CalcJobs.")
@click.option("--postgres-host", default="127.0.0.1", show_default=True)
@click.option("--postgres-port", type=int, default=5432, show_default=True)
@click.option("--postgres-user", default="postgres", show_default=True,
              help="A PostgreSQL role that may create roles and databases.")
@click.option("--postgres-password", default="", help="Its password (none with trust authentication).")
@click.option("--broker-host", default="127.0.0.1", show_default=True)
@click.option("--broker-port", type=int, default=5672, show_default=True)
@click.option("--broker-user", default="guest", show_default=True)
@click.option("--broker-password", default="guest", show_default=True)
@click.option("--computer", default="localhost", show_default=True,
              help="Computer for the codes: an existing one (e.g. a cluster from `verdi computer setup`) or a new "
                   "one on this machine.")
@click.option("--scheduler", type=click.Choice(SCHEDULERS), default=None,
              help="Scheduler of a new computer on this machine (default core.direct).")
@click.option("--max-concurrent", type=int, default=None,
              help="Most oracle CalcJobs a run keeps on this computer at once (stored on the computer).")
@click.option("--bin-dir", default=None,
              help="Folder of the cryspai-* scripts on the computer (needed for a computer reached over SSH).")
@click.pass_context
def setup(ctx, production, postgres_host, postgres_port, postgres_user, postgres_password, broker_host, broker_port,
          broker_user, broker_password, computer, scheduler, max_concurrent, bin_dir):
    """Create (if needed) the profile, the computer, the codes and the Abinit pseudopotential families (from
    Debian's abinit-data). Idempotent."""
    from ..engines.pseudos import install_abinit_families
    from .profile import ProductionServices

    services = None
    if production:
        services = ProductionServices(postgres_host, postgres_port, postgres_user, postgres_password,
                                      broker_host, broker_port, broker_user, broker_password)
    loaded = _load(ctx, computer, production=services, scheduler=scheduler, max_concurrent=max_concurrent,
                   bin_dir=bin_dir)
    from aiida.manage import get_manager

    from ..workchains.request import MAX_CONCURRENT_PROPERTY

    profile = get_manager().get_profile()
    click.echo(f"profile: {loaded['profile']} ({profile.storage_backend} storage, "
               f"{profile.process_control_backend} broker)")
    node = loaded["computer"]
    limit = node.get_property(MAX_CONCURRENT_PROPERTY, None)
    click.echo(f"computer: {node.label} ({node.transport_type}, {node.scheduler_type}"
               f"{f', at most {limit} oracle CalcJobs at once' if limit else ''})")
    for name, code in loaded["codes"].items():
        click.echo(f"code {name}: {code.full_label} -> {code.filepath_executable}")
    for label in install_abinit_families(log=click.echo):
        click.echo(f"pseudopotential family: {label}")


@cryspai.command()
@click.argument("composition")
@click.option("--engine", default="ase:chgnet", show_default=True, help=f"Oracle: {', '.join(ENGINE_CHOICES)}.")
@click.option("--protocol", default="fast", show_default=True, help=f"One of {', '.join(PROTOCOLS)}.")
@click.option("--computer", default="localhost", show_default=True,
              help="Computer whose cryspai-* codes run the CalcJobs (see `cryspai setup --computer`).")
@click.option("--oracle-code", default=None,
              help="Code of a DFT engine (default: abinit@localhost or vasp@localhost), e.g. vasp@mycluster.")
@click.option("--crystal-system", default="all", show_default=True,
              help=f"'all' or one of {', '.join(CRYSTAL_SYSTEMS)} (the final search).")
@click.option("--volume", type=float, default=None, help="Cell volume in Å^3 (default: Eq. 2 estimate).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True,
              help="Seed of every random choice (0 to 2^32-1): the same seed gives the same run.")
@click.option("--max-oracle-calls", type=int, default=None, help="Most oracle relaxations in total.")
@click.option("--pressure", type=float, default=0.0, show_default=True,
              help="External hydrostatic pressure in GPa (-100 to 1000): every relaxation runs under it and the "
                   "candidates are ranked by enthalpy per atom (E + PV)/N.")
@click.option("--prior", default="default", show_default=True,
              help="Universal potential under the network, which learns the oracle's correction to it: ase:chgnet, "
                   "ase:sevennet, or none (the paper's pure network). default: CHGNet under DFT and ase:sevennet, "
                   "none under ase:chgnet and ase:emt.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where the network, the prior and an MLIP oracle compute: auto (a GPU where the computer that runs "
                   "the CalcJobs has one), cpu, or cuda (refused here at once on this machine without a GPU; on a "
                   "SLURM or PBS Pro cluster each CalcJob asks its queue for one GPU).")
@click.option("--templates", type=click.Choice(["prototypes", "none"]), default=None,
              help="Known structure types as starting points: prototypes (the AFLOW prototype library pymatgen "
                   "ships, decorated with the composition's elements) or none.  [default: the protocol's, "
                   "prototypes]")
@click.option("--seed-structures", type=click.Path(dir_okay=False), multiple=True,
              help="Your own starting structures (CIF, POSCAR, extxyz), repeat the option for several: of the "
                   "composition or a divisor of it (made a supercell), treated like the prototypes.")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A CIF of the known structure to compare the best candidate with.")
@click.option("--parameters", "parameters_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML file of protocol values to override, e.g. 'ga: {n_generations: 5}'.")
@click.option("--max-atoms", type=int, default=None,
              help="A chemical system (Cu-Au): search every composition of its elements in cells of at most this "
                   "many atoms (2 to 40), the elements included.")
@click.option("--compositions", default=None,
              help="A chemical system: search these compositions instead (cells, e.g. Li2O,Li2O2,LiO2,Li2,O4; each "
                   "element alone among them).")
@click.option("--daemon", is_flag=True, help="Submit to the AiiDA daemon and return the pk at once.")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Folder for results.json and candidates/ (default: cryspai-<composition>).")
@click.pass_context
def predict(ctx, composition, engine, protocol, computer, oracle_code, crystal_system, volume, seed, max_oracle_calls,
            pressure, prior, device, templates, seed_structures, reference, parameters_file, max_atoms, compositions,
            daemon, output):
    """Predict the stable crystal structures of COMPOSITION (e.g. Si8, Ti4O8, CaTiO3), or the stable compounds of a
    chemical system (e.g. Cu-Au with --max-atoms 4: every composition, one shared network, the convex hull)."""
    from ..protocols import ProtocolError, get_protocol
    from ..search.chemical_system import is_chemical_system
    from ..workchains.request import InputError, check_prerelax, check_pressure, check_request, resolve_prior

    overrides = _read_parameters(parameters_file) if parameters_file is not None else {}
    if templates is not None:
        overrides = {**overrides, "templates": {**overrides.get("templates", {}), "source": templates}}
    if is_chemical_system(composition):
        unused = [name for name, given in (("--volume", volume is not None), ("--seed-structures", seed_structures),
                                           ("--reference", reference), ("--crystal-system", crystal_system != "all"))
                  if given]
        if unused:
            raise click.UsageError(f"{', '.join(unused)} apply to one composition, not to the system {composition}")
        return _predict_system(ctx, composition, engine, protocol, computer, oracle_code, seed, max_oracle_calls,
                               pressure, prior, device, overrides, max_atoms, compositions, daemon, output)
    if max_atoms is not None or compositions:
        raise click.UsageError("--max-atoms and --compositions are for a chemical system, e.g. 'cryspai predict "
                               "Cu-Au --max-atoms 4'")
    try:
        check_request(composition, engine, crystal_system, volume, max_oracle_calls, pressure)
        resolve_prior(engine, prior, composition)
        parameters = get_protocol(protocol, overrides)
        check_prerelax(parameters)
        check_pressure(pressure, engine, parameters)
    except (InputError, ProtocolError) as error:
        raise click.UsageError(str(error)) from None
    reference_atoms = _read_reference(reference, composition) if reference is not None else None
    seeds = _read_seed_structures(seed_structures, composition)
    folder = Path(output or f"cryspai-{composition}")
    if not daemon:
        _check_writable(folder)

    loaded = _load(ctx, computer, create_computer=False)
    from aiida.engine import submit

    from ..workchains.main import CrySPAIWorkChain

    codes = _codes(loaded, oracle_code)
    try:
        builder = CrySPAIWorkChain.get_builder_from_protocol(
            composition, engine=engine, protocol=protocol, crystal_system=crystal_system, volume=volume, seed=seed,
            max_oracle_calls=max_oracle_calls, overrides=overrides, codes=codes, computer=computer, prior=prior,
            pressure=pressure, device=device,
        )
    except InputError as error:
        raise click.UsageError(str(error)) from None
    if seeds:
        from aiida.orm import StructureData

        builder.seed_structures = {f"seed_{n:03d}": StructureData(ase=atoms, label=name)
                                   for n, (name, atoms) in enumerate(seeds)}
    if daemon:
        _check_daemon(loaded["profile"])
        node = submit(builder)
        click.echo(f"Submitted CrySPAIWorkChain<{node.pk}> to the daemon of profile '{loaded['profile']}'.")
        click.echo(f"Follow it with: cryspai show {node.pk}   (or verdi process report {node.pk})")
        return
    at = f" at {pressure:g} GPa" if pressure else ""
    click.echo(f"Predicting {composition}{at} with {engine} ({protocol}) in profile '{loaded['profile']}'...")
    node = _run_in_foreground(builder, folder)
    results = _export(node, folder, reference_atoms)
    _print_results(results, folder)


def _predict_system(ctx, system, engine, protocol, computer, oracle_code, seed, max_oracle_calls, pressure, prior,
                    device, overrides, max_atoms, compositions, daemon, output):
    """``cryspai predict SYSTEM``: every composition in lock step, one shared network, the convex hull."""
    from ..protocols import ProtocolError, get_protocol
    from ..workchains.request import InputError, check_device_name, complete_builder
    from .system import export_system, print_system, system_compositions_of

    chosen = system_compositions_of(system, max_atoms, compositions, engine, prior, max_oracle_calls, pressure)
    try:
        get_protocol(protocol, overrides)
        check_device_name(device)
    except (InputError, ProtocolError) as error:
        raise click.UsageError(str(error)) from None
    folder = Path(output or f"cryspai-{system}")
    if not daemon:
        _check_writable(folder)
    loaded = _load(ctx, computer, create_computer=False)
    from aiida.engine import submit

    from ..workchains.system import SystemWorkChain

    codes = _codes(loaded, oracle_code)
    try:
        builder = SystemWorkChain.get_builder_from_protocol(
            system, chosen, engine=engine, protocol=protocol, seed=seed, pressure=pressure,
            max_oracle_calls=max_oracle_calls, overrides=overrides, codes=codes, computer=computer, prior=prior)
        complete_builder(builder, dict(builder.codes), overrides, device)
    except InputError as error:
        raise click.UsageError(str(error)) from None
    if daemon:
        _check_daemon(loaded["profile"])
        node = submit(builder)
        click.echo(f"Submitted SystemWorkChain<{node.pk}> ({len(chosen)} compositions) to the daemon of profile "
                   f"'{loaded['profile']}'.")
        return
    click.echo(f"Predicting the stable compounds of {system} ({len(chosen)} compositions: {', '.join(chosen)}) with "
               f"{engine} ({protocol}) in profile '{loaded['profile']}'...")
    node = _run_in_foreground(builder, folder)
    print_system(export_system(node, folder), folder)


def _codes(loaded: dict, oracle_code: str | None) -> dict:
    """The profile's codes on the chosen computer, with ``--oracle-code`` as the DFT engine's code where given."""
    codes = dict(loaded["codes"])
    if oracle_code is not None:
        from aiida.common.exceptions import MultipleObjectsError, NotExistent
        from aiida.orm import load_code

        try:
            codes["oracle"] = load_code(oracle_code)
        except (NotExistent, MultipleObjectsError) as error:
            raise click.UsageError(f"--oracle-code {oracle_code}: {error}") from None
    return codes


def _run_in_foreground(builder, folder: Path):
    """Run ``builder`` here; Ctrl-C or SIGTERM kills it and every job it started (exit 128 + signal), a failed run
    exits 1 with its message; the finished node otherwise."""
    from .interrupt import run_interruptible

    _short_log_lines()
    start = time.perf_counter()
    node, interrupted = run_interruptible(builder, log=click.echo)
    wall = time.perf_counter() - start
    label = node.process_label
    if interrupted is not None:
        _remove_if_empty(folder)
        click.echo(f"{label}<{node.pk}> was interrupted after {wall:.0f} s and killed; every job it started was "
                   f"stopped (`cryspai show {node.pk}`). No results were written.", err=True)
        sys.exit(128 + interrupted)
    click.echo(f"{label}<{node.pk}> finished with exit status {node.exit_status} in {wall:.0f} s")
    if not node.is_finished_ok:
        click.echo(f"Error: {node.exit_message}", err=True)
        sys.exit(1)
    return node


def _read_seed_structures(paths: tuple[str, ...], composition: str) -> list[tuple[str, object]]:
    """(file name, structure) of each ``--seed-structures`` file, checked against the composition."""
    from ..search.composition import parse_composition
    from ..search.templates import SeedStructureError, fit_seed_to_composition, read_seed_structure

    seeds = []
    for path in paths:
        try:
            atoms = read_seed_structure(path)
            fit_seed_to_composition(atoms, parse_composition(composition), Path(path).name)
        except SeedStructureError as error:
            raise click.BadParameter(str(error), param_hint="--seed-structures") from None
        seeds.append((Path(path).name, atoms))
    return seeds


def _read_parameters(path: str) -> dict:
    """The mapping of a ``--parameters`` YAML file; a syntax error names the file, line and column."""
    import yaml

    try:
        overrides = yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise click.BadParameter(f"{path}, line {mark.line + 1}, column {mark.column + 1}: {error.problem}",
                                 param_hint="--parameters") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(f"{path}: {error}", param_hint="--parameters") from None
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise click.BadParameter(f"{path} must hold a mapping of protocol values, e.g. 'ga: {{n_generations: 5}}'",
                                 param_hint="--parameters")
    return overrides


def _check_writable(folder: Path) -> None:
    """The output folder exists (created) and can be written, before the run starts."""
    import os
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {folder}")
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise click.BadParameter(f"cannot write to {folder}: {error.strerror or error}", param_hint="--output") \
            from None


def _remove_if_empty(folder: Path) -> None:
    """The output folder made before the run, removed again when the run wrote nothing to it."""
    try:
        folder.rmdir()
    except OSError:
        pass


def _check_daemon(profile: str) -> None:
    """A run submitted to a daemon that is not running would wait forever: say how to start it instead."""
    from aiida.engine.daemon.client import get_daemon_client

    if not get_daemon_client().is_daemon_running:
        raise click.ClickException(f"the daemon of profile '{profile}' is not running: start it with "
                                   f"`verdi -p {profile} daemon start` (or run without --daemon); nothing was "
                                   "submitted")


def _read_reference(path: str, composition: str | None = None):
    """The reference structure of ``--reference``, checked before anything runs: readable, same composition."""
    from ase.io import read

    from ..search.composition import parse_composition

    try:
        atoms = read(path)
    except Exception as error:  # ASE raises many kinds for a file it cannot parse
        raise click.BadParameter(f"cannot read {path} as a structure: {error}", param_hint="--reference") from None
    if composition is not None:
        wanted = parse_composition(composition)
        if _reduced(atoms.get_chemical_symbols()) != _reduced(wanted.expanded()):
            raise click.BadParameter(f"{path} holds {atoms.get_chemical_formula()}, not the composition of "
                                     f"{composition}", param_hint="--reference")
    return atoms


def _reduced(symbols: list[str]) -> dict[str, float]:
    from collections import Counter

    counts = Counter(symbols)
    smallest = min(counts.values())
    return {symbol: round(count / smallest, 6) for symbol, count in sorted(counts.items())}


def _finished(node):
    """``node`` if it finished successfully, else one clear error."""
    if not node.is_finished_ok:
        raise click.ClickException(f"process {node.pk} has not finished successfully (state "
                                   f"{node.process_state.value if node.process_state else 'unknown'})")
    return node


def _short_log_lines() -> None:
    """Progress lines as 'HH:MM:SS [pk|Process|step]: message' instead of AiiDA's long default."""
    import logging

    for handler in logging.getLogger("aiida").handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))


def _export(node, folder: Path, reference) -> dict:
    from .export import export_results

    return export_results(node, folder, reference)


def _print_results(results: dict, folder: Path) -> None:
    pressure = results.get("pressure_gpa") or 0.0
    if pressure:  # ranked by enthalpy: it comes first, the energy and the volume beside it
        click.echo(f"ranked by enthalpy per atom at {pressure:g} GPa")
        click.echo(f"{'rank':>4} {'H (eV/atom)':>12} {'E (eV/atom)':>12} {'V (Å³/atom)':>11} {'space group':>16} "
                   f"{'crystal system':>15}  {'cif':<24} origin")
    else:
        click.echo(f"{'rank':>4} {'E (eV/atom)':>12} {'space group':>16} {'crystal system':>15}  {'cif':<24} origin")
    for c in results["candidates"][:10]:
        sg = f"{c['spacegroup_symbol']} ({c['spacegroup_number']})"
        values = f"{c['energy_per_atom']:>12.4f}"
        if pressure:
            values = f"{c['enthalpy_per_atom']:>12.4f} {values} {c['volume_per_atom']:>11.3f}"
        click.echo(f"{c['rank']:>4} {values} {sg:>16} {c['crystal_system']:>15}  {c['cif']:<24} {c.get('origin', '')}")
    oracle = results["oracle"]
    click.echo(f"oracle: {oracle['relaxations']} relaxations, {oracle['ionic_steps']} ionic steps; "
               f"iterations {results['iterations']}, converged {results['converged']}, "
               f"network RMSE {results['model']['rmse_mev_per_atom']} meV/atom")
    for failure in results.get("ga_failures", []):
        click.echo(f"warning: {failure['stage']}: the GA of {', '.join(failure['systems'])} failed twice "
                   f"({failure['message']}) and proposed nothing: a narrower search there", err=True)
    if "reference" in results:
        from ..analysis.reference import format_reference

        click.echo(format_reference(results["reference"]))
    click.echo(f"Results written to {folder / 'results.json'}")


@cryspai.command()
@RUN
def show(run):
    """Where RUN (pk or UUID of a CrySPAIWorkChain) is: state, iteration, network RMSE, oracle relaxations done and
    pending. Reads only."""
    from .status import run_status
    from .system import system_status

    status = system_status(run) if run.process_label == "SystemWorkChain" else run_status(run)
    for key, value in status.items():
        click.echo(f"{key:>28}: {value}")


@cryspai.command()
@RUN
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None)
def export(run, folder, reference):
    """Write results.json, candidates/NNN.cif and plots/ of the finished RUN (pk or UUID) into FOLDER. Reads the
    profile only."""
    node = _finished(run)
    if node.process_label == "SystemWorkChain":
        from .system import export_system, print_system

        if reference is not None:
            raise click.UsageError("--reference compares one composition's candidates, not a system's")
        print_system(export_system(node, Path(folder)), Path(folder))
        return
    reference_atoms = _read_reference(reference, node.inputs.composition.value) if reference is not None else None
    results = _export(node, Path(folder), reference_atoms)
    _print_results(results, Path(folder))


@cryspai.command()
@RUN
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="The HTML file (default: cryspai-report-<pk>.html); its plots go beside it in <name>-plots/.")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A CIF of the known structure to compare the candidates with.")
def report(run, output, reference):
    """Write a self-contained HTML page of the finished RUN (pk or UUID): plots, ranked table, 3D views,
    provenance, how to reproduce it. Opens in any browser without a network. Reads the profile only."""
    from ..report.html import render
    from .report import collect_report

    node = _finished(run)
    pk = node.pk
    if node.process_label == "SystemWorkChain":
        from ..report.html import render_system
        from .system import system_report

        if reference is not None:
            raise click.UsageError("--reference compares one composition's candidates, not a system's")
        path = Path(output or f"cryspai-report-{pk}.html")
        path.write_text(render_system(system_report(node, path.with_name(f"{path.stem}-plots"))))
        click.echo(f"Report written to {path} ({path.stat().st_size / 1024:.0f} KiB)")
        return
    comparison = None
    if reference is not None:
        from .export import reference_comparison

        comparison = reference_comparison(node, _read_reference(reference, node.inputs.composition.value))
    path = Path(output or f"cryspai-report-{pk}.html")
    click.echo(f"Collecting run {pk} (plots, network predictions)...")
    data = collect_report(node, path.with_name(f"{path.stem}-plots"), comparison)
    path.write_text(render(data))
    click.echo(f"Report written to {path} ({path.stat().st_size / 1024:.0f} KiB)")


cryspai.add_command(train_command)
cryspai.add_command(evaluate_command)
cryspai.add_command(enthalpies_command)


if __name__ == "__main__":
    cryspai()
