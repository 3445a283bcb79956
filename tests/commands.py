"""Running the installed console scripts (``cryspai``, ``verdi``) as a user's shell would, for the tests."""

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(args, env, timeout=300, check=True) -> subprocess.CompletedProcess:
    """Run ``args`` in ``env``; a non-zero exit fails the test with the command's output."""
    result = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result

# a CalcJob's ``prepend_text`` that kills its script part-way the first time only: the job's shell bounds the
# script's CPU time to 1 s and the kernel ends it (SIGXCPU), as the OOM killer would; ``marker`` records the first
KILL_FIRST = "if [ ! -e {marker} ]; then touch {marker}; ulimit -t 1; fi"
