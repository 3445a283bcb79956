"""``cryspai train`` and ``cryspai evaluate``: the network on the user's own extxyz data (no AiiDA needed)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np


def read_labelled(path: str) -> list:
    """Structures with energies (eV) from an extxyz file as ASE writes it."""
    from ase.io import read

    try:
        structures = read(path, index=":", format="extxyz")
    except Exception as error:  # ASE raises several types for a malformed file
        raise click.ClickException(f"{path} is not a readable extxyz file: {error}") from None
    for index, atoms in enumerate(structures):
        if atoms.calc is None or "energy" not in atoms.calc.results:
            raise click.ClickException(f"{path}: structure {index} has no energy")
    if not structures:
        raise click.ClickException(f"{path} holds no structures")
    return structures


@click.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Where to write the model (.pt).")
@click.option("--protocol", default="fast", show_default=True, help="Descriptor and training settings.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--prior", default="none", show_default=True,
              help="Universal potential under the network (ase:chgnet, ase:sevennet): the network learns the "
                   "correction DATA - prior; none: the network alone.")
def train_command(data, output, protocol, seed, prior):
    """Train the atomic-energy network on DATA (extxyz with energies in eV; info 'group' keeps a trajectory
    together in the validation split). Prints the training metrics as JSON."""
    from ..ml.dataset import frames_to_arrays
    from ..ml.descriptors import DescriptorSettings
    from ..ml.prior import PriorError, check_prior, train_correction
    from ..ml.training import TrainingSettings, train
    from ..protocols import ProtocolError, get_protocol

    try:
        parameters = get_protocol(protocol)
    except ProtocolError as error:
        raise click.UsageError(str(error)) from None
    structures = read_labelled(data)
    species = sorted({s for atoms in structures for s in atoms.get_chemical_symbols()})
    groups = np.array([int(a.info.get("group", index)) for index, a in enumerate(structures)])
    descriptor = DescriptorSettings(species=species, **parameters["descriptor"])
    settings = TrainingSettings(**{**parameters["training"], "seed": seed})
    prior_name = None if prior == "none" else prior.removeprefix("ase:")
    try:
        check_prior(prior_name, "data", species)
    except PriorError as error:
        raise click.BadParameter(str(error), param_hint="--prior") from None
    arrays = frames_to_arrays(structures, groups)
    if prior_name is None:
        model, metrics = train(arrays, descriptor, settings, log=lambda m: None)
    else:
        model, metrics = train_correction(arrays, descriptor, settings, prior_name, log=lambda m: None)
    model.save(output, metrics)
    click.echo(json.dumps({**metrics, "model": str(Path(output))}))


@click.command("evaluate")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
def evaluate_command(model, data):
    """Errors of MODEL on DATA (extxyz): one JSON object with rmse_mev_per_atom, mae_mev_per_atom, n_structures
    and, when DATA has forces, force_rmse_ev_per_angstrom."""
    from ..ml.evaluation import evaluate
    from ..ml.prior import PriorError, load_surrogate

    try:
        network = load_surrogate(model)
    except PriorError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # torch raises several types for a file that is not a model
        raise click.ClickException(f"{model} is not a cryspai model: {error}") from None
    species = (network.correction if hasattr(network, "correction") else network).settings.species
    structures = read_labelled(data)
    unknown = sorted({s for a in structures for s in a.get_chemical_symbols()} - set(species))
    if unknown:
        raise click.ClickException(f"the model knows {species}; {data} also has {unknown}")
    click.echo(json.dumps(evaluate(network, structures)))
