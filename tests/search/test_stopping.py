"""The search's own stopping test: settled only when the best has not moved and the network promises nothing
lower; a ground state that appears late, or that the network still points to, keeps the loop going."""

import math

import pytest

from aiida_cryspai.search.stopping import search_settled

TOL = 0.001  # eV/atom


def test_off_and_too_few_batches_never_settle():
    assert search_settled([-1.0, -1.0, -1.0, -1.0], [], TOL, patience=0) == (False, "the search's own test is off")
    settled, why = search_settled([-1.0, -1.0], [], TOL, patience=2)
    assert not settled and "3 needed" in why


def test_a_flat_best_and_nothing_promised_below_it_settle():
    settled, why = search_settled([-0.9, -1.0, -1.0004, -1.0006], [-0.99, -0.98], TOL, patience=2)
    assert settled and "0.6 meV/atom" in why
    # a GA that proposed nothing new promises nothing
    assert search_settled([-1.0, -1.0, -1.0], [], TOL, patience=2)[0]


def test_a_best_that_moved_within_the_window_goes_on():
    # the ground state appeared in the last batch, 50 meV/atom lower: the search is not done
    settled, why = search_settled([-1.0, -1.0, -1.0, -1.05], [-1.0], TOL, patience=2)
    assert not settled and "moved 50.0 meV/atom" in why
    # a move just above the tolerance counts too
    assert not search_settled([-1.0, -1.0, -1.0012], [-1.0], TOL, patience=2)[0]


def test_the_network_pointing_lower_keeps_the_loop_going():
    settled, why = search_settled([-1.0, -1.0, -1.0], [-1.02, -0.9], TOL, patience=2)
    assert not settled and "-20.0 meV/atom" in why


def test_a_late_ground_state_is_not_missed_when_the_network_points_to_it():
    """Batch by batch, as the loop applies it: flat for three batches while the network's proposals (prediction
    less spread) point 30 meV/atom lower; the fourth batch finds it; then flat again with nothing promised."""
    history = [-1.0, -1.0, -1.0, -1.03, -1.03, -1.03]
    bounds = [[-0.95], [-1.01], [-1.03], [-1.02], [-1.025], [-1.02]]
    verdicts = [search_settled(history[: n + 1], bounds[n], TOL, patience=2)[0] for n in range(len(history))]
    assert verdicts == [False, False, False, False, False, True]


def test_an_unfinished_best_never_settles():
    assert not search_settled([math.inf, math.inf, math.inf], [], TOL, patience=2)[0]


@pytest.mark.parametrize("patience", [1, 3])
def test_the_window_is_the_patience(patience):
    history = [-1.0] + [-1.1] * patience
    assert not search_settled(history, [], TOL, patience)[0]  # the move from -1.0 is inside the window
    assert search_settled([*history, -1.1], [], TOL, patience)[0]
