from ase.build import bulk

from aiida_cryspai.ml.relax import RelaxGuards, relax


def test_relaxation_lowers_the_energy(emt):
    atoms = bulk("Cu", "fcc", a=3.9, cubic=True)
    atoms.rattle(0.1, seed=1)
    atoms.calc = emt
    start = atoms.get_potential_energy()
    result = relax(atoms, emt, fmax=0.01, max_steps=300)
    assert result.ok and result.converged
    assert result.energy < start - 0.1
    assert result.atoms.get_volume() < atoms.get_volume()  # a = 3.9 is too large for EMT copper
    assert result.frames[0].get_potential_energy() > result.frames[-1].get_potential_energy()


def test_collapse_is_flagged_not_raised(emt):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    guards = RelaxGuards(min_volume_per_atom=13.0)  # fcc Cu under EMT has ~11.6 Å^3/atom
    result = relax(atoms, emt, guards=guards)
    assert result.status == "collapsed" and result.energy is None and not result.ok
    result = relax(atoms, emt, guards=RelaxGuards(max_energy_per_atom=-1.0))
    assert result.status == "unphysical"
