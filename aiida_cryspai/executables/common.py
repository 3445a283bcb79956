"""What the console scripts share: thread limits and JSON I/O."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import files

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# the packages whose versions can change a result of the scripts
RESULT_PACKAGES = ("aiida-cryspai", "numpy", "scipy", "torch", "ase", "chgnet", "pymatgen", "spglib", "pyxtal",
                   "matscipy")


def package_versions() -> dict[str, str]:
    """Python and the installed versions of :data:`RESULT_PACKAGES` (``None`` when one is not installed)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in RESULT_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def limit_threads(threads: int) -> None:
    """Use ``threads`` threads in torch and BLAS: several jobs share a machine (oversubscription is 5-15x slower)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(max(1, threads))


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True))


def log(message: str) -> None:
    print(message, flush=True, file=sys.stdout)


def limit_memory(kilobytes: int) -> None:
    """Bound this process's address space (``RLIMIT_AS``) to ``kilobytes``: an allocation beyond it fails with a
    MemoryError that the relaxer records as that structure's ``memory`` status, instead of the machine swapping."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = kilobytes * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def start_script(
    prog: str, description: str, file_options: dict[str, str], argv: list[str] | None
) -> tuple[argparse.Namespace, dict]:
    """Parse the file options of a script, read its ``parameters.json``, limit its threads and (on the CPU) its
    memory, choose its device."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--parameters", default=files.PARAMETERS)
    for name, default in file_options.items():
        parser.add_argument(f"--{name}", default=default)
    args = parser.parse_args(argv)
    parameters = read_json(args.parameters)
    limit_threads(int(parameters.get("threads", 1)))
    from ..ml.device import DeviceError, use_device

    try:
        device = use_device(parameters.get("device", "cpu"))
    except DeviceError as error:
        raise SystemExit(f"{prog}: {error}") from None
    # a bound on the address space would also bound what a GPU's driver maps, so it holds on the CPU only
    if parameters.get("max_memory_kb") and device == "cpu":
        limit_memory(int(parameters["max_memory_kb"]))
    write_json(files.VERSIONS, {**package_versions(), "device": device})
    return args, parameters
