"""A fresh AiiDA configuration folder for the tests that run the console scripts as a user would."""

import os

import pytest

from ..commands import BIN


@pytest.fixture
def fresh_config(tmp_path):
    env = dict(os.environ)
    env["AIIDA_PATH"] = str(tmp_path / "config")
    # as in an activated virtual environment: the daemon starts its workers through `verdi` found on PATH
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env
