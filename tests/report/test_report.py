"""``cryspai report``: the HTML page of a finished run opens in headless Chromium (Debian's ``chromium`` and
``chromedriver``) with its plots and 3D views drawn, reacts to the mouse, and logs no console errors."""

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from aiida_cryspai.cli.main import cryspai

from ..parameters import TINY

CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def finished_run(aiida_profile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    parameters = folder / "tiny.yaml"
    parameters.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", "--seed", "2", "--parameters",
                                          str(parameters), "--output", str(folder / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder, json.loads((folder / "out" / "results.json").read_text())


def test_results_folder_holds_the_four_plots(finished_run):
    folder, results = finished_run
    assert len(results["plots"]) == 4
    for path in results["plots"].values():
        data = (folder / "out" / path).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000


@pytest.fixture(scope="module")
def report_page(finished_run):
    folder, results = finished_run
    page = folder / "report.html"
    result = CliRunner().invoke(cryspai, ["report", str(results["workchain"]["pk"]), "--output", str(page)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return page, results


def test_report_is_self_contained(report_page):
    page, results = report_page
    text = page.read_text()
    # nothing is fetched when the page opens: no external scripts, styles or images
    for fragment in ("http://", "https://", "src=\"//"):
        assert fragment not in text.replace("http://www.w3.org", "")
    assert text.count("data:image/png;base64,") == 4
    assert "cryspai predict Cu4 --engine ase:emt --protocol fast --seed 2" in text
    assert f"verdi archive create -N {results['workchain']['pk']}" in text
    for candidate in results["candidates"]:
        assert f"{candidate['energy_per_atom']:.5f}" in text


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromium-driver is not installed (make install installs it)")
def test_report_renders_in_headless_chromium(report_page):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page, results = report_page
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("CrySPAI: Cu4")
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 4
        for image in images:
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 300
        canvases = driver.find_elements(By.CSS_SELECTOR, "canvas.crystal-view")
        assert len(canvases) == min(8, len(results["candidates"]))
        painted = """
            const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
            return n;"""
        before = []
        for canvas in canvases:
            assert canvas.get_attribute("data-rendered") == "1"
            before.append(driver.execute_script(painted, canvas))
            assert before[-1] > 500, "a 3D view is blank"
        # dragging rotates the structure: the view is drawn again and changes
        snapshot = "return arguments[0].toDataURL()"
        first = driver.execute_script(snapshot, canvases[0])
        ActionChains(driver).move_to_element(canvases[0]).click_and_hold().move_by_offset(60, 25).release().perform()
        assert int(canvases[0].get_attribute("data-rendered")) > 1
        assert driver.execute_script(snapshot, canvases[0]) != first
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == [], errors
    finally:
        driver.quit()


def test_reference_comparison_in_export_and_report(finished_run, tmp_path):
    from ase.build import bulk
    from ase.io import write

    folder, results = finished_run
    pk = str(results["workchain"]["pk"])
    reference = tmp_path / "cu-fcc.cif"
    write(reference, bulk("Cu", "fcc", a=3.6, cubic=True), format="cif")
    exported = CliRunner().invoke(cryspai, ["export", pk, str(tmp_path / "out"), "--reference", str(reference)],
                                  catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    exported_results = json.loads((tmp_path / "out" / "results.json").read_text())
    comparison = exported_results["reference"]
    assert comparison["spacegroup_target"] == 225
    # matched_rank is the first exported candidate that StructureMatcher puts on fcc Cu, checked here on the CIFs
    from ase.io import read

    from aiida_cryspai.analysis.compare import matcher, to_pymatgen

    fcc = to_pymatgen(bulk("Cu", "fcc", a=3.6, cubic=True))
    matches = [c["rank"] for c in exported_results["candidates"]
               if matcher().fit(fcc, to_pymatgen(read(tmp_path / "out" / c["cif"])))]
    assert comparison["matched_rank"] == (matches[0] if matches else None)
    assert comparison["matched"] == (matches[:1] == [1])
    assert "reference: target/predicted space group 225/" in exported.output
    page = tmp_path / "report.html"
    reported = CliRunner().invoke(cryspai, ["report", pk, "--output", str(page), "--reference", str(reference)],
                                  catch_exceptions=False)
    assert reported.exit_code == 0, reported.output
    assert "Comparison with the reference" in page.read_text()
    # a reference of another composition is refused before anything is written
    wrong = tmp_path / "si.cif"
    write(wrong, bulk("Si", "diamond", a=5.43), format="cif")
    refused = CliRunner().invoke(cryspai, ["export", pk, str(tmp_path / "refused"), "--reference", str(wrong)])
    assert refused.exit_code != 0 and "not the composition of Cu4" in refused.output
    assert not (tmp_path / "refused").exists()
