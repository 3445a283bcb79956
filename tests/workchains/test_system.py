"""A whole chemical system at once (``cryspai.system``): Cu-Au on EMT in cells of two atoms, one shared network; the
searched hull must be EMT's own hull of the ordered phases those cells hold, relaxed here."""

import shutil

import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk

from aiida_cryspai.analysis.hull import convex_hull
from aiida_cryspai.ml.relax import relax
from aiida_cryspai.workchains.system import SystemWorkChain, wave_processes

from ..parameters import TINY

COMPOSITIONS = ["Cu2", "Cu1Au1", "Au2"]


def _two_atom_phases() -> dict[str, tuple[str, Atoms]]:
    """Every ordered phase of two atoms per cell on the fcc, hcp and bcc lattices (the elements' and the 50 %
    compound's: L1_0 and B2)."""
    phases = {}
    for a, b in (("Cu", "Cu"), ("Cu", "Au"), ("Au", "Au")):
        # fcc as its two-atom tetragonal cell (a/√2, a/√2, a): with two species, L1_0
        fcc = Atoms("Cu2", cell=[2.72, 2.72, 3.85], scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], pbc=True)
        hcp = bulk("Cu", "hcp", a=2.7, c=4.4)
        bcc = Atoms("Cu2", cell=[3.05] * 3, scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], pbc=True)
        for name, atoms in (("fcc", fcc), ("hcp", hcp), ("bcc", bcc)):
            atoms = atoms.copy()
            atoms.set_chemical_symbols([a, b])
            phases[f"{a}{b}-{name}"] = (atoms.get_chemical_formula(), atoms)
    return phases


@pytest.mark.parametrize(("slots", "n_processes", "each"), [(2, 2, 1), (2, 1, 2), (8, 3, 2), (4, 3, 1), (2, 5, 1),
                                                          (None, 3, None)])
def test_a_wave_shares_the_slots_out(slots, n_processes, each):
    """Five compositions on two cores run in waves of 2, 2 and 1: the last one alone uses both cores; no wave
    runs more CalcJobs at once than there are slots; without a limit the scheduler queues them."""
    assert wave_processes(slots, n_processes) == each
    if slots is not None:
        assert each * min(n_processes, slots) <= slots


@pytest.fixture(scope="module")
def emt_truth(emt):
    """EMT's own hull of the enumerated phases: the stable formulas and each composition's lowest energy."""
    relaxed = {name: (formula, relax(atoms, emt, fmax=0.005, max_steps=500)) for name, (formula, atoms)
               in _two_atom_phases().items()}
    points = convex_hull([(name, formula, r.energy / len(r.atoms)) for name, (formula, r) in relaxed.items()])
    lowest: dict[str, float] = {}
    for point in points:
        key = point.formula
        lowest[key] = min(lowest.get(key, float("inf")), point.energy_per_atom)
    return {p.formula for p in points if p.stable}, lowest


@pytest.fixture(scope="module")
def system_run(aiida_profile, emt):
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    codes = ensure_codes(ensure_computer())
    builder = SystemWorkChain.get_builder_from_protocol(
        "Cu-Au", COMPOSITIONS, engine="ase:emt", seed=2, prior=None,
        overrides={**TINY, "initial_per_system": 2, "dataset": {"energy_window": 1000.0}},
        codes={key: codes[key] for key in ("relax", "train", "evolve")})
    _, node = run_get_node(builder)
    return node


def test_the_searched_hull_is_emts_own(system_run, emt_truth):
    from pymatgen.core import Composition

    assert system_run.is_finished_ok, system_run.exit_message
    stable, lowest = emt_truth
    summary = system_run.outputs.summary.get_dict()
    searched = {Composition(s["composition"]).reduced_formula for s in summary["stable"]}
    assert searched == {Composition(f).reduced_formula for f in stable}
    assert "CuAu" in searched  # EMT orders Cu and Au: the hull is not just the two elements
    for formula, info in summary["compositions"].items():  # each composition's best is EMT's lowest phase, or lower
        truth = min(v for f, v in lowest.items() if Composition(f).reduced_formula
                    == Composition(formula).reduced_formula)
        assert info["best"]["energy_per_atom"] <= truth + 0.002, (formula, info["best"], truth)
    assert set(system_run.outputs.stable) == {s["composition"] for s in summary["stable"]}


def test_one_network_learnt_from_every_composition(system_run):
    from aiida.orm import WorkChainNode

    surrogates = [n for n in system_run.called if isinstance(n, WorkChainNode)
                  and n.process_label == "SurrogateWorkChain"]
    assert surrogates
    frames = set(surrogates[0].inputs.frames)
    for formula in COMPOSITIONS:  # the first training saw the first batch of every composition
        assert any(key.startswith(f"{formula}_") for key in frames), (formula, frames)
    model = system_run.outputs.model
    assert sorted(model.load_model().settings.species) == ["Au", "Cu"]
    from aiida.common.links import LinkType

    ga = {n.base.links.get_incoming(link_type=LinkType.CALL_WORK).one().link_label for n in system_run.called
          if n.process_label == "EvolutionWorkChain"}
    assert {f"final_ga_{formula}" for formula in COMPOSITIONS} <= ga
    for node in system_run.called:
        if node.process_label == "EvolutionWorkChain":
            assert node.inputs.model.uuid in {s.outputs.model.uuid for s in surrogates if "model" in s.outputs}
    # every composition's GAs ran to their end (a failed one would be listed, and its systems would propose nothing)
    assert "ga_failures" in system_run.outputs.summary["oracle"]
    assert system_run.outputs.summary["oracle"]["ga_failures"] == {}


@pytest.mark.parametrize("system, compositions, message", [
    ("Cu-Au", ["Cu2", "Au2", "Cu1Ag1"], "Ag, not an element of Cu-Au"),
    ("Cu-Au", ["Cu2", "Cu1Au1"], "no composition of Au alone"),
    ("Cu", ["Cu2"], "malformed chemical system"),
])
def test_bad_systems_are_refused_before_anything_runs(aiida_profile, cryspai_codes, system, compositions, message):
    builder = SystemWorkChain.get_builder()
    builder.system, builder.compositions = orm.Str(system), orm.List(compositions)
    builder.engine = orm.Str("ase:emt")
    from aiida_cryspai.protocols import get_protocol

    builder.parameters = orm.Dict(get_protocol("fast", TINY))
    builder.codes = {key: cryspai_codes[key] for key in ("relax", "train", "evolve")}
    _, node = run_get_node(builder)
    assert node.exit_status == SystemWorkChain.exit_codes.ERROR_INVALID_COMPOSITION.status
    assert message in node.exit_message and not node.called


def test_show_and_export_of_a_system(system_run, tmp_path):
    """``cryspai show`` lists the hull so far; ``cryspai export`` writes the system's results folder."""
    import json

    from ase.io import read
    from click.testing import CliRunner

    from aiida_cryspai.cli.main import cryspai

    shown = CliRunner().invoke(cryspai, ["show", str(system_run.pk)], catch_exceptions=False).output
    assert f"SystemWorkChain<{system_run.pk}>" in shown and "stable_so_far" in shown
    assert "Cu1Au1 above the hull: 0.0 meV/atom" in shown
    folder = tmp_path / "Cu-Au"
    CliRunner().invoke(cryspai, ["export", str(system_run.pk), str(folder)], catch_exceptions=False)
    results = json.loads((folder / "results.json").read_text())
    assert results["system"] == "Cu-Au" and results["oracle"]["relaxations"] > 0
    assert {s["composition"] for s in results["stable"]} == set(system_run.outputs.stable)
    from pymatgen.core import Composition

    for stable in results["stable"]:
        written = Composition(read(folder / stable["cif"]).get_chemical_formula())
        assert written.reduced_formula == Composition(stable["composition"]).reduced_formula
        assert stable["formation_energy_per_atom"] <= 1e-9
    for info in results["compositions"].values():
        assert info["e_above_hull"] >= 0 and (folder / info["folder"] / "results.json").exists()
        assert (folder / info["folder"] / info["best"]["cif"]).exists()
    assert (folder / "plots" / "hull.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="chromium-driver is not installed (make install)")
def test_the_systems_report_shows_its_hull_in_a_browser(system_run, tmp_path):
    """``cryspai report`` of a system: one self-contained page, the hull figure drawn, a 3D view of each stable
    phase painted, no console errors (headless Chromium)."""
    from click.testing import CliRunner
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from aiida_cryspai.cli.main import cryspai

    page = tmp_path / "system.html"
    CliRunner().invoke(cryspai, ["report", str(system_run.pk), "--output", str(page)], catch_exceptions=False)
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched from a network
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(page.as_uri())
        assert driver.title == "CrySPAI: the Cu-Au system"
        (hull,) = driver.find_elements(By.TAG_NAME, "img")
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", hull) > 300
        canvases = driver.find_elements(By.CSS_SELECTOR, "canvas.crystal-view")
        assert len(canvases) == len(system_run.outputs.stable) >= 3
        assert all(canvas.get_attribute("data-rendered") == "1" for canvas in canvases)
        assert len(driver.find_elements(By.XPATH, "//td[text()='stable']")) == len(canvases)  # the table agrees
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == [], errors
    finally:
        driver.quit()
