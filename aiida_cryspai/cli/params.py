"""The command line's parameters on aiida's command-line kit: the profile of a read-only command (loaded, never
created or changed) and a run given by pk or UUID (aiida's workflow type, narrowed to CrySPAI runs)."""

from __future__ import annotations

import click
from aiida.cmdline.params import types

RUN_LABELS = ("CrySPAIWorkChain", "SystemWorkChain")


def load_existing_profile(ctx: click.Context) -> str:
    """Load the profile named by ``cryspai -p`` (or the one already loaded, or the default) through aiida's profile
    type; a missing profile is one clear error, and nothing is created: only ``setup`` and ``predict`` may."""
    from aiida.cmdline.utils.defaults import get_default_profile
    from aiida.manage import get_manager

    root = ctx.find_root()
    name = root.obj.get("profile_name")
    loaded = get_manager().get_profile()
    if loaded is not None and name in (None, loaded.name):
        return loaded.name
    name = name or get_default_profile()
    if name is None:
        raise click.UsageError("there is no AiiDA profile yet: `cryspai setup` creates one")
    return types.ProfileParamType(load_profile=True).convert(name, None, root).name


class RunParamType(types.WorkflowParamType):
    """A CrySPAI run by pk or UUID (a UUID stays valid after ``verdi archive import``); the profile is loaded first,
    read-only. Anything else (another process, a code, a structure) is refused in one line."""

    name = "RUN"

    def convert(self, value, param, ctx):
        from aiida.orm import WorkflowNode

        if isinstance(value, WorkflowNode):
            return value
        load_existing_profile(ctx)
        node = super().convert(value, param, ctx)
        if node.process_label not in RUN_LABELS:
            self.fail(f"{value} is a {node.process_label}, not a CrySPAI run ({' or '.join(RUN_LABELS)})", param,
                      ctx)
        return node


RUN = click.argument("run", type=RunParamType())
