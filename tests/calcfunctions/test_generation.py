"""The calcfunction of the random draws keeps, in the graph and the log, the choices it skipped."""

from aiida import orm

from aiida_cryspai.calcfunctions.generation import generate_random_structures
from aiida_cryspai.search import generation


def test_skipped_choices_are_an_output_and_in_the_log(aiida_profile, monkeypatch):
    real = generation._drawn
    def cubic_never(composition, choice, seed):  # as if pyxtal could place the atoms in no cubic group
        return None if choice[0] >= 195 else real(composition, choice, seed)

    monkeypatch.setattr(generation, "_drawn", cubic_never)
    outputs, node = generate_random_structures.run_get_node(
        orm.Str("Cu4"), orm.Float(48.0), orm.List(["cubic", "tetragonal"]), orm.Int(2), orm.Int(3), orm.Str("r"),
        max_seconds=orm.Float(1e-6))  # the parameters' draw_seconds: every failing choice outlasts it at once
    structures = [key for key, value in outputs.items() if isinstance(value, orm.StructureData)]
    assert len(structures) == 4 and all(key.endswith("_tetragonal") for key in structures)
    skipped = outputs["skipped_choices"].get_list()
    # every cubic choice that came up was skipped (a tetragonal one may be too: a bound of 1 µs allows one attempt)
    assert "cubic" in {entry["crystal_system"] for entry in skipped}
    assert all(entry["attempts"] == 1 and "bound 1e-06 s" in entry["reason"] for entry in skipped)
    logs = [entry.message for entry in orm.Log.collection.get_logs_for(node)]
    assert any("skipped cubic space group(s)" in message for message in logs)
