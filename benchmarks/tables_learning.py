"""Tables of ``docs/benchmarks.md`` for the prior + correction learning curves (``prior_learning_curve.py``), each
rendered from ``results/prior_learning_curve.jsonl``: RMSE near the basin / over the 1 eV/atom window, meV/atom, the
lowest of each in a row in bold."""

from __future__ import annotations

from tables_search import markdown, rows_with

ROWS = "prior_learning_curve.jsonl"


def _cell(row: dict | None, near_best: float, window_best: float) -> str:
    if row is None:
        return "no row"
    near, window = row["rmse_near_mev_per_atom"], row["rmse_window_mev_per_atom"]
    text = (f"**{near}**" if near == near_best else f"{near}") + " / " + \
        (f"**{window}**" if window == window_best else f"{window}")
    notes = []
    if "prior_scale" in row and row["method"].startswith("prior scaled"):
        notes.append(f"a = {row['prior_scale']:.2f}")
    if "network_used" in row:
        notes.append("network used" if row["network_used"] else "network off")
    return text + (f" ({', '.join(notes)})" if notes else "")


def curve(composition: str, oracle: str, prior: str, methods: list[tuple[str, str]], frames_from: str,
          with_composition: bool = False, wall_of: str | None = None) -> list[list]:
    """One line per number of training relaxations: the cells of ``methods`` (header, method name in the rows)."""
    found = [r for r in rows_with(ROWS, "method") if r["composition"] == composition and r["oracle"] == oracle
             and r["prior"] == prior]
    body = []
    for relaxations in sorted({r["relaxations"] for r in found}):
        at = {r["method"]: r for r in found if r["relaxations"] == relaxations}
        shown = [at.get(method) for _, method in methods]
        present = [r for r in shown if r is not None]
        near_best = min(r["rmse_near_mev_per_atom"] for r in present)
        window_best = min(r["rmse_window_mev_per_atom"] for r in present)
        frames = at[frames_from]["frames"] if frames_from in at else present[0]["frames"]
        line = ([composition] if with_composition else []) + [f"{relaxations} ({frames})"]
        line += [_cell(r, near_best, window_best) for r in shown]
        if wall_of is not None:
            line.append(f"{at[wall_of]['wall_s']:.0f} s" if wall_of in at else "")
        body.append(line)
    return body


V1 = "prior + correction (v1: unscaled, network always on)"
V2 = "prior + correction (v2: correction weight decay 1e-5)"


def first_measurement() -> str:
    """Oracle SevenNet-0, prior CHGNet, Si8: the first correction (unscaled prior, network always on)."""
    methods = [("prior alone (offset fitted)", "prior alone"), ("prior + correction (first version)", V1),
               ("network alone", "network alone")]
    return markdown(["oracle relaxations (frames)"] + [h for h, _ in methods],
                    curve("Si8", "sevennet", "chgnet", methods, frames_from="prior alone"))


def fine_tuning() -> str:
    """The same split with CHGNet fine-tuned on the oracle's frames, beside the scaled prior and today's correction."""
    methods = [("prior alone", "prior alone"), ("prior scaled", "prior scaled"),
               ("prior + correction (today)", "prior + correction"), ("fine-tuned prior", "fine-tuned prior")]
    return markdown(["oracle relaxations (frames)"] + [h for h, _ in methods] + ["wall (fine-tuning)"],
                    curve("Si8", "sevennet", "chgnet", methods, frames_from="prior scaled",
                          wall_of="fine-tuned prior"))


def second_measurement() -> str:
    """Oracle CHGNet, prior SevenNet-0, Si8."""
    methods = [("prior alone (offset)", "prior alone"), ("prior scaled (offset + factor)", "prior scaled"),
               ("prior + correction, weight decay 1e-5", V2), ("network alone", "network alone")]
    return markdown(["oracle relaxations (frames)"] + [h for h, _ in methods],
                    curve("Si8", "chgnet", "sevennet", methods, frames_from="prior alone"))


def oxides() -> str:
    """Oracle CHGNet, prior SevenNet-0, Ti4O8 and CaTiO3."""
    methods = [("prior alone (offset)", "prior alone"), ("prior scaled", "prior scaled"),
               ("prior + correction", "prior + correction"), ("network alone", "network alone")]
    body = [line for composition in ("Ti4O8", "CaTiO3")
            for line in curve(composition, "chgnet", "sevennet", methods, frames_from="prior alone",
                              with_composition=True)]
    return markdown(["composition", "oracle relaxations (frames)"] + [h for h, _ in methods], body)
