import pytest

from aiida_cryspai.search.composition import CompositionError, parse_composition


@pytest.mark.parametrize(
    ("text", "counts", "n_atoms"),
    [("Si8", (("Si", 8),), 8), ("Ti4O8", (("Ti", 4), ("O", 8)), 12), ("CaTiO3", (("Ca", 1), ("Ti", 1), ("O", 3)), 5)],
)
def test_parse_valid(text, counts, n_atoms):
    composition = parse_composition(text)
    assert composition.counts == counts
    assert composition.n_atoms == n_atoms
    assert len(composition.expanded()) == n_atoms


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("Xx4", "unknown element 'Xx'"), ("Si0", "zero atoms"), ("si8", "malformed"), ("Si-8", "malformed"),
     ("", "empty"), ("8Si", "malformed"), ("Si500", "at most")],
)
def test_parse_invalid(text, fragment):
    with pytest.raises(CompositionError, match=fragment):
        parse_composition(text)
