"""A CalcJob whose process died is run once more.

A process that died (the kernel's OOM killer, a node lost under the scheduler, a signal) leaves no outputs: its
CalcJob fails with a missing or unreadable output (exit 300/301), a scheduler error (100-199) or excepts. Such a job
is submitted again, once, with the same inputs; a second death is recorded with its reason and the search goes on
without it (the oracle, the GA) or stops with its exit code (the training). A job the user killed is not retried,
nor one that failed for a reason of its own (its parser's verdict, 302 and above).
"""

from __future__ import annotations

from aiida import orm

# the script's outputs missing or unreadable: it did not run to its end
DIED_EXIT_STATUSES = (300, 301)
ATTEMPTS = 2


def died(node: orm.ProcessNode) -> bool:
    """Whether the CalcJob ``node`` ended without running its script to its end (see the module's docstring)."""
    if node.is_killed or node.is_finished_ok:
        return False
    if node.is_excepted:
        return True
    status = node.exit_status
    return status is not None and (status in DIED_EXIT_STATUSES or 100 <= status < 200)


def describe(node: orm.ProcessNode) -> str:
    """How ``node`` ended, in a few words for the log."""
    if node.is_excepted:
        return "excepted"
    return f"exit {node.exit_status}" + (f": {node.exit_message}" if node.exit_message else "")
