"""The one schema of the search parameters: every key's type, range or choices, default and description.

The defaults are the paper's (protocol ``precise``); ``main.yaml`` holds only what the smaller protocols change.
Every parameter set, from a protocol, a ``--parameters`` file or a hand-made ``Dict``, is checked here before
anything runs, and the parameter table of ``docs/workchain.md`` is generated from these classes (``python -m
aiida_cryspai.protocols.reference docs/workchain.md``), so the documentation and the code cannot drift.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROTOCOL_NAMES = ("fast", "moderate", "precise")
ORACLE_ALLOCATIONS = ("rank", "spacegroups")
VOLUME_RADII = ("periodic_table", "pseudopotentials")
OPTIMIZERS = ("lbfgs", "adam", "swarm")

PositiveInt = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    """Strict: no unknown keys, no strings for numbers, no floats for counts."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class DatasetParameters(_Section):
    energy_window: float = Field(1.0, gt=0, description="eV/atom above the lowest energy; higher frames are not "
                                                         "trained on.")
    min_energy_change: float = Field(0.002, ge=0, description="eV/atom between kept frames of one relaxation "
                                                               "trajectory.")
    useless_mev_per_atom: float | None = Field(2.0, ge=0, description="New frames the network already predicts "
                                                                      "this well (meV/atom) are not added; null: off.")


class OracleParameters(_Section):
    fmax: float = Field(0.05, gt=0, le=10, description="Force threshold of the ASE engines' relaxations (eV/Å).")
    max_steps: int = Field(300, ge=1, description="Most ionic steps of an ASE engine's relaxation.")
    relax_cell: bool = Field(True, description="ASE engines relax the cell too.")
    dft_protocol: Literal["fast", "moderate", "precise"] | None = Field(
        None, description="Protocol of the DFT engine's own file (protocols/abinit.yaml, vasp.yaml); null: the "
                          "search's protocol.")
    abinit: dict[str, Any] = Field(default_factory=dict, description="Overrides of protocols/abinit.yaml, e.g. "
                                                                    "{kpoints_distance: 0.2, parameters: {ecut: 30}}.")
    vasp: dict[str, Any] = Field(default_factory=dict, description="Overrides of protocols/vasp.yaml, e.g. "
                                 "{potential_family: PBE.64, parameters: {encut: 520}}.")
    prerelax: str | None = Field("ase:chgnet", description="DFT engines: every structure is relaxed by this batch "
                                                          "engine first; null: none.")

    @field_validator("prerelax")
    @classmethod
    def _batch_engine(cls, value: str | None) -> str | None:
        # the form only: that the potential exists is checked with the engines (workchains/request.check_search_inputs)
        if value is not None and not (value.startswith("ase:") and len(value) > 4):
            raise ValueError(f"must be a batch engine (ase:<potential>), got {value}")
        return value


class ScreeningParameters(_Section):
    fmax: float | None = Field(None, gt=0, le=10, description="Force threshold of the screening's relaxations on "
                                                             "the prior (eV/Å); null: the oracle's.")
    max_steps: int | None = Field(None, ge=1, description="Most steps of a screening relaxation on the prior; null: "
                                                          "the oracle's. The screening only ranks: the oracle "
                                                          "relaxes the chosen structures fully.")


class DescriptorParameters(_Section):
    radial_cutoff: float = Field(6.0, gt=0, le=12, description="Cut-off of the radial Chebyshev terms (Å).")
    radial_order: PositiveInt = Field(10, description="Order of the radial Chebyshev expansion.")
    angular_cutoff: float = Field(4.0, gt=0, le=12, description="Cut-off of the angular terms (Å).")
    angular_order: int = Field(6, ge=0, le=20, description="Order of the angular Chebyshev expansion.")
    angular_radial_channels: PositiveInt = Field(4, description="Bond angles resolved by bond length in this many "
                                                                "radial channels (shells).")


class TrainingParameters(_Section):
    hidden: PositiveInt = Field(32, description="Neurons in each of the network's two hidden layers.")
    optimizer: Literal["lbfgs", "adam", "swarm"] = Field(
        "lbfgs", description="lbfgs (full batch), adam (mini-batches) or swarm (particle swarm, then L-BFGS).")
    learning_rate: float = Field(0.003, gt=0, description="Adam's learning rate.")
    max_epochs: PositiveInt = Field(2000, description="Adam epochs, or L-BFGS steps.")
    patience: PositiveInt = Field(40, description="Epochs without a better validation RMSE before stopping "
                                                  "(paper: 40).")
    batch_size: PositiveInt = Field(32, description="Structures per Adam mini-batch.")
    validation_fraction: float = Field(0.15, ge=0, lt=1, description="Fraction of the relaxations held out for "
                                                                     "early stopping.")
    weight_decay: float = Field(1.0e-5, ge=0, description="L2 penalty on the weights.")
    correction_weight_decay: float = Field(1.0e-3, ge=0, description="L2 penalty on the weights of a correction to "
                                                                     "a prior: it must stay small where the oracle's "
                                                                     "data are few (benchmarks: 1e-5 let it spoil "
                                                                     "the prior near the basin).")
    force_weight: float = Field(0.0, ge=0, description="Weight of the force error ((eV/Å)^2) against the energy "
                                                       "error ((eV/atom)^2) in the loss; 0: energies only (the "
                                                       "paper). Descriptor derivatives are computed once per frame "
                                                       "(memory grows with frames x pairs x descriptor length).")
    warm_start: bool = Field(False, description="Each retraining starts from the previous network's weights "
                                                "(where descriptor and width are unchanged) instead of new random "
                                                "ones; the held-out relaxations stay held out as the data grow.")
    ensemble_size: PositiveInt = Field(4, le=32, description="Networks trained from different starts; their "
                                                             "spread is the uncertainty.")


class GAParameters(_Section):
    n_trial: int = Field(64, ge=2, description="Trial set per crystal system (the paper's N_trial).")
    n_generations: int = Field(10, ge=0, description="Generations per GA run.")
    n_replace: PositiveInt = Field(16, description="Best offspring that replace the worst trial structures.")
    n_offspring: PositiveInt = Field(32, description="Offspring made per generation.")
    n_recommend: PositiveInt = Field(16, description="Lowest distinct structures recommended per crystal system "
                                                     "(the paper's N_p).")
    max_energy_per_atom: float | None = Field(None, description="Discard structures above this energy (eV/atom); "
                                                                "null: off.")
    aenergy: dict[str, float] | None = Field(None, description="The paper's filter, per species: {Si: -4.5} "
                                                               "discards E > sum_i N_i aenergy_i.")

    @model_validator(mode="after")
    def _counts_fit(self) -> GAParameters:
        if self.n_replace > self.n_offspring:
            raise ValueError(f"n_replace ({self.n_replace}) cannot exceed n_offspring ({self.n_offspring})")
        return self


class FinalGAParameters(GAParameters):
    n_generations: int = Field(20, ge=0, description="Generations per GA run.")


class LocalParameters(_Section):
    fmax: float = Field(0.05, gt=0, le=10, description="Force threshold of the local optimisation on the "
                                                       "network (eV/Å).")
    max_steps: PositiveInt = Field(60, description="Most steps of a local optimisation on the network.")
    relax_cell: bool = Field(True, description="The local optimisation relaxes the cell too.")


class RefineParameters(_Section):
    n_candidates: int = Field(5, ge=0, le=100, description="The lowest distinct oracle structures relaxed once more "
                                                          "with tight thresholds before ranking, so that ranked "
                                                          "energies are converged (to <= 1 meV/atom); 0: none.")
    fmax: float = Field(0.005, gt=0, le=1, description="Force threshold of the tight relaxation (eV/Å): ASE engines "
                                                      "apply it to the cell too (stress x volume / atoms, ASE's "
                                                      "FrechetCellFilter); Abinit: tolmxf; VASP: EDIFFG = -fmax.")
    max_steps: PositiveInt = Field(500, description="Most ionic steps of a tight relaxation.")
    energy_window: float = Field(0.1, gt=0, description="Only structures within this of the lowest are refined "
                                                        "(eV/atom).")


class TemplatesParameters(_Section):
    source: Literal["prototypes", "none"] = Field(
        "prototypes", description="Known structure types as starting points: prototypes (pymatgen's AFLOW library, "
                                  "decorated with the composition's elements; lowest on the volume scan's potential "
                                  "first, nearest in chemistry without a scan) or none. "
                                  "Seed structures given by the user are used either way.")
    first_batch_fraction: float = Field(
        0.5, ge=0, le=1, description="Without a prior: the share of the first oracle batch the known structures "
                                     "take (seed files first, then prototypes); the rest stays random symmetric. "
                                     "With a prior they are screened with the random structures and compete for "
                                     "every place.")


class GuardParameters(_Section):
    contact_factor: float = Field(
        0.65, gt=0, le=1.5, description="A relaxed structure with a pair closer than this x the sum of "
                                                  "covalent radii is refused (0.65: below every real crystal of the "
                                                  "AFLOW library).")
    energy_margin: float | None = Field(
        2.0, gt=0, description="A relaxed structure more than this (eV/atom; or 6 robust deviations) below "
                                         "the median of its batch or ranking (of their densest cluster, 2 x this "
                                         "wide, where they spread as no real structures do) is refused as a hole "
                                         "of the potential; null: off.")
    repulsion: float = Field(
        100.0, ge=0, description="Strength (eV per pair) of a short-range repulsion added while "
                                              "potentials relax, zero beyond the contact floor (sane structures are "
                                              "untouched); 0: off.")


class SearchParameters(_Section):
    """Every parameter of ``CrySPAIWorkChain`` (input ``parameters``)."""

    volume_method: Literal["scan", "paper"] = Field(
        "scan", description="Starting volume: scan (E(V) of the first known structures, or of random symmetric ones "
                            "without any, on a potential: the prior, an ASE oracle itself, else CHGNet; the lowest "
                            "minimum) or paper (Eq. 2). Eq. 2 is the scan's reference either way.")
    volume_adjustment: float = Field(1.2, gt=0, le=10, description="A of Eq. 2 (the paper's 1.2).")
    volume_radii: Literal["periodic_table", "pseudopotentials"] = Field(
        "periodic_table", description="R of Eq. 2: periodic_table, or pseudopotentials (core radii; DFT engines).")
    guard_volume_range: list[float] = Field(
        [0.2, 6.0], min_length=2, max_length=2,
        description="Relaxations are abandoned outside [low, high] x the estimated volume per atom.")
    initial_per_system: PositiveInt = Field(16, description="Random symmetric structures per crystal system in "
                                                            "the first oracle batch.")
    draw_seconds: float = Field(60.0, gt=0, description="Seconds one random symmetric draw (a space group and its "
                                                        "Wyckoff choice) may take over its attempts; a choice over it "
                                                        "is skipped and recorded (skipped_choices).")
    screening_per_system: int = Field(128, ge=0, description="With a prior: random symmetric structures per crystal "
                                                             "system relaxed on the prior first; the best distinct "
                                                             "ones make the first oracle batch. 0: no screening.")
    max_iterations: PositiveInt = Field(20, description="Most oracle -> dataset -> network -> GA loops.")
    convergence_mev_per_atom: float = Field(8.0, gt=0, description="Converged when the previous network's "
                                                                   "out-of-sample RMSE on the new oracle results is "
                                                                   "below this (meV/atom).")
    convergence_basin_ev_per_atom: float = Field(0.2, ge=0, description="Also converged when the GA proposed "
                                                 "nothing the oracle had not relaxed and the previous network's "
                                                 "out-of-sample RMSE on the new frames within this much of the "
                                                 "lowest energy (enthalpy) per atom is below the threshold "
                                                 "(saturation). 0: the paper's test alone.")
    stop_patience: int = Field(0, ge=0, description="Also stop the loop when the best oracle objective has moved by "
                               "no more than stop_tolerance_mev_per_atom over this many oracle batches and no GA "
                               "recommendation's prediction less its ensemble spread lies lower (converged_by "
                               "search). 0: the paper's test alone.")
    stop_tolerance_mev_per_atom: float = Field(1.0, gt=0, description="What counts as no move of the best, and as no "
                                               "promise below it, for stop_patience (meV/atom).")
    min_samples: PositiveInt = Field(2000, description="Dataset frames needed before the first training.")
    n_verify: PositiveInt = Field(16, description="Final recommendations relaxed by the oracle.")
    max_parallel_oracle: PositiveInt = Field(2, description="Oracle CalcJobs at once.")
    seed_ga_with_best: int = Field(2, ge=0, description="Best oracle structures of a crystal system that join its "
                                                        "GA trial set.")
    acquisition_kappa: float = Field(1.0, ge=0, description="GA candidates for the oracle are ranked by "
                                                            "E - kappa x ensemble spread.")
    oracle_per_iteration: PositiveInt | None = Field(None, description="Best-ranked GA candidates relaxed by the "
                                                                       "oracle per loop; null: all (7 x N_p).")
    oracle_allocation: Literal["rank", "spacegroups"] = Field(
        "rank", description="rank: best E - kappa sigma of all systems; spacegroups: a system drawn per place with "
                            "the random search's odds, then its best.")
    dataset: DatasetParameters = Field(default_factory=DatasetParameters, description="What enters the training "
                                                                                      "set.")
    oracle: OracleParameters = Field(default_factory=OracleParameters, description="The oracle's relaxations.")
    screening: ScreeningParameters = Field(default_factory=ScreeningParameters,
                                           description="The screening's relaxations on the prior.")
    descriptor: DescriptorParameters = Field(default_factory=DescriptorParameters,
                                             description="Chebyshev descriptors of the atomic environments.")
    training: TrainingParameters = Field(default_factory=TrainingParameters, description="Training of the "
                                                                                        "network ensemble.")
    ga: GAParameters = Field(default_factory=GAParameters, description="The GA inside the loop, per crystal "
                                                                       "system.")
    final_ga: FinalGAParameters = Field(default_factory=FinalGAParameters, description="The GA on the final "
                                                                                       "network, per crystal system.")
    local: LocalParameters = Field(default_factory=LocalParameters, description="Local optimisation on the "
                                                                                "network inside the GA.")
    templates: TemplatesParameters = Field(default_factory=TemplatesParameters, description="Known structures "
                                                                                           "as starting points.")
    guards: GuardParameters = Field(default_factory=GuardParameters, description="What a relaxed structure must "
                                                                             "pass to be ranked, chosen or "
                                                                             "trained on.")
    refine: RefineParameters = Field(default_factory=RefineParameters, description="The tight oracle relaxation "
                                                                                   "of the best candidates before "
                                                                                   "ranking (full cell).")

    @field_validator("guard_volume_range")
    @classmethod
    def _range(cls, value: list[float]) -> list[float]:
        low, high = value
        if not 0 < low < 1 < high:
            raise ValueError(f"needs 0 < low < 1 < high, got [{low}, {high}]")
        return value


def format_error(error: ValidationError) -> str:
    """One line per problem: the dotted key, what is wrong, what was given."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "parameters"
        message = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        shown = "" if isinstance(given, dict) or item["type"] in ("missing", "value_error") else f" (got {given!r})"
        lines.append(f"{key}: {message}{shown}")
    return "; ".join(lines)


def default_parameters() -> dict:
    """Every parameter with its default (the paper's values)."""
    return SearchParameters().model_dump()


def validate_parameters(parameters: dict) -> dict:
    """``parameters`` checked against the schema, with defaults filled in; raises ``ValueError`` whose message
    names each bad key by its dotted name."""
    try:
        return SearchParameters.model_validate(parameters).model_dump()
    except ValidationError as error:
        raise ValueError(f"invalid parameters: {format_error(error)}") from None
