"""Ctrl-C (SIGINT) or SIGTERM on a foreground ``cryspai predict`` stops the whole run: the work chain is killed,
every job it started is killed through the scheduler and is gone when the command exits, no traceback, no
results."""

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from ..commands import BIN
from ..commands import run as _run
from ..parameters import TINY

# one oracle batch, then a training that would run for many minutes: interrupted while its CalcJob runs
LONG_TRAINING = {**TINY, "training": {"max_epochs": 100000, "patience": 100000, "hidden": 64}}


def _jobs_below(folder: Path) -> list[psutil.Process]:
    """Processes running in a CalcJob's working folder of this configuration (the localhost computer's scratch)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if str(folder) in process.cwd():
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.mark.parametrize("number", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_interrupt_kills_the_run_and_every_job(fresh_config, tmp_path, number):
    _run([BIN / "cryspai", "setup"], fresh_config)
    parameters = tmp_path / "long.yaml"
    parameters.write_text(yaml.safe_dump(LONG_TRAINING))
    output = tmp_path / "out"
    command = [str(BIN / "cryspai"), "predict", "Cu4", "--engine", "ase:emt", "--parameters", str(parameters),
               "--output", str(output)]
    process = subprocess.Popen(command, env=fresh_config, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines = []
    deadline = time.time() + 300
    for line in process.stdout:
        lines.append(line)
        if "TrainCalculation<" in line:
            break
        assert time.time() < deadline, "".join(lines)
    assert process.poll() is None, "".join(lines)
    scratch = Path(fresh_config["AIIDA_PATH"]) / ".aiida" / "scratch"
    while not _jobs_below(scratch):  # the training job has started
        assert time.time() < deadline, "".join(lines)
        time.sleep(0.5)
    process.send_signal(number)
    try:
        rest, _ = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:  # a hung interrupt: leave nothing running behind the failure
        for job in [process, *_jobs_below(scratch)]:
            job.kill()
        raise
    text = "".join(lines) + rest
    assert process.returncode == 128 + number, text
    assert "was interrupted" in text and "Traceback" not in text, text
    assert not _jobs_below(scratch), [p.cmdline() for p in _jobs_below(scratch)]
    assert not output.exists() or not any(output.iterdir())
    pk = text.split("CrySPAIWorkChain<")[-1].split(">")[0]
    shown = _run([BIN / "cryspai", "show", pk], fresh_config).stdout
    assert "state: killed" in shown, shown
    listed = _run([BIN / "verdi", "process", "list", "-a", "-P", "pk", "state"], fresh_config).stdout
    assert "Running" not in listed and "Waiting" not in listed and "Created" not in listed, listed
