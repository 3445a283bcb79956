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


def test_a_relaxation_out_of_memory_stops_with_its_reason_and_the_others_go_on(emt):
    """A structure whose evaluation runs out of the process's memory (the CalcJob's bound) is stopped as
    ``memory`` with the allocator's words; the structures beside it in the batch still relax."""
    from ase.calculators.calculator import Calculator, all_changes

    from aiida_cryspai.ml.relax import relax_batch

    class RunsOutOfMemoryOnBigCells(Calculator):
        implemented_properties = ["energy", "forces", "stress"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            if len(atoms) > 4:
                raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 17 GB")
            emt.calculate(atoms, properties, system_changes)
            self.results = dict(emt.results)

    small = bulk("Cu", "fcc", a=3.7, cubic=True)
    big = small.repeat((2, 1, 1))
    results = relax_batch([small, big], RunsOutOfMemoryOnBigCells(), max_steps=30)
    assert results[0].status == "ok" and results[0].energy is not None
    assert results[1].status == "memory" and "can't allocate memory" in results[1].reason
    assert results[1].energy is None


def test_an_energy_below_the_calculators_floor_is_refused(emt):
    """EMT copper lies near 0 eV/atom: a floor above it refuses it as a hole, with the floor in its reason."""
    result = relax(bulk("Cu", "fcc", a=3.6, cubic=True), emt, guards=RelaxGuards(min_energy_per_atom=1.0))
    assert result.status == "unphysical" and result.energy is None and "below 1.0" in result.reason
    assert relax(bulk("Cu", "fcc", a=3.6, cubic=True), emt, guards=RelaxGuards(min_energy_per_atom=-1.0)).ok
