"""The tables of docs/benchmarks.md that are rendered from stored rows match those rows (benchmarks/doc_tables.py)."""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import doc_tables  # noqa: E402


def test_every_rendered_table_matches_its_rows():
    text = doc_tables.DOCS.read_text()
    assert len(doc_tables.BLOCK.findall(text)) >= len(doc_tables.TABLES)
    assert doc_tables.check(text) == []


def test_every_table_of_the_docs_is_rendered_from_rows():
    """No table typed by hand: each markdown table of docs/benchmarks.md lies inside a rendered block."""
    text = doc_tables.DOCS.read_text()
    outside = doc_tables.BLOCK.sub("", text)
    rules = [line for line in outside.splitlines() if line.startswith("|---")]
    assert rules == []


def test_a_number_changed_by_hand_is_caught():
    text = doc_tables.write(doc_tables.DOCS.read_text())  # as rendered from today's rows
    block = next(doc_tables.BLOCK.finditer(text))
    body = block["body"]
    changed = body.replace("|", "| 1", 1) if "| 1" not in body else body.replace("| 1", "| 2", 1)
    assert doc_tables.check(text.replace(body, changed, 1)) == [block["name"]]
    assert doc_tables.check(doc_tables.write(text.replace(body, changed, 1))) == []


def test_the_paper_tables_page_is_rendered_from_its_rows(monkeypatch):
    import paper_tables

    monkeypatch.chdir(BENCHMARKS)
    page = BENCHMARKS.parent / "docs" / "paper-tables.md"
    assert paper_tables.render_docs(list(paper_tables.DOC_ROWS), page) == page.read_text()


def test_the_break_even_states_which_way_an_unfound_median_bounds_it():
    cells = doc_tables._break_even_cells
    # 1000 s of prior work saving 10 oracle relaxations: the prior pays above 100 s per relaxation
    assert cells(1000.0, 10, random_bound=False, product_bound=False, seconds=150.0) == ("100", "yes")
    assert cells(1000.0, 10, random_bound=False, product_bound=False, seconds=50.0) == ("100", "no")
    # random unfound: at least 10 saved, the break-even at most 100
    assert cells(1000.0, 10, random_bound=True, product_bound=False, seconds=150.0) == ("≤ 100", "yes")
    assert cells(1000.0, 10, random_bound=True, product_bound=False, seconds=50.0)[1] == "not shown"
    # the product unfound: at most 10 saved, the break-even at least 100
    assert cells(1000.0, 10, random_bound=False, product_bound=True, seconds=50.0) == ("≥ 100", "no")
    assert cells(1000.0, 0, random_bound=False, product_bound=False, seconds=50.0)[1] == "no"
    assert cells(1000.0, 10, random_bound=True, product_bound=True, seconds=50.0)[1] == "not shown"


def test_an_unfound_run_counts_as_its_budget_and_bounds_the_median_only_where_it_sets_it():
    runs = [{"relaxations_to_find": 15, "relaxations": 20}, {"relaxations_to_find": 1, "relaxations": 20},
            {"relaxations_to_find": None, "relaxations": 20}]
    assert doc_tables._median_of_finds(runs, "relaxations") == (15, False)
    runs[0]["relaxations_to_find"] = None
    assert doc_tables._median_of_finds(runs, "relaxations") == (20, True)
