"""The checks of a search request, shared by the work chains' first steps and the command line: each raises
:class:`InputError` carrying the label of the exit code (201-210) it maps to."""

from __future__ import annotations

import numpy as np

from ..analysis.crystal_systems import CrystalSystemError, resolve_crystal_systems
from ..engines import EngineError, get_engine
from ..ml.potentials import CALCULATORS
from ..ml.prior import PriorError, check_prior
from ..protocols import ProtocolError
from ..search.composition import CompositionError, parse_composition
from ..search.geometry import min_volume_per_atom

# Property of a Computer: the most oracle CalcJobs one run keeps on it at once (``cryspai setup --max-concurrent``)
MAX_CONCURRENT_PROPERTY = "cryspai_max_concurrent_calcjobs"
# the external pressures (GPa) a search accepts: -100 (tension) to 1000 (the Earth's core is at 360)
PRESSURE_RANGE_GPA = (-100.0, 1000.0)
# the exit codes of a search's inputs: (status, label, message); InputError carries the label
INPUT_EXIT_CODES = [(status, f"ERROR_INVALID_{label}", f"Invalid {what}: {{message}}") for status, label, what in (
    (201, "COMPOSITION", "composition"), (202, "ENGINE", "engine"), (203, "CRYSTAL_SYSTEM", "crystal system"),
    (204, "VOLUME", "volume"), (205, "BUDGET", "oracle budget"), (206, "PARAMETERS", "parameters"),
    (207, "PRIOR", "prior"), (208, "SEED_STRUCTURE", "seed structure"), (209, "PRESSURE", "pressure"),
    (210, "DEVICE", "device"))]
# a search's exit codes: its inputs', then 401-404 a stage that failed
RUN_EXIT_CODES = INPUT_EXIT_CODES + [
    (401, "ERROR_ORACLE_FAILED", "The oracle workchain failed: {message}"),
    (402, "ERROR_TRAINING_FAILED", "Training the network failed: {message}"),
    (403, "ERROR_NO_RESULTS", "No oracle relaxation ended well; nothing to rank."),
    (404, "ERROR_POPULATION_FAILED", "The initial population failed: {message}")]


class InputError(ValueError):
    """Bad input, with the label of the exit code it maps to."""

    def __init__(self, label: str, message: str):
        super().__init__(message)
        self.label = label


def check_pressure(pressure_gpa: float, engine: str | None = None, parameters: dict | None = None) -> None:
    """Raise :class:`InputError` when ``pressure_gpa`` is outside :data:`PRESSURE_RANGE_GPA` or, given the engine
    and the search parameters, the oracle cannot relax under it (a fixed cell)."""
    low, high = PRESSURE_RANGE_GPA
    if not np.isfinite(pressure_gpa) or not low <= pressure_gpa <= high:
        raise InputError("ERROR_INVALID_PRESSURE", f"the pressure must lie between {low:g} and {high:g} GPa, got "
                         f"{pressure_gpa} GPa")
    if engine is None or not pressure_gpa:
        return
    oracle = get_engine(engine)
    base = {**oracle.default_parameters(), **((parameters or {}).get("oracle") or {})}
    try:
        oracle.with_pressure(base, pressure_gpa)
    except ValueError as error:
        raise InputError("ERROR_INVALID_PRESSURE", str(error)) from None
    if parameters is not None and not (parameters.get("local") or {}).get("relax_cell", True):
        raise InputError("ERROR_INVALID_PRESSURE", f"the network's local optimisation keeps the cell fixed "
                         f"(local.relax_cell false): it cannot apply a pressure of {pressure_gpa:g} GPa")


def check_prerelax(parameters: dict) -> None:
    """Raise :class:`ProtocolError` when ``oracle.prerelax`` names no engine (the schema checks its form only: the
    parameters sit below the engines)."""
    name = (parameters.get("oracle") or {}).get("prerelax")
    if name:
        try:
            get_engine(name)
        except EngineError as error:
            raise ProtocolError(f"oracle.prerelax: {error}") from None


def check_request(composition: str, engine: str, crystal_system: str, volume: float | None,
                  max_oracle_calls: int | None, pressure_gpa: float = 0.0) -> None:
    """Raise :class:`InputError` for the first bad input: shared by the workchain and the command line."""
    try:
        parse_composition(composition)
    except CompositionError as error:
        raise InputError("ERROR_INVALID_COMPOSITION", str(error)) from None
    try:
        get_engine(engine)
    except EngineError as error:
        raise InputError("ERROR_INVALID_ENGINE", str(error)) from None
    try:
        resolve_crystal_systems(crystal_system)
    except CrystalSystemError as error:
        raise InputError("ERROR_INVALID_CRYSTAL_SYSTEM", str(error)) from None
    if volume is not None and not volume > 0:
        raise InputError("ERROR_INVALID_VOLUME", f"the cell volume must be positive, got {volume} Å^3")
    if volume is not None:
        symbols = parse_composition(composition).expanded()
        floor = len(symbols) * min_volume_per_atom(symbols)
        if volume < floor:
            raise InputError("ERROR_INVALID_VOLUME", f"{volume} Å^3 is denser than any sane {composition} cell: "
                             f"at least {floor:.1f} Å^3 (see docs/workchain.md)")
    if max_oracle_calls is not None and max_oracle_calls < 2:
        raise InputError("ERROR_INVALID_BUDGET", f"--max-oracle-calls must be at least 2, got {max_oracle_calls}")
    missing = get_engine(engine).unsupported_elements(parse_composition(composition).symbols)
    if missing:
        raise InputError("ERROR_INVALID_ENGINE", f"engine {engine} cannot compute {', '.join(missing)}")
    check_pressure(pressure_gpa)


def resolve_prior(engine: str, prior: str | None, composition: str | None = None) -> str | None:
    """The registry name of the prior (``ase:chgnet`` -> ``chgnet``) for ``prior`` given as ``none``/None,
    ``default`` (the engine's choice) or an engine-style name; checked against the oracle and, given, the
    composition. Raises :class:`InputError`."""
    try:
        name = get_engine(engine).default_prior if prior == "default" else prior
    except EngineError as error:
        raise InputError("ERROR_INVALID_ENGINE", str(error)) from None
    name = None if name in (None, "none") else name.removeprefix("ase:")
    if name is not None and name not in CALCULATORS:
        raise InputError("ERROR_INVALID_PRIOR", f"unknown prior {prior!r}; choose none or one of "
                         f"{', '.join('ase:' + n for n in CALCULATORS)}")
    if composition is not None:
        try:
            check_prior(name, engine, parse_composition(composition).symbols)
        except PriorError as error:
            raise InputError("ERROR_INVALID_PRIOR", str(error)) from None
    return name



def check_search_inputs(inputs) -> dict:
    """Check the inputs of a search (a CrySPAIWorkChain's, given as its ``self.inputs``) before anything runs; the
    checked parameters. Raises :class:`InputError`; a bad parameter raises ProtocolError, ValueError or TypeError
    (exit 206)."""
    from ..protocols import check_parameters
    from ..search.ga import GASettings, energy_limit_per_atom
    from ..search.templates import SeedStructureError, fit_seed_to_composition
    from .settings import dft_settings, pseudopotentials

    composition = inputs.composition.value
    check_device_name((inputs.get("options") or {}).get("device", "auto"))
    check_request(composition, inputs.engine.value, inputs.crystal_system.value,
                  inputs.volume.value if "volume" in inputs else None,
                  inputs.max_oracle_calls.value if "max_oracle_calls" in inputs else None, inputs.pressure.value)
    parameters = check_parameters(inputs.parameters.get_dict())
    check_prerelax(parameters)
    check_pressure(inputs.pressure.value, inputs.engine.value, parameters)
    parsed = parse_composition(composition)
    if "prior" in inputs:
        try:
            check_prior(inputs.prior["name"], inputs.engine.value, parsed.symbols)
        except PriorError as error:
            raise InputError("ERROR_INVALID_PRIOR", str(error)) from None
    for stage in ("ga", "final_ga"):
        energy_limit_per_atom(GASettings(**parameters[stage]), parsed)
    engine = get_engine(inputs.engine.value)
    if not engine.uses_relax_code and "oracle" not in inputs.codes:
        raise InputError("ERROR_INVALID_ENGINE", f"engine {engine.name} needs codes.oracle "
                         f"(e.g. {engine.code_label}@localhost, created by `cryspai setup`)")
    engine.check(parsed.symbols, dft_settings(parameters, inputs.protocol.value))
    for name, node in sorted(inputs.get("seed_structures", {}).items()):
        try:
            fit_seed_to_composition(node.get_ase(), parsed, node.label or name)
        except SeedStructureError as error:
            raise InputError("ERROR_INVALID_SEED_STRUCTURE", str(error)) from None
    if parameters["volume_radii"] == "pseudopotentials":
        pseudopotentials(inputs.engine.value, parameters, inputs.protocol.value, composition)
    return parameters


def resolve_codes(engine: str, codes: dict | None = None, computer: str = "localhost") -> dict:
    """The codes of a search: ``relax``, ``train``, ``evolve`` as given, else ``cryspai-*@computer``; for an engine
    with its own code (DFT) ``oracle`` as given, else ``<engine's code label>@computer``. Raises :class:`InputError`
    where that code does not exist."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..executables.files import CODE_SCRIPTS

    given = dict(codes or {})
    codes = {name: given.get(name) or orm.load_code(f"{script}@{computer}") for name, script in CODE_SCRIPTS.items()}
    oracle_engine = get_engine(engine)
    if oracle_engine.uses_relax_code:
        return codes
    label = f"{oracle_engine.code_label}@{computer}"
    try:
        codes["oracle"] = given.get("oracle") or orm.load_code(label)
    except NotExistent:
        raise InputError("ERROR_INVALID_ENGINE", f"engine {engine} needs a code: none is called {label}; create it "
                         "with `verdi code create core.code.installed` (for VASP: --default-calc-job-plugin "
                         "vasp.vasp) or name one with --oracle-code") from None
    return codes


# what a CalcJob asks its scheduler for where it should compute on a GPU (``device: cuda``)
GPU_SCHEDULER_COMMANDS = {"core.slurm": "#SBATCH --gres=gpu:1", "core.pbspro": "#PBS -l ngpus=1"}


def check_device_name(device: str) -> None:
    """Raise :class:`InputError` (exit 210) unless ``device`` is one of ``ml.device.DEVICES``."""
    from ..ml.device import DEVICES

    if device not in DEVICES:
        raise InputError("ERROR_INVALID_DEVICE", f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")


def _runs_here(computer) -> bool:
    """Whether ``computer`` is this machine without a queue (local transport, direct scheduler)."""
    return computer.transport_type == "core.local" and computer.scheduler_type == "core.direct"


def device_options(device: str, code, options: dict | None = None) -> dict:
    """The CalcJob options of a search that computes its models on ``device`` (``auto``, ``cpu``, ``cuda``): the
    device for the scripts and, for ``cuda`` on a computer with a known queue, its request for a GPU (the user's own
    ``custom_scheduler_commands`` win). ``cuda`` on this machine without a GPU is refused here, before anything
    runs; on a remote computer the scripts refuse it there if no GPU can be seen."""
    from ..ml.device import gpu_available

    check_device_name(device)
    computer = code.computer
    if device == "cuda" and computer.transport_type == "core.local" and not gpu_available():
        raise InputError("ERROR_INVALID_DEVICE", f"device cuda: torch sees no CUDA GPU on this machine (computer "
                         f"{computer.label}); use --device cpu or auto")
    options = {**(options or {}), "device": device}
    command = GPU_SCHEDULER_COMMANDS.get(computer.scheduler_type)
    if device == "cuda" and command and "custom_scheduler_commands" not in options:
        options["custom_scheduler_commands"] = command
    return options


def memory_bound_gb(code) -> float | None:
    """The memory each script CalcJob may use on ``code``'s computer: on this machine without a queue (local
    transport, direct scheduler) its physical memory shared by the CalcJobs it runs at once (:func:`compute_slots`),
    so that a runaway relaxation stops with its reason instead of swapping the machine; elsewhere None (the queue's
    ``max_memory_kb`` bounds a job)."""
    import os

    if not _runs_here(code.computer):
        return None
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return round(total / max(1, compute_slots(code) or 1), 1)


def concurrency_limit(code) -> int | None:
    """The most oracle CalcJobs a search keeps at once on ``code``'s computer (``cryspai setup --max-concurrent``)."""
    limit = code.computer.get_property(MAX_CONCURRENT_PROPERTY, None)
    return None if limit is None else int(limit)


def complete_builder(builder, codes: dict, overrides: dict | None, device: str):
    """A search's ``builder`` with its ``codes``, the CalcJob options of ``device`` (:func:`device_options`) and
    ``max_parallel_oracle`` at the oracle computer's limit (``cryspai setup --max-concurrent``) unless the user's
    ``overrides`` set it."""
    from aiida import orm

    builder.codes = codes
    options = device_options(device, codes["relax"], builder.get("options"))
    memory = memory_bound_gb(codes["relax"])
    builder.options = {"memory_gb": memory, **options} if memory else options
    limit = concurrency_limit(codes.get("oracle") or codes["relax"])
    if limit is not None and "max_parallel_oracle" not in (overrides or {}):
        builder.parameters = orm.Dict({**builder.parameters.get_dict(), "max_parallel_oracle": limit})
    return builder


def compute_slots(code) -> int | None:
    """How many compute CalcJobs (the GA's) one stage keeps at once on ``code``'s computer: its ``--max-concurrent``
    where set; for this machine without a queue (local transport, direct scheduler) its number of cores, so that no
    more processes run than there are cores; otherwise None (all at once: a queue spreads them)."""
    import os

    limit = concurrency_limit(code)
    if limit is not None:
        return limit
    if _runs_here(code.computer):
        return os.cpu_count() or 1
    return None
