"""``cryspai.population``: the initial population of a search (paper Fig. 1, the first box).

composition -> volume (Eq. 2, or a scan on a potential) -> known structures (the user's seed files, the prototype
library) -> random symmetric structures in the seven crystal systems -> with a prior, many more relaxed on it ->
the first oracle batch.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida.plugins import CalculationFactory

from ..analysis.crystal_systems import CRYSTAL_SYSTEMS
from ..calcfunctions.generation import generate_random_structures
from ..calcfunctions.population import choose_first_batch
from ..calcfunctions.results import rank_results
from ..calcfunctions.templates import generate_template_structures
from ..calcfunctions.volume import estimate_volume, volume_from_scan
from ..engines import get_engine
from ..ml.potentials import CALCULATORS
from ..protocols import ProtocolError, check_parameters, get_protocol
from ..search.composition import CompositionError, parse_composition
from ..search.objective import Objective
from ..search.seeds import stage_seed
from ..search.volume import (
    RANDOM_SCAN_PER_SYSTEM,
    RANDOM_SCAN_RELAX_SETTINGS,
    RANDOM_SCAN_RELAXED,
    SCAN_FACTORS,
    SCAN_TRUST_FLOOR,
    scan_draw_volume,
    trust_floor,
)
from .oracle import OracleWorkChain, oracle_outputs
from .retry import ATTEMPTS, describe, died
from .settings import calcjob_options, guard_settings, pseudopotentials, relaxation_parameters

RelaxCalculation = CalculationFactory("cryspai.relax")

# most known structures whose E(V) is scanned for the starting volume and their order in the first batch
VOLUME_SCAN_STRUCTURES = 64
# structures per screening CalcJob: the screening reports its progress as each group finishes
SCREENING_GROUP_SIZE = 8


def random_structures(composition: orm.Str, volume: float, per_system: int, seed: int, prefix: str,
                      length_scale: float = 1.0, label: str | None = None,
                      max_seconds: float | None = None) -> tuple[dict, orm.Dict]:
    """Random symmetric structures in the seven crystal systems (``generate_random_structures``, called from the
    running work chain) and their origins; ``length_scale`` < 1: the contacts checked as at 0 GPa."""
    outputs = generate_random_structures(
        composition, orm.Float(volume), orm.List(list(CRYSTAL_SYSTEMS)), orm.Int(per_system), orm.Int(seed),
        orm.Str(prefix), **({"length_scale": orm.Float(length_scale)} if length_scale != 1.0 else {}),
        **({"max_seconds": orm.Float(max_seconds)} if max_seconds is not None else {}),
        **({"metadata": {"call_link_label": label}} if label else {}))
    structures = {key: node for key, node in outputs.items() if isinstance(node, orm.StructureData)}
    return structures, outputs["origins"]


class InitialPopulationWorkChain(WorkChain):
    """The starting volume and the first oracle batch of a composition."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("composition", valid_type=orm.Str, help="E.g. 'Si8', 'Ti4O8', 'CaTiO3' (atoms in the cell).")
        spec.input("engine", valid_type=orm.Str, default=lambda: orm.Str("ase:chgnet"), help="The oracle.")
        spec.input("volume", valid_type=orm.Float, required=False, help="Cell volume (Å^3); Eq. 2 if absent.")
        spec.input("seed", valid_type=orm.Int, default=lambda: orm.Int(1), help="Seed of every random choice.")
        spec.input("pressure", valid_type=orm.Float, default=lambda: orm.Float(0.0),
                   help="External hydrostatic pressure (GPa): every relaxation runs under it and every ranking uses "
                        "the enthalpy per atom (E + PV)/N.")
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
        spec.input("options", valid_type=dict, non_db=True, required=False,
                   help="Extra metadata.options for every CalcJob (e.g. resources on a cluster).")
        spec.outline(
            cls.setup,
            cls.estimate_volume,
            if_(cls.has_templates)(cls.generate_template_structures),
            if_(cls.should_scan_volume)(cls.scan_volume, while_(cls.scan_died)(cls.scan_again), cls.choose_volume),
            cls.generate_random_structures,
            if_(cls.should_screen_on_prior)(cls.screen_on_prior, cls.rank_screened_structures),
            cls.choose_first_batch,
        )
        spec.output_namespace("structures", valid_type=orm.StructureData, dynamic=True,
                              help="The first oracle batch.")
        spec.output("summary", valid_type=orm.Dict,
                    help="The batch (key -> origin), the origin of every structure, how the volume was set.")
        spec.output("volume", valid_type=orm.Float, help="The search volume (Å^3).")
        spec.output("eq2_volume", valid_type=orm.Float, help="Eq. 2's volume (or the given one).")
        spec.exit_code(201, "ERROR_INVALID_COMPOSITION", message="Invalid composition: {message}")
        spec.exit_code(206, "ERROR_INVALID_PARAMETERS", message="Invalid parameters: {message}")
        spec.exit_code(410, "ERROR_NO_RANDOM_STRUCTURES", message="No sane random structure drawn: {message}")

    @classmethod
    def get_builder_from_protocol(cls, composition: str, engine: str = "ase:chgnet", protocol: str = "fast",
                                  volume: float | None = None, seed: int = 1, pressure: float = 0.0,
                                  overrides: dict | None = None, prior: dict | None = None,
                                  code: orm.AbstractCode | None = None, computer: str = "localhost"):
        """A builder filled from ``protocol`` with ``overrides`` merged in; ``prior``: a potential's provenance
        (``CALCULATORS[name].provenance()``); ``code``: cryspai-relax (default ``cryspai-relax@computer``)."""
        from ..executables.files import CODE_SCRIPTS

        builder = cls.get_builder()
        builder.composition = orm.Str(composition)
        builder.engine = orm.Str(engine)
        builder.seed = orm.Int(seed)
        builder.protocol = orm.Str(protocol)
        builder.pressure = orm.Float(pressure)
        builder.parameters = orm.Dict(get_protocol(protocol, overrides))
        if prior is not None:
            builder.prior = orm.Dict(prior)
        if volume is not None:
            builder.volume = orm.Float(volume)
        builder.codes.relax = code or orm.load_code(f"{CODE_SCRIPTS['relax']}@{computer}")
        return builder

    # -- helpers ------------------------------------------------------------------------------------------
    @property
    def parameters(self) -> dict:
        return self.inputs.parameters.get_dict()

    def _options(self) -> dict:
        return calcjob_options(self.inputs.get("options"))

    def _seed(self, stage: str, *indices: int) -> int:
        return stage_seed(self.inputs.seed.value, stage, *indices)

    def _guards(self) -> dict:
        return guard_settings(self.parameters, self.inputs.composition.value, self.ctx.volume_estimate,
                              self.ctx.length_scale)

    def _random(self, per_system: int, seed: int, prefix: str, label: str, compressed: bool = True,
                volume: float | None = None) -> dict:
        structures, origins = random_structures(self.inputs.composition, volume or self.ctx.search_volume, per_system,
                                                seed, prefix, self.ctx.length_scale if compressed else 1.0, label,
                                                self.parameters["draw_seconds"])
        self.ctx.origins[label] = origins
        return structures

    # -- outline steps ------------------------------------------------------------------------------------
    def setup(self):
        try:
            self.ctx.species = parse_composition(self.inputs.composition.value).symbols
        except CompositionError as error:
            return self.exit_codes.ERROR_INVALID_COMPOSITION.format(message=str(error))
        try:
            check_parameters(self.parameters)
        except (ProtocolError, ValueError, TypeError) as error:
            return self.exit_codes.ERROR_INVALID_PARAMETERS.format(message=str(error))
        self.ctx.origins = {}  # label of a generator's call -> its origins Dict
        self.ctx.templates = {}
        self.ctx.length_scale = 1.0
        self.ctx.volume_scanned = False
        self.ctx.template_order = None
        self.ctx.screened = None

    def estimate_volume(self):
        """Eq. 2 unless the user gave the volume."""
        if "volume" in self.inputs:
            self.ctx.volume_node = self.inputs.volume
        else:
            pseudos = {}
            if self.parameters["volume_radii"] == "pseudopotentials":
                pseudos = pseudopotentials(self.inputs.engine.value, self.parameters, self.inputs.protocol.value,
                                           self.inputs.composition.value)
            self.ctx.volume_node = estimate_volume(self.inputs.composition,
                                                   orm.Float(self.parameters["volume_adjustment"]), **pseudos)
        self.ctx.search_volume_node = self.ctx.volume_node
        self.ctx.volume_estimate = self.ctx.search_volume = self.ctx.volume_node.value
        self.report(f"cell volume {self.ctx.volume_estimate:.2f} Å^3 for {self.inputs.composition.value}")

    def has_templates(self):
        return self.parameters["templates"]["source"] != "none" or bool(self.inputs.get("seed_structures"))

    def generate_template_structures(self):
        """Known structures: the user's seed structures and the prototype library's structure types of the
        composition, nearest in chemistry first."""
        outputs = generate_template_structures(
            self.inputs.composition, orm.Float(self.ctx.search_volume), orm.Dict(self.parameters["templates"]),
            **self.inputs.get("seed_structures", {}), metadata={"call_link_label": "template_structures"})
        self.ctx.origins["template_structures"] = outputs["origins"]
        self.ctx.templates = {key: node for key, node in outputs.items() if key != "origins"}
        n_seeds = sum(info["origin"].startswith("seed file") for info in outputs["origins"].get_dict().values())
        self.report(f"{len(self.ctx.templates)} known structures ({n_seeds} seed files, "
                    f"{len(self.ctx.templates) - n_seeds} from the prototype library)")

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
        if "volume" in self.inputs or self.parameters["volume_method"] != "scan":
            return False
        if self._scan_potential() is None:
            self.report("no potential for the volume scan computes every element: Eq. 2's volume stays")
            return False
        return True

    def scan_volume(self):
        """E(V) of the known structures (up to 64; without any, of 28 random symmetric ones, the lowest 8 then
        relaxed) scaled from 0.35 to 3.5 x their volume, single points on a potential (a RelaxCalculation in scan
        mode; no oracle relaxation)."""
        structures = {key: self.ctx.templates[key] for key in sorted(self.ctx.templates)[:VOLUME_SCAN_STRUCTURES]}
        name = self._scan_potential()
        parameters = {"calculator": name, "volume_scan": list(SCAN_FACTORS)}
        if not structures:
            structures = self._scan_draws()
            if not structures:
                self.report("no random structure could be drawn for the volume scan: Eq. 2's volume stays")
                self.ctx.volume_scan = None
                return None
            parameters.update({"volume_scan_relax": {"n": RANDOM_SCAN_RELAXED, **RANDOM_SCAN_RELAX_SETTINGS},
                               "guards": self._guards(), "pressure_gpa": self.inputs.pressure.value})
        node = self.submit(RelaxCalculation, code=self.inputs.codes.relax, structures=structures,
                           parameters=orm.Dict(parameters),
                           metadata={"options": self._options(), "call_link_label": "volume_scan"})
        self.ctx.scan_attempts = 1
        relaxed = f", the lowest {RANDOM_SCAN_RELAXED} relaxed" if "volume_scan_relax" in parameters else ""
        self.report(f"volume scan: {len(structures)} {'known' if self.ctx.templates else 'random'} structures x "
                    f"{len(SCAN_FACTORS)} volumes on {name}{relaxed} -> RelaxCalculation<{node.pk}>")
        return ToContext(volume_scan=node)

    def scan_died(self):
        """The scan's CalcJob died (its script killed, its node lost) and has not been run again yet."""
        node = self.ctx.get("volume_scan")
        return node is not None and died(node) and self.ctx.scan_attempts < ATTEMPTS

    def scan_again(self):
        """The dead scan once more, with the same inputs: a death must not change the starting volume."""
        dead = self.ctx.volume_scan
        self.ctx.scan_attempts += 1
        node = self.submit(RelaxCalculation, code=dead.inputs.code, structures=dict(dead.inputs.structures),
                           parameters=dead.inputs.parameters,
                           metadata={"options": self._options(), "call_link_label": "volume_scan"})
        self.report(f"volume scan RelaxCalculation<{dead.pk}> died ({describe(dead)}): again, once -> "
                    f"RelaxCalculation<{node.pk}>")
        return ToContext(volume_scan=node)

    def _scan_draws(self) -> dict:
        """The scan's random structures, at the search volume; where fewer than asked can be drawn there (a volume
        at the composition's floor), all of them at :func:`~..search.volume.scan_draw_volume`."""
        wanted, seed = RANDOM_SCAN_PER_SYSTEM * len(CRYSTAL_SYSTEMS), self._seed("volume_scan")
        structures = self._random(RANDOM_SCAN_PER_SYSTEM, seed, "scan", "volume_scan_structures", compressed=False)
        if len(structures) < wanted:
            volume = scan_draw_volume(parse_composition(self.inputs.composition.value), self.ctx.search_volume)
            self.report(f"{len(structures)} of {wanted} random structures could be drawn at "
                        f"{self.ctx.search_volume:.2f} Å^3: the scan's are drawn at {volume:.2f} Å^3")
            structures = self._random(RANDOM_SCAN_PER_SYSTEM, seed, "scan", "volume_scan_structures_looser",
                                      compressed=False, volume=volume)
        return structures

    def choose_volume(self):
        """The search volume at the lowest minimum of the scans; each scanned known structure at its own."""
        node = self.ctx.volume_scan
        if node is None:
            return
        if not node.is_finished_ok:
            self.report(f"volume scan failed (exit {node.exit_status}): Eq. 2's volume stays")
            return
        scanned = {key: self.ctx.templates[key] for key in node.outputs.results.keys() if key in self.ctx.templates}
        outputs = volume_from_scan(self.ctx.volume_node, node.outputs.results, pressure=self.inputs.pressure,
                                   **scanned, metadata={"call_link_label": "scanned_volume"})
        self.ctx.search_volume_node = outputs["volume"]
        self.ctx.volume_estimate = self.ctx.search_volume = outputs["volume"].value  # the guards' reference too
        self.ctx.volume_scanned = True
        self.ctx.templates.update({key: value for key, value in outputs.items()
                                   if key not in ("volume", "order", "compression")})
        compression = outputs["compression"].value if "compression" in outputs else 1.0
        if "compression" in outputs:
            self.ctx.length_scale = min(1.0, compression ** (1 / 3))
            self.report(f"the pressure compresses the scanned structures to {compression:.3f} of their 0 GPa "
                        f"volume: bond lengths of the geometry guards x {self.ctx.length_scale:.3f}")
        order = outputs["order"].get_list()
        self.ctx.template_order = order + [key for key in sorted(self.ctx.templates) if key not in order]
        floor = trust_floor(self.ctx.volume_node.value, compression)
        if not scanned and abs(self.ctx.search_volume - floor) < 1e-6 * floor:
            self.report(f"the random structures' scan found no plausible minimum above {SCAN_TRUST_FLOOR} x Eq. 2's "
                        "volume (x the pressure's compression; a potential's holes lie in compressed cells): that "
                        "floor is taken")
        at = f" at {self.inputs.pressure.value:g} GPa (enthalpy minimum)" if self.inputs.pressure.value else ""
        how = "" if scanned else ", the lowest of the relaxed random structures"
        self.report(f"cell volume {self.ctx.search_volume:.2f} Å^3 from the scan{at}{how} (Eq. 2: "
                    f"{self.ctx.volume_node.value:.2f})")

    def generate_random_structures(self):
        """Random symmetric structures in all seven crystal systems: the first oracle batch, with known structures
        mixed in (without a prior) or replaced by the screening's choice (with one)."""
        self.ctx.random = self._random(self.parameters["initial_per_system"], self._seed("random", 0), "random0",
                                       "random_structures")
        self.report(f"{len(self.ctx.random)} random symmetric structures over the 7 crystal systems")
        if not self.ctx.random and not self.ctx.templates:
            return self.exit_codes.ERROR_NO_RANDOM_STRUCTURES.format(
                message=f"{self.inputs.composition.value} up to 3.8 x {self.ctx.search_volume:.2f} Å^3")

    def should_screen_on_prior(self):
        return "prior" in self.inputs and self.parameters["screening_per_system"] > 0

    def screen_on_prior(self):
        """Many random symmetric structures relaxed on the prior (not the oracle: no oracle call, no frame in the
        dataset); the first oracle batch is chosen from them."""
        structures = self._random(self.parameters["screening_per_system"], self._seed("screening"), "screen",
                                  "screening_structures")
        structures.update(self.ctx.templates)
        engine = get_engine(f"ase:{self.inputs.prior['name']}")
        parameters = relaxation_parameters(engine, self.parameters, self.inputs.protocol.value, self._guards(),
                                           self.inputs.pressure.value, only=("fmax", "max_steps", "relax_cell"))
        parameters.update({k: v for k, v in self.parameters.get("screening", {}).items() if v is not None})
        node = self.submit(OracleWorkChain, engine=orm.Str(engine.name), structures=structures,
                           parameters=orm.Dict(parameters), code=self.inputs.codes.relax,
                           max_parallel=orm.Int(self.parameters["max_parallel_oracle"]), options=self._options(),
                           group_size=orm.Int(SCREENING_GROUP_SIZE), metadata={"call_link_label": "screening"})
        self.report(f"screening {len(structures)} structures ({len(self.ctx.templates)} known, the rest random "
                    f"symmetric) on the prior {engine.name} -> OracleWorkChain<{node.pk}>")
        return ToContext(screening=node)

    def rank_screened_structures(self):
        """The lowest distinct structures the prior found (symmetrised), as many as the random batch had; where the
        screening gave fewer, the random structures stay."""
        node, wanted = self.ctx.screening, len(self.ctx.random)
        energies = oracle_outputs(node, "energies") if node.is_finished_ok else {}
        structures = oracle_outputs(node, "relaxed_structures") if node.is_finished_ok else {}
        if len(energies) < wanted:
            self.report(f"screening gave {len(energies)} structures, fewer than {wanted}: the first batch stays random")
            return
        inputs = {f"structure_{key}": structures[key] for key in energies}
        inputs.update({f"energy_{key}": energy for key, energy in energies.items()})
        ranked = rank_results(orm.Dict({"stage": "screening on the prior"}),
                              orm.Dict({"n_candidates": wanted, "symprec": 0.1,
                                        "objective": Objective(self.inputs.pressure.value).to_dict(),
                                        "crystal_system": "all",
                                        "energy_margin": self.parameters["guards"]["energy_margin"]}),
                              **inputs, metadata={"call_link_label": "screening_ranking"})
        chosen = {key.replace("rank_", "screened_"): value for key, value in ranked.items() if key.startswith("rank_")}
        if len(chosen) < wanted:
            self.report(f"screening gave {len(chosen)} distinct structures, fewer than {wanted}: the first batch "
                        "stays random")
            return
        self.ctx.screened = chosen
        self.ctx.screened_from = {f"screened_{c['rank']:03d}": c["oracle_key"]
                                  for c in ranked["summary"]["candidates"]}
        self._report_screening(ranked["summary"], len(energies))

    def _report_screening(self, summary: dict, n_relaxed: int) -> None:
        every = {key: info["origin"] for node in self.ctx.origins.values() for key, info in node.get_dict().items()}
        for refused in summary["refused"]:
            self.report(f"screening: {refused['oracle_key']} refused: {refused['reason']}")
        origin = {key: every.get(start, "") for key, start in self.ctx.screened_from.items()}
        best = summary["candidates"][0]
        known = sum(not value.startswith("random") for value in origin.values())
        self.report(f"first oracle batch: the {len(origin)} lowest distinct of {n_relaxed} structures relaxed on "
                    f"the prior ({len(summary['refused'])} more refused as implausible), {known} of them known "
                    f"structures (best {best['spacegroup_symbol']}, {best['energy_per_atom']:.4f} eV/atom on the "
                    f"prior, {origin.get('screened_001')})")
        for candidate in summary["candidates"]:
            key = f"screened_{candidate['rank']:03d}"
            self.report(f"  {key}: {candidate['spacegroup_symbol']} ({candidate['spacegroup_number']}), "
                        f"{candidate['energy_per_atom']:.4f} eV/atom on the prior, {origin[key]}")

    def choose_first_batch(self):
        """The first oracle batch and where each of its structures came from (a calcfunction: in the graph)."""
        settings = {"random_keys": sorted(self.ctx.random), "volume_method": self._volume_method(),
                    "length_scale": self.ctx.length_scale, "mode": "random"}
        pool = dict(self.ctx.random)
        if self.ctx.screened is not None:
            settings.update(mode="screened", screened=self.ctx.screened_from)
            pool = dict(self.ctx.screened)
        elif self.ctx.templates and not self.should_screen_on_prior():
            settings.update(mode="templates", first_batch_fraction=self.parameters["templates"]["first_batch_fraction"],
                            template_order=self.ctx.template_order or sorted(self.ctx.templates))
            pool.update(self.ctx.templates)
        summary = choose_first_batch(orm.Dict(settings), **self.ctx.origins,
                                     metadata={"call_link_label": "first_batch"})
        batch = summary["batch"]
        if settings["mode"] == "templates":
            known = [key for key in batch if key in self.ctx.templates]
            self.report(f"first oracle batch: {len(known)} known structures ({', '.join(batch[k] for k in known)}) "
                        f"and {len(batch) - len(known)} random symmetric ones")
        for key in batch:
            self.out(f"structures.{key}", pool[key])
        self.out("summary", summary)
        self.out("volume", self.ctx.search_volume_node)
        self.out("eq2_volume", self.ctx.volume_node)

    def _volume_method(self) -> str:
        """How the starting volume was set: given, scan or paper (Eq. 2)."""
        if "volume" in self.inputs:
            return "given"
        return "scan" if self.ctx.volume_scanned else "paper"
