"""Protocol overrides that keep end-to-end runs in the test suite short (a real loop, small numbers)."""


def small_search(initial: int, iterations: int, samples: int, verify: int, epochs: int, hidden: int,
                 trial: int, offspring: int, recommend: int, steps: int, force_weight: float, refine: int,
                 templates: str = "none", volume_method: str = "paper") -> dict:
    """The loop's own tests start from random symmetric structures only (``templates`` none): known structures
    from the prototype library would hand them EMT's ground states in the first batch; and at Eq. 2's volume
    (one CalcJob less per run; the scan has its own tests)."""
    ga = {"n_trial": trial, "n_generations": 1, "n_replace": max(1, offspring // 2), "n_offspring": offspring}
    return {
        "initial_per_system": initial,
        "max_iterations": iterations,
        "min_samples": samples,
        "n_verify": verify,
        "training": {"max_epochs": epochs, "hidden": hidden, "force_weight": force_weight},
        "ga": {**ga, "n_recommend": 1},
        "final_ga": {**ga, "n_recommend": recommend},
        "local": {"max_steps": steps},
        "refine": {"n_candidates": refine},
        "templates": {"source": templates},
        "volume_method": volume_method,
    }


SMALL = small_search(initial=2, iterations=2, samples=50, verify=3, epochs=200, hidden=16, trial=4, offspring=4,
                     recommend=2, steps=25, force_weight=0.0, refine=3)
TINY = small_search(initial=1, iterations=1, samples=20, verify=2, epochs=100, hidden=8, trial=3, offspring=2,
                    recommend=1, steps=15, force_weight=0.0, refine=0)
