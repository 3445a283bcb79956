"""The calcfunction of the random draws keeps, in the graph and the log, the choices it skipped."""

from aiida import orm

from aiida_cryspai.calcfunctions.generation import generate_random_structures
from aiida_cryspai.search import generation


def test_skipped_choices_are_an_output_and_in_the_log(aiida_profile, monkeypatch):
    real = generation._drawn
    def cubic_never(composition, choice, seed, seconds=None):  # as if pyxtal ran into its bound in every cubic group
        if choice[0] >= 195:
            raise generation.DrawTimeout("stopped")
        return real(composition, choice, seed, seconds)

    monkeypatch.setattr(generation, "_drawn", cubic_never)
    outputs, node = generate_random_structures.run_get_node(
        orm.Str("Cu4"), orm.Float(48.0), orm.List(["cubic", "tetragonal"]), orm.Int(2), orm.Int(3), orm.Str("r"),
        max_seconds=orm.Float(20.0))  # the parameters' draw_seconds
    structures = [key for key, value in outputs.items() if isinstance(value, orm.StructureData)]
    assert len(structures) == 4 and all(key.endswith("_tetragonal") for key in structures)
    skipped = outputs["skipped_choices"].get_list()
    # every cubic choice that came up was skipped at its first attempt, no tetragonal one
    assert {entry["crystal_system"] for entry in skipped} == {"cubic"}
    assert all(entry["attempts"] == 1 and "bound 20 s" in entry["reason"] for entry in skipped)
    logs = [entry.message for entry in orm.Log.collection.get_logs_for(node)]
    assert any("skipped cubic space group(s)" in message for message in logs)
