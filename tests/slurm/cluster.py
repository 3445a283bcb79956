"""A one-node SLURM cluster on this machine (Debian's ``slurm-wlm`` and ``munge``): slurmctld and slurmd run as
the current user from a configuration in a scratch folder, so a test exercises AiiDA's ``core.slurm`` scheduler the
way a user's cluster does (sbatch, squeue, scancel). Clients find the cluster through ``SLURM_CONF``."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SLURM_CONF = """\
ClusterName=cryspai-test
SlurmctldHost={host}
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
DAEMONS = ("slurmctld", "slurmd", "munged")


class SlurmUnavailable(RuntimeError):
    """slurm-wlm or munge is not installed, or the daemons did not come up."""


def _munge_running() -> bool:
    return subprocess.run(["munge", "-n"], capture_output=True).returncode == 0


def _start_munge() -> None:
    if _munge_running():
        return
    if os.geteuid() == 0 and shutil.which("runuser"):
        # munged refuses to run as root; Debian's package runs it as the munge user
        for path in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(path).mkdir(parents=True, exist_ok=True)
            shutil.chown(path, "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
    else:
        subprocess.run(["munged"], check=True)
    deadline = time.time() + 20
    while not _munge_running():
        if time.time() > deadline:
            raise SlurmUnavailable("munged did not start")
        time.sleep(0.2)


def start(folder: Path, ctld_port: int = 6917, d_port: int = 6918) -> dict:
    """Start munged (if needed), slurmctld and slurmd with a configuration in ``folder``; the environment clients
    need (``SLURM_CONF``). Waits until the node is idle."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        raise SlurmUnavailable(f"{', '.join(missing)} not found: apt-get install slurm-wlm munge")
    folder = Path(folder)
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, user=getpass.getuser(), folder=folder, cpus=os.cpu_count() or 1,
                                      ctld_port=ctld_port, d_port=d_port))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    _start_munge()
    subprocess.run(["slurmctld", "-f", str(conf), "-c"], check=True, env=env)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)
    deadline = time.time() + 60
    while True:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env).stdout.strip()
        if state == "idle":
            return {"SLURM_CONF": str(conf)}
        if time.time() > deadline:
            logs = "\n".join((folder / f"{d}.log").read_text()[-2000:] for d in ("slurmctld", "slurmd")
                             if (folder / f"{d}.log").exists())
            stop(folder)
            raise SlurmUnavailable(f"the SLURM node is '{state}', not idle, after 60 s:\n{logs}")
        time.sleep(0.5)


def stop(folder: Path) -> None:
    """Stop the slurmd and slurmctld started by :func:`start` (munged is left, as the system's service)."""
    pids = []
    for daemon in ("slurmd", "slurmctld"):
        pid_file = Path(folder) / f"{daemon}.pid"
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, 15)
                pids.append(pid)
            except (ProcessLookupError, ValueError):
                pass
    deadline = time.time() + 20
    while pids and time.time() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
