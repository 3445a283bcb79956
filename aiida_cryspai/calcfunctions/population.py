"""Stage: the first oracle batch chosen from the initial population (random structures, known ones, or the lowest
the prior found), recorded with where each structure came from."""

from aiida.engine import calcfunction
from aiida.orm import Dict

from ..search.templates import first_batch_keys


@calcfunction
def choose_first_batch(settings: Dict, **origins: Dict) -> Dict:
    """The keys of the first oracle batch and the origin of every structure of the population.

    ``origins``: the ``origins`` outputs of the generators (key -> {"origin": ...}). ``settings``: ``mode``
    ``random`` (the random structures), ``templates`` (known structures mixed in, ``first_batch_fraction`` of the
    batch after the seed files, in ``template_order``) or ``screened`` (``screened``: the ranked keys the prior chose
    -> the key each was relaxed from); ``random_keys``; ``volume_method`` and ``length_scale`` are recorded."""
    every = {key: info["origin"] for node in origins.values() for key, info in node.get_dict().items()}
    mode = settings["mode"]
    if mode == "screened":
        batch = {key: every.get(start, "") for key, start in settings["screened"].items()}
    elif mode == "templates":
        order = settings["template_order"]
        seeds = [key for key in order if every[key].startswith("seed file")]
        known, random = first_batch_keys(settings["random_keys"], order, seeds, settings["first_batch_fraction"])
        batch = {key: every[key] for key in random + known}
    else:
        batch = {key: every[key] for key in settings["random_keys"]}
    return Dict({"batch": batch, "origins": {**every, **batch}, "volume_method": settings["volume_method"],
                 "length_scale": settings["length_scale"]})
