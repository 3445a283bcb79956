"""The oracle's progress line shows only energies that passed the checks."""

from aiida_cryspai.workchains.oracle import progress_line


def test_progress_line_leaves_out_refused_energies():
    """SevenNet-0's holes (O4 at a compressed volume: -1.9e8 eV/atom, refused as collapsed) never show as lowest."""
    groups = [{"a": {"status": "ok", "energy_per_atom": -4.90},
               "b": {"status": "collapsed", "energy_per_atom": -190983888.0},
               "c": {"status": "too_close", "energy_per_atom": -53798.2}},
              {"d": {"status": "ok", "energy_per_atom": -4.95},
               "e": {"status": "exploded", "energy_per_atom": None}}]
    line = progress_line(groups, 8)
    assert line == ("5 of 8 relaxed (1 collapsed, 1 exploded, 2 ok, 1 too_close); "
                    "lowest -4.9500, -4.9000 eV/atom")


def test_progress_line_without_a_passed_structure_shows_no_lowest():
    line = progress_line([{"a": {"status": "collapsed", "energy_per_atom": -1e8}}], 3)
    assert line == "1 of 3 relaxed (1 collapsed)"
    assert progress_line([], 3) == "0 of 3 relaxed (none finished)"
