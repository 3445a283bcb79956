"""The files a CalcJob and its script exchange, named once: the CalcJob writes the inputs, the script reads them and
writes the outputs, the parser reads those."""

PARAMETERS = "parameters.json"  # every script: its parameters
VERSIONS = "versions.json"  # every script: the versions of the packages it ran with
MODEL = "model.pt"  # cryspai-train's output; cryspai-evolve's and cryspai-relax's (network) input

STRUCTURES = "structures.xyz"  # cryspai-relax: the structures to relax (extxyz, ``key`` in each frame's info)
RELAXED = "relaxed.xyz"  # cryspai-relax: the relaxed structures
RESULTS = "results.json"  # cryspai-relax: per key, status, energy, steps, ...
FRAMES = "frames.npz"  # cryspai-relax: every frame visited, with energies, forces and stresses

DATASET = "dataset.npz"  # cryspai-train: the dataset's arrays
METRICS = "metrics.json"  # cryspai-train: the training's metrics
START_MODEL = "start.pt"  # cryspai-train: the previous network, to train on from (optional)

INITIAL = "initial.xyz"  # cryspai-evolve: structures that seed the population (optional)
RECOMMENDED = "recommended.xyz"  # cryspai-evolve: the recommended structures
EVOLVE = "evolve.json"  # cryspai-evolve: the GA's summary

# the console scripts of the CalcJobs, by the name of the code a search takes (codes.relax, codes.train, ...)
CODE_SCRIPTS = {"relax": "cryspai-relax", "train": "cryspai-train", "evolve": "cryspai-evolve"}
