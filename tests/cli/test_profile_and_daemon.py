"""The embedded default profile from nothing, and a run through the daemon on aiida-core's ZeroMQ broker.

These run the installed console scripts in a fresh AiiDA configuration folder, as a user would.
"""

import json
import re
import time
from pathlib import Path

import yaml

from ..commands import BIN
from ..commands import run as _run
from ..parameters import TINY


def test_setup_creates_the_embedded_profile_once(fresh_config):
    first = _run([BIN / "cryspai", "setup"], fresh_config)
    assert "Creating the AiiDA profile 'cryspai'" in first.stdout
    second = _run([BIN / "cryspai", "setup"], fresh_config)
    assert "Creating" not in second.stdout
    config = json.loads((Path(fresh_config["AIIDA_PATH"]) / ".aiida" / "config.json").read_text())
    profile = config["profiles"]["cryspai"]
    assert profile["storage"]["backend"] == "core.sqlite_dos"
    assert profile["process_control"]["backend"] == "core.zeromq"
    assert config["default_profile"] == "cryspai"
    codes = _run([BIN / "verdi", "-p", "cryspai", "code", "list", "-a"], fresh_config).stdout
    for script in ("cryspai-relax", "cryspai-train", "cryspai-evolve"):
        assert f"{script}@localhost" in codes
    if Path("/usr/share/abinit/psp").is_dir():
        assert "pseudopotential family: PseudoDojo/0.4/PBE/SR/standard/psp8" in first.stdout
        assert "installed" in first.stdout and "installed" not in second.stdout
        families = _run([BIN / "aiida-pseudo", "-p", "cryspai", "list"], fresh_config).stdout
        assert "PseudoDojo/0.4/PBE/SR/standard/psp8" in families and "PseudoDojo/0.4/LDA/SR/standard/psp8" in families
    other = _run([BIN / "cryspai", "-p", "second", "setup"], fresh_config)
    assert "profile: second" in other.stdout


def test_predict_through_the_daemon(fresh_config, tmp_path):
    _run([BIN / "cryspai", "setup"], fresh_config)
    _run([BIN / "verdi", "-p", "cryspai", "daemon", "start", "1"], fresh_config)
    try:
        parameters = tmp_path / "tiny.yaml"
        parameters.write_text(yaml.safe_dump(TINY))
        start = time.perf_counter()
        submitted = _run([BIN / "cryspai", "predict", "Cu4", "--engine", "ase:emt", "--parameters", str(parameters),
                          "--daemon"], fresh_config)
        assert time.perf_counter() - start < 60  # returns at once, does not wait for the run
        pk = re.search(r"CrySPAIWorkChain<(\d+)>", submitted.stdout).group(1)
        deadline = time.time() + 600
        while True:
            shown = _run([BIN / "cryspai", "show", pk], fresh_config).stdout
            if re.search(r"state: (finished|excepted|killed)", shown):
                break
            assert time.time() < deadline, shown
            time.sleep(5)
        assert "exit_status: 0" in shown, shown
        assert "oracle_relaxations_done" in shown
        _run([BIN / "cryspai", "export", pk, str(tmp_path / "out")], fresh_config)
        results = json.loads((tmp_path / "out" / "results.json").read_text())
        assert results["workchain"]["pk"] == int(pk) and results["candidates"]
    finally:
        _run([BIN / "verdi", "-p", "cryspai", "daemon", "stop"], fresh_config, check=False)
