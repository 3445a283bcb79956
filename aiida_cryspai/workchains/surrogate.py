"""``cryspai.surrogate``: the network learns from a new oracle batch (paper Fig. 1, "update dataset", "check
convergence", "train").

new oracle frames -> (with a prior: its labels on them) -> dataset update -> out-of-sample RMSE of the previous
network on the new frames -> training of the next network.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida.plugins import CalculationFactory

from ..calcfunctions.convergence import check_convergence
from ..calcfunctions.dataset import update_dataset
from ..calcfunctions.prior import label_frames
from ..data.dataset import DatasetData
from ..protocols import get_protocol
from ..search.composition import parse_composition
from .retry import ATTEMPTS, describe, died
from .settings import calcjob_options

TrainCalculation = CalculationFactory("cryspai.train")


class SurrogateWorkChain(WorkChain):
    """Adds new oracle frames to the dataset, tests the previous network on them and trains the next one."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("composition", valid_type=orm.Str, help="The composition (the network's species).")
        spec.input_namespace("frames", valid_type=DatasetData, dynamic=True, required=False,
                             help="The new oracle frames.")
        spec.input("dataset", valid_type=DatasetData, required=False, help="The dataset so far (none: empty).")
        spec.input("model", valid_type=orm.SinglefileData, required=False,
                   help="The previous network: tested on the new frames, and frames it already predicts are left out.")
        spec.input("prior", valid_type=orm.Dict, required=False,
                   help="The universal potential under the network: it labels the frames, the network learns the "
                        "oracle's correction to it.")
        spec.input("parameters", valid_type=orm.Dict,
                   help="The search parameters (dataset, descriptor, training, min_samples, convergence_*).")
        spec.input("settings", valid_type=orm.Dict, default=lambda: orm.Dict({}),
                   help="This update's: excluded_sources (oracle keys refused), objective, ga_saturated, "
                        "training_seed, train_below_min_samples (train on what there is).")
        spec.input_namespace("codes", help="Codes of the console scripts.")
        spec.input("codes.train", valid_type=orm.AbstractCode, help="cryspai-train.")
        spec.input("options", valid_type=dict, non_db=True, required=False,
                   help="Extra metadata.options for the training CalcJob.")
        spec.outline(
            if_(cls.has_prior)(cls.label_frames_with_prior),
            cls.update_dataset,
            if_(cls.has_model)(cls.check_convergence),
            if_(cls.has_enough_samples)(
                while_(cls.training_to_run)(cls.train_network, cls.inspect_training),
            ),
        )
        spec.output("dataset", valid_type=DatasetData, help="The dataset with the new frames.")
        spec.output("added", valid_type=DatasetData, help="The new frames (all of them: the convergence test's).")
        spec.output("convergence", valid_type=orm.Dict, required=False,
                    help="The previous network's out-of-sample test on the new frames.")
        spec.output("model", valid_type=orm.SinglefileData, required=False, help="The network trained now.")
        spec.output("metrics", valid_type=orm.Dict, required=False, help="Its training metrics.")
        spec.exit_code(402, "ERROR_TRAINING_FAILED", message="Training the network failed: {message}")

    @classmethod
    def get_builder_from_protocol(cls, composition: str, frames: dict, protocol: str = "fast",
                                  overrides: dict | None = None, code: orm.AbstractCode | None = None,
                                  computer: str = "localhost"):
        """A builder for ``frames`` (label -> DatasetData) with the parameters of ``protocol``."""
        from ..executables.files import CODE_SCRIPTS

        builder = cls.get_builder()
        builder.composition = orm.Str(composition)
        builder.frames = frames
        builder.parameters = orm.Dict(get_protocol(protocol, overrides))
        builder.codes.train = code or orm.load_code(f"{CODE_SCRIPTS['train']}@{computer}")
        return builder

    @property
    def parameters(self) -> dict:
        return self.inputs.parameters.get_dict()

    def has_prior(self):
        return "prior" in self.inputs

    def label_frames_with_prior(self):
        """The prior's energies, forces and stresses on the new oracle frames the dataset may take, once (the
        network learns oracle - prior)."""
        self.ctx.frames = {}
        if self.inputs.get("frames"):
            n_frames = sum(node.n_frames for node in self.inputs.frames.values())
            self.ctx.frames = label_frames(self.inputs.prior, self._previous(), orm.Dict(self._dataset_settings()),
                                           **self.inputs.frames, metadata={"call_link_label": "prior"})
            n_labelled = sum(node.n_frames for node in self.ctx.frames.values())
            self.report(f"{self.inputs.prior['name']} labelled {n_labelled} of the {n_frames} new frames (the rest "
                        "thinned out of their trajectories or above the energy window)")

    def _previous(self) -> DatasetData:
        """The dataset so far; without one, one empty dataset node (stored once, input of both stages)."""
        if "dataset" in self.inputs:
            return self.inputs.dataset
        if "empty_dataset" not in self.ctx:
            self.ctx.empty_dataset = DatasetData.empty().store()
        return self.ctx.empty_dataset

    def _dataset_settings(self) -> dict:
        return {**self.parameters["dataset"], "excluded_sources": self.inputs.settings.get("excluded_sources", [])}

    def update_dataset(self):
        """New oracle frames join the training set (near-duplicates and far-too-high frames left out)."""
        frames = dict(self.ctx.frames) if "prior" in self.inputs else dict(self.inputs.get("frames", {}))
        if "model" in self.inputs:
            frames["model"] = self.inputs.model
        outputs = update_dataset(self._previous(), orm.Dict(self._dataset_settings()), **frames,
                                 metadata={"call_link_label": "dataset"})
        self.ctx.dataset, self.ctx.added = outputs["dataset"], outputs["added"]
        self.out("dataset", outputs["dataset"])
        self.out("added", outputs["added"])
        self.report(f"dataset: {self.ctx.dataset.n_frames} frames ({outputs['added'].n_frames} new, "
                    f"{outputs['summary']['not_informative']} of them already predicted by the network and not added)")

    def has_model(self):
        return "model" in self.inputs

    def check_convergence(self):
        """Out-of-sample RMSE of the previous network on the new oracle frames."""
        parameters, settings = self.parameters, self.inputs.settings
        options = {"basin_ev_per_atom": parameters["convergence_basin_ev_per_atom"],
                   "objective": settings.get("objective"), "ga_saturated": settings.get("ga_saturated", False)}
        result = check_convergence(self.inputs.model, self.ctx.added,
                                   orm.Float(parameters["convergence_mev_per_atom"]), dataset=self.ctx.dataset,
                                   settings=orm.Dict(options), metadata={"call_link_label": "convergence"})
        self.out("convergence", result)
        verdict = {"rmse": "converged", "saturation": "converged (saturated: the GA proposed nothing new and the "
                                                      "basin is right)"}.get(result["converged_by"], "not converged")
        basin = ""
        if result["n_basin_frames"]:
            basin = (f", {format_mev(result['rmse_basin_mev_per_atom'])} on the {result['n_basin_frames']} within "
                     f"{parameters['convergence_basin_ev_per_atom']:g} eV/atom of the lowest")
        self.report(f"out-of-sample RMSE of the previous network: {format_mev(result['rmse_mev_per_atom'])} on "
                    f"{result['n_frames']} new frames{basin} -> {verdict}")

    def has_enough_samples(self):
        if self.ctx.dataset.n_frames >= self.parameters["min_samples"]:
            return True
        # the loop's budget is spent: train on what there is rather than stop without a model
        return bool(self.inputs.settings.get("train_below_min_samples")) and self.ctx.dataset.n_frames > 0

    def training_to_run(self):
        """No network yet: a first training, or a second after one whose process died."""
        return "trained" not in self.ctx

    def train_network(self):
        """Train the atomic-energy network on the current dataset (a CalcJob)."""
        self.ctx.training_attempts = self.ctx.get("training_attempts", 0) + 1
        species = parse_composition(self.inputs.composition.value).symbols
        descriptor = dict(self.parameters["descriptor"], species=species)
        training = dict(self.parameters["training"], seed=self.inputs.settings.get("training_seed", 0))
        warm = bool(training.get("warm_start")) and "model" in self.inputs
        inputs = {
            "code": self.inputs.codes.train,
            "dataset": self.ctx.dataset,
            "parameters": orm.Dict({"descriptor": descriptor, "training": training}),
            **({"prior": self.inputs.prior} if "prior" in self.inputs else {}),
            **({"start_model": self.inputs.model} if warm else {}),
            "metadata": {"options": calcjob_options(self.inputs.get("options"), threads=2),
                         "call_link_label": "train"},
        }
        node = self.submit(TrainCalculation, **inputs)
        self.report(f"training the network on {self.ctx.dataset.n_frames} frames"
                    f"{', from the previous one' if warm else ''} -> TrainCalculation<{node.pk}>")
        return ToContext(training=node)

    def inspect_training(self):
        node = self.ctx.training
        if died(node) and self.ctx.training_attempts < ATTEMPTS:
            self.report(f"TrainCalculation<{node.pk}> died ({describe(node)}): training again, once")
            return None
        self.ctx.trained = node.is_finished_ok
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(message=f"TrainCalculation<{node.pk}> exit "
                                                                        f"{node.exit_status}")
        metrics = node.outputs.metrics.get_dict()
        self.out("model", node.outputs.model)
        self.out("metrics", node.outputs.metrics)
        prior = ""
        if "prior_scale" in metrics:
            prior = (f"; {metrics['prior']['name']} x {metrics['prior_scale']:.3f}"
                     f"{' + network' if metrics.get('network_used', True) else ', network off'}")
        self.report(f"network: validation RMSE {format_mev(metrics['rmse_validation_mev_per_atom'])}, "
                    f"{metrics['n_train']} training frames, {metrics['epochs']} epochs{prior}")


def format_mev(value: float | None) -> str:
    """An RMSE in meV/atom as the log prints it."""
    return "- (no held-out frames)" if value is None else f"{value:.1f} meV/atom"
