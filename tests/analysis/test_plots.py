"""The run's figures are written from plain numbers, without a display."""

from aiida_cryspai.analysis import plots


def _is_png(path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_figures_are_written(tmp_path):
    rmse = [{"iteration": 1, "validation": 40.0}, {"iteration": 2, "validation": 12.0, "out_of_sample": 30.0},
            {"iteration": 3, "validation": 6.0, "out_of_sample": 7.5, "out_of_sample_basin": 3.0}]
    assert _is_png(plots.plot_rmse(rmse, 8.0, tmp_path / "rmse.png"))
    curves = {"ga_01": {"cubic": [-5.1, -5.2]}, "final_ga": {"cubic": [-5.2, -5.3, -5.31], "hexagonal": [-5.0]}}
    assert _is_png(plots.plot_ga_progress(curves, tmp_path / "ga.png"))
    assert _is_png(plots.plot_parity([-5.3, -5.1, -4.9], [-5.28, -5.15, -4.7], ["a", "a", "b"], tmp_path / "p.png"))
    assert _is_png(plots.plot_energy_volume([20.0, 21.5, 19.0], [-5.3, -5.2, -5.0], ["cubic", "hexagonal", "cubic"],
                                            tmp_path / "ev.png"))


def test_the_hull_figure_is_written(tmp_path):
    from aiida_cryspai.analysis.hull import convex_hull

    points = [p.to_dict() for p in convex_hull([("Cu", "Cu4", -0.007), ("Au", "Au4", 0.0), ("Cu3Au", "Cu3Au", -0.0155),
                                                ("CuAu3", "CuAu3", 0.0053), ("CuAu", "Cu2Au2", -0.0114)])]
    assert _is_png(plots.plot_hull(points, ["Cu", "Au"], tmp_path / "hull.png"))
    ternary = [p.to_dict() for p in convex_hull([("Cu", "Cu", 0.0), ("Au", "Au", 0.0), ("Ag", "Ag", 0.0),
                                                 ("CuAu", "CuAu", -0.1), ("AgAu", "AgAu", 0.02),
                                                 ("CuAgAu", "CuAgAu", -0.2)])]
    assert _is_png(plots.plot_hull(ternary, ["Cu", "Au", "Ag"], tmp_path / "ternary.png", pressure_gpa=5.0))
    assert _is_png(plots.plot_hull(points, ["Cu", "Au", "Ag", "Ni"], tmp_path / "quaternary.png"))


def test_hull_phases_are_named_by_reduced_formula_and_space_group():
    """The hull figure names a stable phase as a reader does (Li2O2 Immm), not by its cell or candidate key."""
    point = {"formula": "Li4O4", "label": "Li4O4/refined_final_000"}
    assert plots.phase_name(point) == "Li2O2"  # pymatgen names peroxides and O2 as chemists do
    assert plots.phase_name(point, {"Li4O4": "Immm"}) == "Li2O2 Immm"
    assert plots.phase_name({"formula": "O4", "label": "O4/x"}, {"Li4O4": "Immm"}) == "O2"
    summary = {"compositions": {"Li4O4": {"best": {"spacegroup_symbol": "Immm"}}, "O4": {"best": {"spacegroup_symbol":
                                                                                             "P2_1/m"}}}}
    assert plots.best_spacegroups(summary) == {"Li4O4": "Immm", "O4": "P2_1/m"}
