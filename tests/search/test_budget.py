"""The oracle budget: what the loop may spend, what is kept for verification and refinement."""

from aiida_cryspai.search.budget import OracleBudget


def test_a_capped_budget_keeps_its_reserves_and_never_goes_negative():
    budget = OracleBudget.plan(20, n_verify=6, n_refine=3)
    assert (budget.verify, budget.refine) == (6, 3)
    assert budget.loop_left(0) == 11 and not budget.loop_spent(10) and budget.loop_spent(11)
    assert budget.left(11, reserve=budget.refine) == 6  # the verification's six, the refinement's three kept
    assert budget.left(25) == 0
    small = OracleBudget.plan(5, n_verify=6, n_refine=3)
    assert (small.verify, small.refine) == (2, 1) and small.loop_left(0) == 2


def test_no_cap_means_no_limit():
    budget = OracleBudget.plan(None, n_verify=16, n_refine=16)
    assert budget.left(10**6) is None and not budget.loop_spent(10**6)
    assert OracleBudget(**budget.to_dict()) == budget
