"""``cryspai.main``: the CrySPAI loop (paper Fig. 1).

composition -> volume -> random symmetric structures (7 crystal systems) -> loop: oracle relaxations,
dataset update, network training, convergence check, GA per crystal system on the network -> final GA per
crystal system -> oracle verification of the best -> ranked results.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.common.exceptions import NotExistent
from aiida.engine import ToContext, WorkChain, append_, if_, while_
from aiida.plugins import CalculationFactory

from ..analysis.crystal_systems import CRYSTAL_SYSTEMS, CrystalSystemError, resolve_crystal_systems
from ..calcfunctions.convergence import check_convergence
from ..calcfunctions.dataset import update_dataset
from ..calcfunctions.generation import generate_random_structures
from ..calcfunctions.prior import label_frames
from ..calcfunctions.recommendation import recommend_structures
from ..calcfunctions.results import rank_results
from ..calcfunctions.templates import generate_template_structures
from ..calcfunctions.volume import estimate_volume, volume_from_scan
from ..data.dataset import DatasetData
from ..engines import EngineError, get_engine
from ..ml.potentials import CALCULATORS
from ..ml.prior import PriorError, check_prior
from ..protocols import ProtocolError, check_parameters, get_protocol
from ..search.budget import OracleBudget
from ..search.composition import CompositionError, parse_composition
from ..search.ga import GASettings, energy_limit_per_atom
from ..search.geometry import min_volume_per_atom
from ..search.objective import Objective
from ..search.plausibility import implausible_energies
from ..search.templates import SeedStructureError, fit_seed_to_composition
from ..search.volume import SCAN_TRUST_FLOOR, trust_floor
from .oracle import OracleWorkChain, oracle_outputs

# Property of a Computer: the most oracle CalcJobs one run keeps on it at once (``cryspai setup --max-concurrent``)
MAX_CONCURRENT_PROPERTY = "cryspai_max_concurrent_calcjobs"

# child stages whose seeds are spawned from the run's seed (see CrySPAIWorkChain._seed)
SEED_STAGES = ("random", "ga", "final_ga", "recommendation", "training", "screening", "volume_scan")
# the external pressures (GPa) a search accepts: -100 (tension) to 1000 (the Earth's core is at 360)
PRESSURE_RANGE_GPA = (-100.0, 1000.0)
# most known structures whose E(V) is scanned for the starting volume and their order in the first batch
VOLUME_SCAN_STRUCTURES = 64
# structures per screening CalcJob: the screening reports its progress as each group finishes
SCREENING_GROUP_SIZE = 8

TrainCalculation = CalculationFactory("cryspai.train")
EvolveCalculation = CalculationFactory("cryspai.evolve")
RelaxCalculation = CalculationFactory("cryspai.relax")

DEFAULT_CODE_LABELS = {"relax": "cryspai-relax", "train": "cryspai-train", "evolve": "cryspai-evolve"}


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


class CrySPAIWorkChain(WorkChain):
    """Predict the stable crystal structures of a composition, the CrySPAI way."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("composition", valid_type=orm.Str, help="E.g. 'Si8', 'Ti4O8', 'CaTiO3' (atoms in the cell).")
        spec.input("engine", valid_type=orm.Str, default=lambda: orm.Str("ase:chgnet"), help="The oracle.")
        spec.input("crystal_system", valid_type=orm.Str, default=lambda: orm.Str("all"),
                   help="Crystal system of the final search ('all' or one of the seven); the loop uses all seven.")
        spec.input("volume", valid_type=orm.Float, required=False, help="Cell volume (Å^3); Eq. 2 if absent.")
        spec.input("seed", valid_type=orm.Int, default=lambda: orm.Int(1), help="Seed of every random choice.")
        spec.input("pressure", valid_type=orm.Float, default=lambda: orm.Float(0.0),
                   help="External hydrostatic pressure (GPa): every relaxation runs under it and every ranking uses "
                        "the enthalpy per atom (E + PV)/N.")
        spec.input("max_oracle_calls", valid_type=orm.Int, required=False,
                   help="Most oracle relaxations in total, verification included.")
        spec.input("protocol", valid_type=orm.Str, default=lambda: orm.Str("fast"),
                   help="Name of the protocol the parameters came from (recorded).")
        spec.input("parameters", valid_type=orm.Dict, help="All search, training and oracle settings.")
        spec.input("prior", valid_type=orm.Dict, required=False,
                   help="The universal potential under the network (name, version, checkpoint_sha256): the network "
                        "learns the oracle's correction to it; absent: the paper's pure network.")
        spec.input_namespace("seed_structures", valid_type=orm.StructureData, dynamic=True, required=False,
                             help="The user's own starting structures (labelled with their file names): of the "
                                  "composition or a divisor of it; treated like the prototypes.")
        spec.input_namespace("codes", help="Codes of the console scripts.")
        spec.input("codes.relax", valid_type=orm.AbstractCode, help="cryspai-relax (the ase engine).")
        spec.input("codes.train", valid_type=orm.AbstractCode, help="cryspai-train.")
        spec.input("codes.evolve", valid_type=orm.AbstractCode, help="cryspai-evolve.")
        spec.input("codes.oracle", valid_type=orm.AbstractCode, required=False,
                   help="The DFT engine's code (e.g. abinit@localhost); the ase engines use codes.relax.")
        spec.input("options", valid_type=dict, non_db=True, required=False,
                   help="Extra metadata.options for every CalcJob (e.g. resources on a cluster).")

        spec.outline(
            cls.validate_inputs,
            cls.estimate_volume,
            if_(cls.has_templates)(
                cls.generate_template_structures,
            ),
            if_(cls.should_scan_volume)(
                cls.scan_volume,
                cls.choose_volume,
            ),
            cls.generate_random_structures,
            if_(cls.should_screen_on_prior)(
                cls.screen_on_prior,
                cls.choose_screened_structures,
            ),
            while_(cls.should_run_oracle)(
                cls.run_oracle,
                cls.inspect_oracle,
                if_(cls.has_prior)(
                    cls.label_frames_with_prior,
                ),
                cls.update_dataset,
                if_(cls.has_model)(
                    cls.check_convergence,
                ),
                if_(cls.has_enough_samples)(
                    cls.train_network,
                    cls.inspect_training,
                    if_(cls.should_search_again)(
                        cls.run_evolutionary_search,
                        cls.collect_candidates,
                    ),
                ).else_(
                    cls.generate_more_random_structures,
                ),
            ),
            if_(cls.has_model)(
                cls.run_final_search,
                cls.recommend_structures,
                cls.verify_with_oracle,
                cls.inspect_oracle,
            ),
            if_(cls.should_refine)(
                cls.refine_best_structures,
                cls.inspect_oracle,
            ),
            cls.rank_results,
        )

        spec.output_namespace("candidates", valid_type=orm.StructureData, dynamic=True,
                              help="Ranked structures, rank_001 the lowest oracle energy.")
        spec.output("summary", valid_type=orm.Dict, help="The run and the ranked candidates (results.json).")
        spec.output("dataset", valid_type=DatasetData, required=False, help="The final training set.")
        spec.output("model", valid_type=orm.SinglefileData, required=False, help="The final network.")

        spec.exit_code(201, "ERROR_INVALID_COMPOSITION", message="Invalid composition: {message}")
        spec.exit_code(202, "ERROR_INVALID_ENGINE", message="Invalid engine: {message}")
        spec.exit_code(203, "ERROR_INVALID_CRYSTAL_SYSTEM", message="Invalid crystal system: {message}")
        spec.exit_code(204, "ERROR_INVALID_VOLUME", message="Invalid volume: {message}")
        spec.exit_code(205, "ERROR_INVALID_BUDGET", message="Invalid oracle budget: {message}")
        spec.exit_code(206, "ERROR_INVALID_PARAMETERS", message="Invalid parameters: {message}")
        spec.exit_code(207, "ERROR_INVALID_PRIOR", message="Invalid prior: {message}")
        spec.exit_code(208, "ERROR_INVALID_SEED_STRUCTURE", message="Invalid seed structure: {message}")
        spec.exit_code(209, "ERROR_INVALID_PRESSURE", message="Invalid pressure: {message}")
        spec.exit_code(401, "ERROR_ORACLE_FAILED", message="The oracle workchain failed: {message}")
        spec.exit_code(402, "ERROR_TRAINING_FAILED", message="Training the network failed: {message}")
        spec.exit_code(403, "ERROR_NO_RESULTS", message="No oracle relaxation ended well; nothing to rank.")

    # -- builder -----------------------------------------------------------------------------------------
    @classmethod
    def get_builder_from_protocol(
        cls,
        composition: str,
        engine: str = "ase:chgnet",
        protocol: str = "fast",
        crystal_system: str = "all",
        volume: float | None = None,
        seed: int = 1,
        max_oracle_calls: int | None = None,
        overrides: dict | None = None,
        codes: dict | None = None,
        computer: str = "localhost",
        prior: str | None = "default",
        pressure: float = 0.0,
    ):
        """A builder filled from ``protocol`` (``fast``, ``moderate``, ``precise``) with ``overrides`` merged in.

        ``codes`` maps ``relax``/``train``/``evolve`` to codes; by default the codes ``cryspai-*@computer``.
        ``prior``: a universal potential under the network (``ase:chgnet``, ``ase:sevennet``), ``None`` for the pure
        network, ``"default"`` for the engine's choice (CHGNet under DFT and SevenNet, none under CHGNet and EMT).
        """
        builder = cls.get_builder()
        builder.composition = orm.Str(composition)
        builder.engine = orm.Str(engine)
        builder.crystal_system = orm.Str(crystal_system)
        builder.seed = orm.Int(seed)
        builder.protocol = orm.Str(protocol)
        builder.pressure = orm.Float(pressure)
        builder.parameters = orm.Dict(get_protocol(protocol, overrides))
        name = resolve_prior(engine, prior)
        if name is not None:
            builder.prior = orm.Dict(CALCULATORS[name].provenance())
        if volume is not None:
            builder.volume = orm.Float(volume)
        if max_oracle_calls is not None:
            builder.max_oracle_calls = orm.Int(max_oracle_calls)
        codes = dict(codes or {})
        for name, label in DEFAULT_CODE_LABELS.items():
            code = codes.get(name) or orm.load_code(f"{label}@{computer}")
            builder.codes[name] = code
        oracle_engine = get_engine(engine)
        if not oracle_engine.uses_relax_code:
            label = f"{oracle_engine.code_label}@{computer}"
            try:
                builder.codes.oracle = codes.get("oracle") or orm.load_code(label)
            except NotExistent:
                raise InputError("ERROR_INVALID_ENGINE", f"engine {engine} needs a code: none is called {label}; "
                                 "create it with `verdi code create core.code.installed` (for VASP: "
                                 "--default-calc-job-plugin vasp.vasp) or name one with --oracle-code") from None
        oracle_code = builder.codes.oracle if "oracle" in builder.codes else builder.codes.relax
        limit = oracle_code.computer.get_property(MAX_CONCURRENT_PROPERTY, None)
        if limit is not None and "max_parallel_oracle" not in (overrides or {}):
            builder.parameters = orm.Dict({**builder.parameters.get_dict(), "max_parallel_oracle": int(limit)})
        return builder

    # -- helpers ------------------------------------------------------------------------------------------
    @property
    def parameters(self) -> AttributeDict:
        return AttributeDict(self.inputs.parameters.get_dict())

    def _options(self, threads: int = 1) -> dict:
        options = {"threads": threads}
        options.update(self.inputs.get("options", {}) or {})
        return options

    @property
    def objective(self) -> Objective:
        """What every ranking minimises: the energy per atom, or the enthalpy per atom under pressure."""
        return Objective(pressure_gpa=self.inputs.pressure.value)

    @property
    def _budget(self) -> OracleBudget:
        """The oracle budget (``search/budget.py``); ``ctx.oracle_calls`` is what has been spent."""
        return OracleBudget(**self.ctx.budget)

    def _oracle_calls_left(self, reserve: int = 0) -> int | None:
        """The oracle relaxations the budget still allows after keeping ``reserve`` of them; None: no budget."""
        return self._budget.left(self.ctx.oracle_calls, reserve)

    def _loop_budget_spent(self) -> bool:
        """Whether the loop has spent its oracle budget (the verification's and refinement's calls are kept)."""
        return self._budget.loop_spent(self.ctx.oracle_calls)

    def _seed(self, stage: str, *indices: int) -> int:
        """The seed of one child stage (random generation, a GA, a recommendation), independent of every other:
        numpy's SeedSequence spawned from the run's seed along (stage, indices)."""
        key = (SEED_STAGES.index(stage), *indices)
        return int(np.random.SeedSequence(self.inputs.seed.value, spawn_key=key).generate_state(1)[0])

    def _dft_settings(self) -> dict:
        """The DFT engine's protocol name and overrides (``oracle.abinit``, ``oracle.vasp``) from the search
        parameters."""
        oracle = self.parameters.oracle
        return {"dft_protocol": oracle.get("dft_protocol") or self.inputs.protocol.value,
                **{key: oracle.get(key) or {} for key in ("abinit", "vasp")}}

    def _pseudopotentials(self) -> dict:
        """Element -> pseudopotential of the DFT engine (``volume_radii: pseudopotentials``)."""
        engine = get_engine(self.inputs.engine.value)
        try:
            return engine.pseudopotentials(engine.settings(self._dft_settings()),
                                           parse_composition(self.inputs.composition.value).symbols)
        except ValueError as error:
            raise ValueError(f"volume_radii pseudopotentials needs a DFT engine: {error}") from None

    def _compression(self) -> dict:
        """Under pressure, the ``length_scale`` input of the random structures' generation: (V_P / V_0)^(1/3) from the
        volume scan, so that their distances are checked as they would be at 0 GPa."""
        scale = self.ctx.get("length_scale", 1.0)
        return {"length_scale": orm.Float(scale)} if scale != 1.0 else {}

    def _relaxation_parameters(self, engine, only: tuple[str, ...] | None = None, tight: bool = False) -> dict:
        """The parameters of ``engine``'s relaxations in this run: its defaults, the search's ``oracle`` settings
        (only the keys ``only`` for another engine than the oracle: the prior's screening), the DFT protocol, the
        run's guards, the refinement's thresholds when ``tight``, under the run's pressure."""
        parameters = engine.default_parameters()
        parameters.update({k: v for k, v in self.parameters.oracle.items() if only is None or k in only})
        if only is None:
            parameters["dft_protocol"] = parameters.get("dft_protocol") or self.inputs.protocol.value
        parameters["guards"] = {**parameters.get("guards", {}), **self._guards()}
        if tight:
            refine = self.parameters.refine
            parameters = engine.tight_parameters(parameters, refine["fmax"], refine["max_steps"])
        return engine.with_pressure(parameters, self.inputs.pressure.value)

    def _guards(self) -> dict:
        low, high = self.parameters.guard_volume_range
        per_atom = self.ctx.volume_estimate / self.ctx.n_atoms
        floor = min_volume_per_atom(parse_composition(self.inputs.composition.value).expanded())
        guards = self.parameters.guards
        return {"min_volume_per_atom": max(low * per_atom, floor), "max_volume_per_atom": high * per_atom,
                "length_scale": self.ctx.get("length_scale", 1.0), "contact_factor": guards["contact_factor"],
                "energy_margin": guards["energy_margin"], "repulsion": guards["repulsion"]}

    # -- outline steps ------------------------------------------------------------------------------------
    def validate_inputs(self):
        """Check every input before anything runs (exit codes 201-206)."""
        try:
            check_request(
                self.inputs.composition.value,
                self.inputs.engine.value,
                self.inputs.crystal_system.value,
                self.inputs.volume.value if "volume" in self.inputs else None,
                self.inputs.max_oracle_calls.value if "max_oracle_calls" in self.inputs else None,
                self.inputs.pressure.value,
            )
            parameters = check_parameters(self.inputs.parameters.get_dict())
            check_prerelax(parameters)
            check_pressure(self.inputs.pressure.value, self.inputs.engine.value, parameters)
            composition = parse_composition(self.inputs.composition.value)
            if "prior" in self.inputs:
                try:
                    check_prior(self.inputs.prior["name"], self.inputs.engine.value, composition.symbols)
                except PriorError as error:
                    raise InputError("ERROR_INVALID_PRIOR", str(error)) from None
            for stage in ("ga", "final_ga"):
                energy_limit_per_atom(GASettings(**parameters[stage]), composition)
            engine = get_engine(self.inputs.engine.value)
            if not engine.uses_relax_code and "oracle" not in self.inputs.codes:
                raise InputError("ERROR_INVALID_ENGINE", f"engine {engine.name} needs codes.oracle "
                                 f"(e.g. {engine.code_label}@localhost, created by `cryspai setup`)")
            engine.check(composition.symbols, self._dft_settings())
            for name, node in sorted(self.inputs.get("seed_structures", {}).items()):
                try:
                    fit_seed_to_composition(node.get_ase(), composition, node.label or name)
                except SeedStructureError as error:
                    raise InputError("ERROR_INVALID_SEED_STRUCTURE", str(error)) from None
            if parameters["volume_radii"] == "pseudopotentials":
                self._pseudopotentials()
        except InputError as error:
            self.report(str(error))
            return getattr(self.exit_codes, error.label).format(message=str(error))
        except (ProtocolError, ValueError, TypeError) as error:
            self.report(str(error))
            return self.exit_codes.ERROR_INVALID_PARAMETERS.format(message=str(error))
        composition = parse_composition(self.inputs.composition.value)
        self.ctx.n_atoms = composition.n_atoms
        self.ctx.species = composition.symbols
        self.ctx.iteration = 0
        self.ctx.oracle_calls = 0
        self.ctx.ionic_steps = 0
        self.ctx.oracle_wall_s = 0.0
        self.ctx.oracle_runs = []
        self.ctx.model = None
        self.ctx.converged = False
        self.ctx.converged_by = None
        self.ctx.ga_saturated = False  # the last GA proposed nothing new: the next batch is random structures
        self.ctx.convergence_history = []
        self.ctx.training_history = []
        self.ctx.dataset = None
        self.ctx.best_by_system = {}
        self.ctx.relaxed_uuids = []  # every structure the oracle relaxed: the GA's proposals must differ from them
        self.ctx.random_rounds = 0
        total = self.inputs.max_oracle_calls.value if "max_oracle_calls" in self.inputs else None
        self.ctx.budget = OracleBudget.plan(total, self.parameters.n_verify,
                                            self.parameters.refine["n_candidates"]).to_dict()
        self.ctx.refined = {}  # refined structure's key -> the key of the oracle structure it started from
        self.ctx.origins = {}  # key of every structure the oracle is given -> where it came from
        self.ctx.templates = {}
        self.ctx.refused = {}  # oracle results refused as implausible (key -> reason)

    def estimate_volume(self):
        """Eq. 2 unless the user gave the volume."""
        if "volume" in self.inputs:
            self.ctx.volume_node = self.inputs.volume
        else:
            pseudos = self._pseudopotentials() if self.parameters.volume_radii == "pseudopotentials" else {}
            self.ctx.volume_node = estimate_volume(self.inputs.composition,
                                                   orm.Float(self.parameters.volume_adjustment), **pseudos)
        self.ctx.volume_estimate = self.ctx.volume_node.value
        self.ctx.search_volume = self.ctx.volume_estimate
        self.report(f"cell volume {self.ctx.volume_estimate:.2f} Å^3 for {self.inputs.composition.value}")

    def _random_structures(self, prefix: str):
        outputs = generate_random_structures(
            self.inputs.composition,
            orm.Float(self.ctx.search_volume),
            orm.List(list(CRYSTAL_SYSTEMS)),
            orm.Int(self.parameters.initial_per_system),
            orm.Int(self._seed("random", self.ctx.random_rounds)),
            orm.Str(prefix),
            **self._compression(),
        )
        self.ctx.random_rounds += 1
        self.ctx.origins.update({key: info["origin"] for key, info in outputs["origins"].get_dict().items()})
        return {key: node for key, node in outputs.items() if key != "origins"}

    def has_templates(self):
        return self.parameters.templates["source"] != "none" or bool(self.inputs.get("seed_structures"))

    def generate_template_structures(self):
        """Known structures: the user's seed structures and the prototype library's structure types of the
        composition, nearest in chemistry first."""
        outputs = generate_template_structures(
            self.inputs.composition, orm.Float(self.ctx.search_volume), orm.Dict(self.parameters.templates),
            **self.inputs.get("seed_structures", {}), metadata={"call_link_label": "template_structures"})
        self.ctx.origins.update({key: info["origin"] for key, info in outputs["origins"].get_dict().items()})
        self.ctx.templates = {key: node for key, node in outputs.items() if key != "origins"}
        n_seeds = sum(self.ctx.origins[key].startswith("seed file") for key in self.ctx.templates)
        self.report(f"{len(self.ctx.templates)} known structures ({n_seeds} seed files, "
                    f"{len(self.ctx.templates) - n_seeds} from the prototype library)")

    def _volume_method(self) -> str:
        """How the starting volume was set: given, scan or paper (Eq. 2)."""
        if "volume" in self.inputs:
            return "given"
        return "scan" if self.ctx.get("volume_scanned") else "paper"

    def _scan_potential(self) -> str | None:
        """The potential of the volume scan: the prior, else the oracle itself when it is an ASE engine, else CHGNet
        (only the starting volume comes from it); None when it cannot compute every element."""
        engine = get_engine(self.inputs.engine.value)
        if "prior" in self.inputs:
            name = self.inputs.prior["name"]
        else:
            name = engine.calculator if engine.uses_relax_code else "chgnet"
        return None if CALCULATORS[name].unsupported_elements(self.ctx.species) else name

    def should_scan_volume(self):
        if "volume" in self.inputs or self.parameters.volume_method != "scan":
            return False
        if self._scan_potential() is None:
            self.report("no potential for the volume scan computes every element: Eq. 2's volume stays")
            return False
        return True

    def scan_volume(self):
        """E(V) of the known structures (up to 64; without any, of 28 random symmetric ones, the lowest 8 then
        relaxed) scaled from 0.35 to 3.5 x their volume, single points on a potential (a RelaxCalculation in scan
        mode; no oracle relaxation)."""
        from ..search.volume import (
            RANDOM_SCAN_PER_SYSTEM,
            RANDOM_SCAN_RELAX_SETTINGS,
            RANDOM_SCAN_RELAXED,
            SCAN_FACTORS,
        )

        structures = {key: self.ctx.templates[key] for key in sorted(self.ctx.templates)[:VOLUME_SCAN_STRUCTURES]}
        name = self._scan_potential()
        parameters = {"calculator": name, "volume_scan": list(SCAN_FACTORS)}
        if not structures:
            outputs = generate_random_structures(
                self.inputs.composition, orm.Float(self.ctx.search_volume), orm.List(list(CRYSTAL_SYSTEMS)),
                orm.Int(RANDOM_SCAN_PER_SYSTEM), orm.Int(self._seed("volume_scan")), orm.Str("scan"),
                metadata={"call_link_label": "volume_scan_structures"})
            structures = {key: node for key, node in outputs.items() if key != "origins"}
            parameters.update({"volume_scan_relax": {"n": RANDOM_SCAN_RELAXED, **RANDOM_SCAN_RELAX_SETTINGS},
                               "guards": self._guards(), "pressure_gpa": self.inputs.pressure.value})
        node = self.submit(RelaxCalculation, code=self.inputs.codes.relax, structures=structures,
                           parameters=orm.Dict(parameters),
                           metadata={"options": self._options(), "call_link_label": "volume_scan"})
        relaxed = f", the lowest {RANDOM_SCAN_RELAXED} relaxed" if "volume_scan_relax" in parameters else ""
        self.report(f"volume scan: {len(structures)} {'known' if self.ctx.templates else 'random'} structures x "
                    f"{len(SCAN_FACTORS)} volumes on {name}{relaxed} -> RelaxCalculation<{node.pk}>")
        return ToContext(volume_scan=node)

    def choose_volume(self):
        """The search volume at the lowest minimum of the scans; each scanned known structure at its own."""
        node = self.ctx.volume_scan
        if not node.is_finished_ok:
            self.report(f"volume scan failed (exit {node.exit_status}): Eq. 2's volume stays")
            return
        scanned = {key: self.ctx.templates[key] for key in node.outputs.results.keys() if key in self.ctx.templates}
        outputs = volume_from_scan(self.ctx.volume_node, node.outputs.results, pressure=self.inputs.pressure,
                                   **scanned, metadata={"call_link_label": "scanned_volume"})
        self.ctx.search_volume = outputs["volume"].value
        self.ctx.volume_estimate = self.ctx.search_volume  # the guards' reference too
        self.ctx.volume_scanned = True
        self.ctx.templates.update({key: value for key, value in outputs.items()
                                   if key not in ("volume", "order", "compression")})
        if "compression" in outputs:
            self.ctx.length_scale = min(1.0, outputs["compression"].value ** (1 / 3))
            self.report(f"the pressure compresses the scanned structures to {outputs['compression'].value:.3f} of "
                        f"their 0 GPa volume: bond lengths of the geometry guards x {self.ctx.length_scale:.3f}")
        order = outputs["order"].get_list()
        self.ctx.template_order = order + [key for key in sorted(self.ctx.templates) if key not in order]
        floor = trust_floor(self.ctx.volume_node.value,
                            outputs["compression"].value if "compression" in outputs else 1.0)
        if not scanned and abs(self.ctx.search_volume - floor) < 1e-6 * floor:
            self.report(f"the random structures' scan found no plausible minimum above {SCAN_TRUST_FLOOR} x Eq. 2's "
                        "volume (x the pressure's compression; a potential's holes lie in compressed cells): that "
                        "floor is taken")
        at = f" at {self.inputs.pressure.value:g} GPa (enthalpy minimum)" if self.inputs.pressure.value else ""
        how = "" if scanned else ", the lowest of the relaxed random structures"
        self.report(f"cell volume {self.ctx.search_volume:.2f} Å^3 from the scan{at}{how} (Eq. 2: "
                    f"{self.ctx.volume_node.value:.2f})")

    def generate_random_structures(self):
        """The first oracle batch: random symmetric structures in all seven crystal systems; without a prior the
        known structures take ``templates.first_batch_fraction`` of it (seed files first, then the prototypes nearest
        in chemistry); with one they are screened with the rest."""
        self.ctx.candidates = self._random_structures("random0")
        self.report(f"{len(self.ctx.candidates)} random symmetric structures over the 7 crystal systems")
        if self.should_screen_on_prior() or not self.ctx.templates:
            return
        batch = len(self.ctx.candidates)
        # seed files first, then the known structures lowest on the scan's potential (nearest in chemistry without
        # a scan)
        order = self.ctx.get("template_order") or sorted(self.ctx.templates)
        seeds = [key for key in order if self.ctx.origins[key].startswith("seed file")]
        share = round(self.parameters.templates["first_batch_fraction"] * batch)
        n_templates = min(len(self.ctx.templates), max(len(seeds), share))
        chosen = (seeds + [key for key in order if key not in seeds])[:n_templates]
        random = sorted(self.ctx.candidates)[: max(0, batch - n_templates)]
        self.ctx.candidates = {**{key: self.ctx.candidates[key] for key in random},
                               **{key: self.ctx.templates[key] for key in chosen}}
        self.report(f"first oracle batch: {n_templates} known structures "
                    f"({', '.join(self.ctx.origins[key] for key in chosen)}) and {len(random)} random symmetric ones")

    def should_screen_on_prior(self):
        return "prior" in self.inputs and self.parameters.screening_per_system > 0

    def screen_on_prior(self):
        """Many random symmetric structures relaxed on the prior (not the oracle: no oracle call, no frame in the
        dataset); the first oracle batch is chosen from them."""
        n_per_system = self.parameters.screening_per_system
        outputs = generate_random_structures(
            self.inputs.composition, orm.Float(self.ctx.search_volume), orm.List(list(CRYSTAL_SYSTEMS)),
            orm.Int(n_per_system), orm.Int(self._seed("screening")), orm.Str("screen"), **self._compression(),
            metadata={"call_link_label": "screening_structures"})
        structures = {key: node for key, node in outputs.items() if key != "origins"}
        self.ctx.origins.update({key: info["origin"] for key, info in outputs["origins"].get_dict().items()})
        structures.update(self.ctx.templates)
        engine = get_engine(f"ase:{self.inputs.prior['name']}")
        parameters = self._relaxation_parameters(engine, only=("fmax", "max_steps", "relax_cell"))
        node = self.submit(OracleWorkChain, engine=orm.Str(engine.name), structures=structures,
                           parameters=orm.Dict(parameters), code=self.inputs.codes.relax,
                           max_parallel=orm.Int(self.parameters.max_parallel_oracle), options=self._options(),
                           group_size=orm.Int(SCREENING_GROUP_SIZE), metadata={"call_link_label": "screening"})
        self.report(f"screening {len(structures)} structures ({len(self.ctx.templates)} known, the rest random "
                    f"symmetric) on the prior {engine.name} -> OracleWorkChain<{node.pk}>")
        return ToContext(screening=node)

    def choose_screened_structures(self):
        """The first oracle batch: the lowest distinct structures the prior found (symmetrised), as many as the
        random batch had; where the screening gave fewer, the random structures stay."""
        node = self.ctx.screening
        energies = oracle_outputs(node, "energies") if node.is_finished_ok else {}
        structures = oracle_outputs(node, "relaxed_structures") if node.is_finished_ok else {}
        wanted = len(self.ctx.candidates)
        if len(energies) < wanted:
            self.report(f"screening gave {len(energies)} structures, fewer than {wanted}: the first batch stays random")
            return
        inputs = {f"structure_{key}": structures[key] for key in energies}
        inputs.update({f"energy_{key}": energy for key, energy in energies.items()})
        ranked = rank_results(orm.Dict({"stage": "screening on the prior"}),
                              orm.Dict({"n_candidates": wanted, "symprec": 0.1, "objective": self.objective.to_dict(),
                                        "crystal_system": "all",
                                        "energy_margin": self.parameters.guards["energy_margin"]}),
                              **inputs, metadata={"call_link_label": "screening_ranking"})
        chosen = {key.replace("rank_", "screened_"): value for key, value in ranked.items() if key.startswith("rank_")}
        for candidate in ranked["summary"]["candidates"]:
            self.ctx.origins[f"screened_{candidate['rank']:03d}"] = self.ctx.origins.get(candidate["oracle_key"], "")
        if len(chosen) < wanted:
            self.report(f"screening gave {len(chosen)} distinct structures, fewer than {wanted}: the first batch "
                        "stays random")
            return
        self.ctx.candidates = chosen
        summary = ranked["summary"]
        for refused in summary["refused"]:
            self.report(f"screening: {refused['oracle_key']} refused: {refused['reason']}")
        best = summary["candidates"][0]
        known = sum(not self.ctx.origins.get(key, "").startswith("random") for key in chosen)
        self.report(f"first oracle batch: the {len(chosen)} lowest distinct of {len(energies)} structures relaxed on "
                    f"the prior ({len(summary['refused'])} more refused as implausible), {known} of them known "
                    f"structures (best {best['spacegroup_symbol']}, {best['energy_per_atom']:.4f} eV/atom on the "
                    f"prior, {self.ctx.origins.get('screened_001')})")
        for candidate in summary["candidates"]:
            self.report(f"  screened_{candidate['rank']:03d}: {candidate['spacegroup_symbol']} "
                        f"({candidate['spacegroup_number']}), {candidate['energy_per_atom']:.4f} eV/atom on the "
                        f"prior, {self.ctx.origins.get(candidate['oracle_key'], '')}")

    def generate_more_random_structures(self):
        """Too few samples to train yet: another batch of random symmetric structures."""
        self.ctx.candidates = self._random_structures(f"random{self.ctx.random_rounds}")
        self.report(f"dataset below {self.parameters.min_samples} samples: "
                    f"{len(self.ctx.candidates)} more random structures")

    def should_run_oracle(self):
        if not self.ctx.candidates or self.ctx.converged:
            return False
        if self.ctx.iteration >= self.parameters.max_iterations:
            self.report(f"iteration cap {self.parameters.max_iterations} reached")
            return False
        if self._loop_budget_spent():
            self.report("oracle budget for the loop spent")
            return False
        return True

    def _submit_oracle(self, structures: dict, label: str, reserve: int = 0, tight: bool = False):
        """Submit the oracle on ``structures``, as many as the budget allows after keeping ``reserve`` calls;
        ``tight``: the refinement's thresholds, the whole cell, no pre-relaxation."""
        left = self._oracle_calls_left(reserve)
        keys = sorted(structures)
        if left is not None:
            keys = keys[:left]
        engine = get_engine(self.inputs.engine.value)
        parameters = self._relaxation_parameters(engine, tight=tight)
        inputs = {
            "engine": self.inputs.engine,
            "structures": {key: structures[key] for key in keys},
            "parameters": orm.Dict(parameters),
            "code": self.inputs.codes.relax if engine.uses_relax_code else self.inputs.codes.oracle,
            "max_parallel": orm.Int(self.parameters.max_parallel_oracle),
            "options": self._options(),
            "metadata": {"call_link_label": label},
        }
        if self.parameters.oracle.get("prerelax") and not tight:  # pre-relaxed for per-structure engines only
            inputs["prerelax_engine"] = orm.Str(self.parameters.oracle["prerelax"])
            inputs["prerelax_code"] = self.inputs.codes.relax
        self.ctx.oracle_calls += len(keys)
        node = self.submit(OracleWorkChain, **inputs)
        self.report(f"{label}: {len(keys)} structures to the oracle ({self.inputs.engine.value}) "
                    f"-> OracleWorkChain<{node.pk}>")
        return ToContext(oracle=node)

    def run_oracle(self):
        """Oracle relaxations of the current candidates."""
        self.ctx.iteration += 1
        return self._submit_oracle(self.ctx.candidates, f"oracle_{self.ctx.iteration:02d}", self._budget.verify)

    def inspect_oracle(self):
        node = self.ctx.oracle
        if node.uuid in self.ctx.oracle_runs:
            return None
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ORACLE_FAILED.format(message=f"OracleWorkChain<{node.pk}> "
                                                                      f"exit {node.exit_status}")
        self.ctx.oracle_runs.append(node.uuid)
        statuses: dict[str, int] = {}
        energies = oracle_outputs(node, "energies")
        structures = oracle_outputs(node, "relaxed_structures")
        for results in oracle_outputs(node, "results").values():
            for info in results.get_dict().values():
                statuses[info["status"]] = statuses.get(info["status"], 0) + 1
                self.ctx.ionic_steps += int(info["n_steps"])
                self.ctx.oracle_wall_s += float(info["wall_s"])
        refused = self._implausible_oracle_results()
        for key in sorted(set(refused) - set(self.ctx.refused)):
            self.report(f"oracle result {key} refused: {refused[key]}")
        self.ctx.refused.update(refused)
        best = None
        for key, energy in energies.items():
            if key in self.ctx.refused:
                continue
            per_atom = self.objective.of_atoms(structures[key].get_ase(), energy.value)
            if best is None or per_atom < best[0]:
                best = (per_atom, key)
            self.ctx.relaxed_uuids.append(structures[key].uuid)
            system = _crystal_system(structures[key])
            kept = self.ctx.best_by_system.setdefault(system, [])
            kept.append((per_atom, structures[key].uuid))
            kept.sort()
            del kept[self.parameters.seed_ga_with_best:]
        if best is not None:
            # adaptive volume: the GA searches at the volume of the best oracle structure so far
            volume = structures[best[1]].get_cell_volume()
            if best[0] <= self.ctx.get("best_objective", float("inf")):
                self.ctx.best_objective = best[0]
                self.ctx.search_volume = volume
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        self.report(f"oracle done: {counts}; best {self.ctx.get('best_objective', float('nan')):.4f} eV/atom "
                    f"({self.objective.name.removesuffix('_per_atom')}); "
                    f"{self.ctx.oracle_calls} oracle relaxations so far")

    def _implausible_oracle_results(self) -> dict[str, str]:
        """Key -> reason for every oracle result so far whose objective lies implausibly far below the others'
        (a universal potential's hole): kept out of the GA's seeds, the search volume and the dataset."""
        margin = self.parameters.guards["energy_margin"]
        if margin is None:
            return {}
        results = [(key, self.objective.of_atoms(structure.get_ase(), energy.value))
                   for key, structure, energy in self._oracle_results()]
        found = implausible_energies([value for _, value in results], margin)
        return {results[index][0]: reason for index, reason in found.items()}

    def has_prior(self):
        return "prior" in self.inputs

    def label_frames_with_prior(self):
        """The prior's energies, forces and stresses on the new oracle frames, once (the network learns oracle -
        prior)."""
        frames = oracle_outputs(self.ctx.oracle, "frames")
        self.ctx.frames = {}
        if frames:
            self.ctx.frames = label_frames(self.inputs.prior, **frames,
                                           metadata={"call_link_label": f"prior_{self.ctx.iteration:02d}"})
            self.report(f"{self.inputs.prior['name']} labelled the frames of {len(frames)} oracle batches")

    def update_dataset(self):
        """New oracle frames join the training set (near-duplicates and far-too-high frames left out)."""
        previous = self.ctx.dataset if self.ctx.dataset is not None else DatasetData.empty()
        frames = dict(self.ctx.frames) if "prior" in self.inputs else oracle_outputs(self.ctx.oracle, "frames")
        if self.ctx.model is not None:
            frames["model"] = self.ctx.model
        settings = {**self.parameters.dataset, "excluded_sources": sorted(self.ctx.refused)}
        outputs = update_dataset(previous, orm.Dict(settings), **frames)
        self.ctx.dataset = outputs["dataset"]
        self.ctx.added = outputs["added"]
        self.report(f"dataset: {self.ctx.dataset.n_frames} frames ({self.ctx.added.n_frames} new, "
                    f"{outputs['summary']['not_informative']} of them already predicted by the network and not added)")

    def has_model(self):
        return self.ctx.model is not None

    def check_convergence(self):
        """Out-of-sample RMSE of the previous network on the new oracle frames."""
        settings = {"basin_ev_per_atom": self.parameters.convergence_basin_ev_per_atom,
                    "objective": self.objective.to_dict(), "ga_saturated": self.ctx.ga_saturated}
        result = check_convergence(self.ctx.model, self.ctx.added,
                                   orm.Float(self.parameters.convergence_mev_per_atom), dataset=self.ctx.dataset,
                                   settings=orm.Dict(settings)).get_dict()
        self.ctx.convergence_history.append(_round_mev(result["rmse_mev_per_atom"]))
        self.ctx.converged = bool(result["converged"])
        self.ctx.converged_by = result["converged_by"]
        basin = ""
        if result["n_basin_frames"]:
            basin = (f", {_format_mev(result['rmse_basin_mev_per_atom'])} on the {result['n_basin_frames']} within "
                     f"{self.parameters.convergence_basin_ev_per_atom:g} eV/atom of the lowest")
        verdict = "not converged"
        if result["converged_by"] == "rmse":
            verdict = "converged"
        elif result["converged_by"] == "saturation":
            verdict = "converged (saturated: the GA proposed nothing new and the basin is right)"
        self.report(f"out-of-sample RMSE of the previous network: "
                    f"{_format_mev(result['rmse_mev_per_atom'])} on {result['n_frames']} new frames{basin} "
                    f"-> {verdict}")

    def has_enough_samples(self):
        if self.ctx.dataset.n_frames >= self.parameters.min_samples:
            return True
        if self._loop_budget_spent():
            return self.ctx.dataset.n_frames > 0  # train on what there is rather than stop without a model
        return False

    def train_network(self):
        """Train the atomic-energy network on the current dataset (a CalcJob)."""
        descriptor = dict(self.parameters.descriptor, species=self.ctx.species)
        training = dict(self.parameters.training, seed=self._seed("training", self.ctx.iteration))
        inputs = {
            "code": self.inputs.codes.train,
            "dataset": self.ctx.dataset,
            "parameters": orm.Dict({"descriptor": descriptor, "training": training}),
            **({"prior": self.inputs.prior} if "prior" in self.inputs else {}),
            "metadata": {"options": self._options(threads=2), "call_link_label": f"train_{self.ctx.iteration:02d}"},
        }
        node = self.submit(TrainCalculation, **inputs)
        self.report(f"training the network on {self.ctx.dataset.n_frames} frames -> TrainCalculation<{node.pk}>")
        return ToContext(training=node)

    def inspect_training(self):
        node = self.ctx.training
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(message=f"TrainCalculation<{node.pk}> exit "
                                                                        f"{node.exit_status}")
        self.ctx.model = node.outputs.model
        metrics = node.outputs.metrics.get_dict()
        self.ctx.training_history.append(metrics)
        prior = ""
        if "prior_scale" in metrics:
            prior = (f"; {metrics['prior']['name']} x {metrics['prior_scale']:.3f}"
                     f"{' + network' if metrics.get('network_used', True) else ', network off'}")
        self.report(f"network: validation RMSE {_format_mev(metrics['rmse_validation_mev_per_atom'])}, "
                    f"{metrics['n_train']} training frames, {metrics['epochs']} epochs{prior}")

    def should_search_again(self):
        if self.ctx.converged or self.ctx.iteration >= self.parameters.max_iterations:
            return False
        return not self._loop_budget_spent()

    def _submit_evolution(self, stage: str, systems: list[str], ga: dict, kappa: float = 0.0):
        """One GA CalcJob per crystal system on the current network; the work chain waits for all of them in
        ``ctx.ga_runs``."""
        label = f"ga_{self.ctx.iteration:02d}" if stage == "ga" else stage
        self.ctx.ga_runs = []
        for index, system in enumerate(systems):
            parameters = {
                "composition": self.inputs.composition.value,
                "crystal_system": system,
                "volume": self.ctx.search_volume,
                "seed": self._seed(stage, self.ctx.iteration, index),
                "ga": ga,
                "acquisition_kappa": kappa,
                "objective": self.objective.to_dict(),
                "local": {**self.parameters.local, "guards": self._guards()},
            }
            initial = {f"s{n}": orm.load_node(uuid) for n, (_, uuid) in
                       enumerate(self.ctx.best_by_system.get(system, []))}
            inputs = {
                "code": self.inputs.codes.evolve,
                "model": self.ctx.model,
                "parameters": orm.Dict(parameters),
                "initial_structures": initial,
                "metadata": {"options": self._options(), "call_link_label": f"{label}_{system}"},
            }
            self.to_context(ga_runs=append_(self.submit(EvolveCalculation, **inputs)))
        self.report(f"{label}: GA in {len(systems)} crystal systems on the network")

    def run_evolutionary_search(self):
        """GA per crystal system (all seven, for a general network) on the current network."""
        return self._submit_evolution("ga", list(CRYSTAL_SYSTEMS), self.parameters.ga,
                                      self.parameters.acquisition_kappa)

    def collect_candidates(self):
        """The next oracle batch: the GA recommendations of all systems ranked by E - kappa * sigma, without
        structures the oracle has relaxed already, at most ``oracle_per_iteration`` of them."""
        limit = self.parameters.oracle_per_iteration
        self.ctx.candidates = self._ranked_recommendations(
            {"n_verify": limit if limit else 10**6, "kappa": self.parameters.acquisition_kappa,
             "prefix": f"ga{self.ctx.iteration:02d}", "symprec": 0.1,
             "allocation": self.parameters.oracle_allocation, "objective": self.objective.to_dict(),
             "seed": self._seed("recommendation", self.ctx.iteration)},
            known=[orm.load_node(uuid) for uuid in self.ctx.relaxed_uuids])
        self.report(f"{len(self.ctx.candidates)} new GA candidates for the next oracle batch")
        self.ctx.ga_saturated = not self.ctx.candidates
        if not self.ctx.candidates:
            # the GA found only what the oracle has relaxed: new random symmetric structures test the network out of
            # sample instead (the convergence test needs new oracle data) and widen the search
            random = self._random_structures(f"random{self.ctx.random_rounds}")
            keys = sorted(random)[:limit] if limit else sorted(random)
            self.ctx.candidates = {key: random[key] for key in keys}
            self.report(f"no new GA candidate: {len(self.ctx.candidates)} random symmetric structures instead")

    def _ranked_recommendations(self, settings: dict, known: list | None = None) -> dict:
        inputs = {}
        runs = {node.inputs.parameters["crystal_system"]: node for node in self.ctx.ga_runs}
        for system in (s for s in CRYSTAL_SYSTEMS if s in runs):
            node = runs[system]
            if not node.is_finished_ok:
                self.report(f"GA of {system} failed (exit {node.exit_status}); it proposes nothing")
                continue
            if "structures" not in node.outputs:
                self.report(f"GA of {system} kept no structure (every one stopped by a guard); it proposes nothing")
                continue
            inputs[f"predicted_{system}"] = node.outputs.predicted_energies
            for key, structure in node.outputs.structures.items():
                inputs[f"structure_{system}_{key}"] = structure
        if not any(name.startswith("structure_") for name in inputs):
            return {}
        inputs.update({f"known_{n}": structure for n, structure in enumerate(known or [])})
        outputs = recommend_structures(orm.Dict(settings), **inputs)
        self.ctx.origins.update({key: info["origin"] for key, info in outputs["selection"].get_dict().items()})
        return {k: v for k, v in outputs.items() if k != "selection"}

    def run_final_search(self):
        """GA per crystal system on the final network (only the requested system when one is given)."""
        systems = resolve_crystal_systems(self.inputs.crystal_system.value)
        return self._submit_evolution("final_ga", systems, self.parameters.final_ga)

    def recommend_structures(self):
        """The ``n_verify`` lowest distinct structures of the final GA go to oracle verification."""
        self.ctx.candidates = self._ranked_recommendations({"n_verify": self._budget.verify, "symprec": 0.1,
                                                            "objective": self.objective.to_dict()})
        self.report(f"{len(self.ctx.candidates)} recommended structures go to oracle verification")

    def verify_with_oracle(self):
        """Oracle relaxation of the recommended structures."""
        if not self.ctx.candidates or self._oracle_calls_left(self._budget.refine) == 0:
            return None
        return self._submit_oracle(self.ctx.candidates, "oracle_verification", self._budget.refine)

    def _oracle_results(self):
        """(key, relaxed structure, energy node) of every oracle relaxation so far, batch by batch."""
        for uuid in self.ctx.oracle_runs:
            node = orm.load_node(uuid)
            structures = oracle_outputs(node, "relaxed_structures")
            for key, energy in oracle_outputs(node, "energies").items():
                yield key, structures[key], energy

    def should_refine(self):
        return self._budget.refine > 0 and self._oracle_calls_left() != 0 and bool(self.ctx.oracle_runs)

    def refine_best_structures(self):
        """The lowest distinct oracle structures (within ``refine.energy_window`` of the lowest) relaxed once more
        with tight thresholds and the whole cell free: the energies that are ranked and reported are converged."""
        from ..analysis.compare import unique_indices

        entries = sorted(((self.objective.of_atoms(structure.get_ase(), energy.value), key, structure)
                          for key, structure, energy in self._oracle_results() if key not in self.ctx.refused),
                         key=lambda entry: entry[0])
        if not entries:
            return None
        refine = self.parameters.refine
        keep = unique_indices([entry[2].get_ase() for entry in entries], [entry[0] for entry in entries])
        chosen = [entries[i] for i in keep if entries[i][0] <= entries[0][0] + refine["energy_window"]]
        structures = {f"refined_{key}": structure for _, key, structure in chosen[: self._budget.refine]}
        self.ctx.refined = {key: key.removeprefix("refined_") for key in structures}
        self.ctx.origins.update({key: self.ctx.origins.get(start, "") for key, start in self.ctx.refined.items()})
        self.report(f"tight relaxation of the {len(structures)} lowest distinct structures (fmax "
                    f"{refine['fmax']} eV/Å, whole cell)")
        return self._submit_oracle(structures, "oracle_refinement", tight=True)

    def rank_results(self):
        """Rank every oracle result by energy; duplicates dropped; the summary written."""
        inputs, origins = {}, []
        for key, structure, energy in self._oracle_results():
            inputs[f"structure_{key}"] = structure
            inputs[f"energy_{key}"] = energy
            origins.append([key, self.ctx.origins.get(key, "")])
        refined = {key: start for key, start in self.ctx.refined.items() if f"energy_{key}" in inputs}
        if not inputs:
            return self.exit_codes.ERROR_NO_RESULTS
        last_training = self.ctx.training_history[-1] if self.ctx.training_history else {}
        run_info = {
            "composition": self.inputs.composition.value,
            "engine": self.inputs.engine.value,
            "prior": self.inputs.prior.get_dict() if "prior" in self.inputs else None,
            "protocol": self.inputs.protocol.value,
            "seed": self.inputs.seed.value,
            "crystal_system": self.inputs.crystal_system.value,
            "oracle": {"relaxations": self.ctx.oracle_calls, "ionic_steps": self.ctx.ionic_steps,
                       "wall_s": round(self.ctx.oracle_wall_s, 1)},
            "iterations": self.ctx.iteration,
            "converged": self.ctx.converged,
            "converged_by": self.ctx.converged_by,
            "convergence_history_mev_per_atom": self.ctx.convergence_history,
            "model": {
                "rmse_mev_per_atom": _round_mev(self.ctx.convergence_history[-1] if self.ctx.convergence_history
                                                and self.ctx.convergence_history[-1] is not None
                                                else last_training.get("rmse_validation_mev_per_atom")),
                "validation_rmse_mev_per_atom": _round_mev(last_training.get("rmse_validation_mev_per_atom")),
                "n_train": last_training.get("n_train", 0),
            },
            "volume": {"estimated": round(self.ctx.volume_estimate, 3), "method": self._volume_method(),
                       "eq2": round(self.ctx.volume_node.value, 3)},
            "refinement": {"relaxations": len(self.ctx.refined), "converged": len(refined),
                           "fmax_ev_per_angstrom": self.parameters.refine["fmax"],
                           "max_steps": self.parameters.refine["max_steps"], "cell": "full"},
        }
        n_candidates = max(self._budget.verify, 16)
        outputs = rank_results(
            orm.Dict(run_info),
            orm.Dict({"n_candidates": n_candidates, "symprec": 0.1, "objective": self.objective.to_dict(),
                      "crystal_system": self.inputs.crystal_system.value, "refined": refined,
                      "energy_margin": self.parameters.guards["energy_margin"],
                      "origins": origins}),
            **inputs,
        )
        for key, node in outputs.items():
            if key.startswith("rank_"):
                self.out(f"candidates.{key}", node)
        self.out("summary", outputs["summary"])
        if self.ctx.dataset is not None:
            self.out("dataset", self.ctx.dataset)
        if self.ctx.model is not None:
            self.out("model", self.ctx.model)
        candidates = outputs["summary"]["candidates"]
        if candidates:
            best = candidates[0]
            self.report(f"rank 1: {best['spacegroup_symbol']} ({best['spacegroup_number']}), "
                        f"{best[self.objective.name]:.4f} eV/atom; {len(candidates)} candidates")


def _round_mev(value: float | None) -> float | None:
    """An RMSE in meV/atom as it is reported: to 0.1 meV/atom (None stays None: no frame to measure it on)."""
    return None if value is None else round(float(value), 1)


def _format_mev(value: float | None) -> str:
    return "- (no held-out frames)" if value is None else f"{value:.1f} meV/atom"


def _crystal_system(structure: orm.StructureData) -> str:
    from ..analysis.symmetry import spacegroup

    return spacegroup(structure.get_ase()).crystal_system
