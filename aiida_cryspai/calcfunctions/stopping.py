"""Stage: has the search settled? (``search.stopping``; the loop stops with ``converged_by`` "search")."""

from aiida.engine import calcfunction
from aiida.orm import Dict

from ..search.stopping import search_settled


@calcfunction
def check_search(history: Dict, selection: Dict) -> Dict:
    """The verdict of :func:`~aiida_cryspai.search.stopping.search_settled` on ``history`` (``best_by_batch``,
    eV/atom; ``tolerance_ev_per_atom``; ``patience``) and the GA's recommendations ``selection`` (each with its
    ``predicted_objective_per_atom`` and ``spread_per_atom``)."""
    state = history.get_dict()
    bounds = [info["predicted_objective_per_atom"] - info.get("spread_per_atom", 0.0)
              for info in selection.get_dict().values()]
    settled, why = search_settled(state["best_by_batch"], bounds, state["tolerance_ev_per_atom"], state["patience"])
    return Dict({"settled": settled, "reason": why, "lowest_proposal_bound": min(bounds, default=None)})
