"""A foreground run that Ctrl-C (SIGINT) or SIGTERM stops whole: the work chain is killed, and every CalcJob it
started is killed through its scheduler (``core.direct`` included: the job's process tree) and waited for, so that
no ``cryspai-relax``/``cryspai-train``/``cryspai-evolve`` job outlives the command.

aiida-core's own handler (``Runner.run_get_node``) kills the top process, but the jobs of CalcJobs that were
running in the same event loop can be left behind when the loop stops; :func:`stop_descendants` finishes the job.
"""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Callable

from aiida import orm
from aiida.common.exceptions import NotExistent

KILLED_STATUS = "Killed: the command that ran it was interrupted"


def run_interruptible(builder, log: Callable[[str], None] = print) -> tuple[orm.ProcessNode, int | None]:
    """Run ``builder`` in this interpreter; returns the node and the signal number that interrupted it (or None).

    On SIGINT/SIGTERM the process is killed, then every CalcJob it started is stopped (see module docstring).
    """
    from aiida.engine.utils import loop_scope
    from aiida.manage import get_manager

    # a local runner as aiida.engine.run_get_node makes one: no broker needed in the foreground
    runner = get_manager().create_runner(communicator=None)
    received: list[int] = []
    with loop_scope(runner.loop):
        process = runner.instantiate_process(builder)

        def interrupt(number, _frame):
            if received:
                return  # a second Ctrl-C while the jobs are being stopped changes nothing
            received.append(number)
            log(f"\nInterrupted: stopping {process.node.process_label}<{process.node.pk}> and its jobs...")
            # killed from the event loop, not here: a signal handler runs between any two bytecodes, possibly in the
            # middle of a database write of the process's own checkpoint, which the kill would then enter again
            runner.loop.call_soon_threadsafe(functools.partial(process.kill, msg_text=KILLED_STATUS))

        handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for number in handlers:
                signal.signal(number, interrupt)
            try:
                process.execute()
            except Exception:  # plumpy raises KilledError (and the process may except while being killed)
                if not received:
                    raise
            if received:
                stop_descendants(process.node, log=log)
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
    return process.node, (received[0] if received else None)


def stop_descendants(node: orm.ProcessNode, timeout: float = 120.0, log: Callable[[str], None] = print) -> int:
    """Kill the scheduler job of every unfinished CalcJob below ``node``, wait until the jobs are gone, and mark
    every unfinished process below (and ``node`` itself) as killed. Returns the number of jobs killed."""
    from aiida.engine import ProcessState

    killed = 0
    pending = [n for n in node.called_descendants if not n.is_sealed]
    for calc in pending:
        if isinstance(calc, orm.CalcJobNode) and calc.get_job_id():
            killed += _kill_job(calc, timeout)
    for process in [*pending, node]:
        if process.is_sealed:
            continue
        if not process.is_terminated:
            process.set_process_state(ProcessState.KILLED)
            process.set_process_status(KILLED_STATUS)
        process.seal()
    if killed:
        log(f"Stopped {killed} running job{'s' if killed != 1 else ''} of {node.process_label}<{node.pk}>.")
    return killed


def _kill_job(calc: orm.CalcJobNode, timeout: float) -> int:
    """Kill ``calc``'s job through its computer's scheduler and wait until the scheduler no longer lists it."""
    job_id = str(calc.get_job_id())
    try:
        transport = calc.computer.get_transport()
    except NotExistent:
        return 0
    with transport:
        scheduler = calc.computer.get_scheduler()
        scheduler.set_transport(transport)
        if not _is_listed(scheduler, job_id):
            return 0
        try:
            scheduler.kill_job(job_id)
        except Exception:  # the job may end between the listing and the kill
            pass
        deadline = time.monotonic() + timeout
        while _is_listed(scheduler, job_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the job {job_id} of CalcJob<{calc.pk}> did not stop within {timeout:.0f} s")
            time.sleep(0.5)
    return 1


def _is_listed(scheduler, job_id: str) -> bool:
    """The scheduler still lists the job as queued or running (``core.direct`` lists an unreaped process as done)."""
    from aiida.schedulers.datastructures import JobState

    try:
        return any(str(job.job_id) == job_id and job.job_state != JobState.DONE
                   for job in scheduler.get_jobs(jobs=[job_id], as_dict=False))
    except Exception:  # schedulers raise when asked about a job they no longer know
        return False
