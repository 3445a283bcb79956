"""``cryspai-train``: train the atomic-energy network on a dataset.

Reads ``dataset.npz`` and ``parameters.json`` (``descriptor`` and ``training`` settings, ``prior``: the name of a
universal potential whose correction the network learns, or absent) and optionally ``start.pt`` (the previous
network: each of its networks that fits is trained on from its weights); writes ``model.pt`` and ``metrics.json``.
"""

from __future__ import annotations

import os

from . import files
from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-train", __doc__, {"dataset": files.DATASET, "output": files.MODEL}, argv)

    from ..ml.dataset import load_arrays
    from ..ml.descriptors import DescriptorSettings
    from ..ml.network import load_potential
    from ..ml.prior import train_correction
    from ..ml.training import TrainingSettings, train

    arrays = load_arrays(args.dataset)
    prior = parameters.get("prior")
    descriptor = DescriptorSettings(**parameters["descriptor"])
    settings = TrainingSettings(**parameters.get("training", {}))
    start = load_potential(files.START_MODEL) if os.path.exists(files.START_MODEL) else None
    log(f"training on {len(arrays['energies'])} frames from {len(set(arrays['groups'].tolist()))} relaxations"
        f"{', from the previous network' if start is not None else ''}")
    if prior:
        log(f"learning the correction to the prior {prior}")  # labelled by it where the dataset is not yet
        model, metrics = train_correction(arrays, descriptor, settings, prior, log=log, start=start)
    else:
        model, metrics = train(arrays, descriptor, settings, log=log, start=start)
    model.save(args.output, metrics)
    write_json(files.METRICS, metrics)
    log(f"validation RMSE {metrics['rmse_validation_mev_per_atom']} meV/atom after {metrics['epochs']} epochs")


if __name__ == "__main__":
    main()
