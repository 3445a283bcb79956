"""The embedded default profile from nothing (runs through its daemon: tests/reproducibility, two at once).

These run the installed console scripts in a fresh AiiDA configuration folder, as a user would.
"""

import json
from pathlib import Path

from ..commands import BIN
from ..commands import run as _run


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
