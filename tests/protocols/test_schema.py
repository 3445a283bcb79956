"""The parameter schema: defaults in one place, bad values named by their dotted key, docs generated from it."""

from pathlib import Path

import pytest

from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.training import TrainingSettings
from aiida_cryspai.protocols import PROTOCOLS, ProtocolError, get_protocol
from aiida_cryspai.protocols.reference import END, START, parameter_reference
from aiida_cryspai.search.ga import GASettings

DOCS = Path(__file__).parents[2] / "docs" / "workchain.md"


def test_docs_parameter_reference_is_generated_from_the_schema():
    text = DOCS.read_text()
    block = START + text.split(START, 1)[1].split(END, 1)[0] + END
    assert block == parameter_reference(), "run: python -m aiida_cryspai.protocols.reference docs/workchain.md"


def test_science_defaults_are_the_schema_defaults():
    precise = get_protocol("precise")
    descriptor = DescriptorSettings()
    assert {k: getattr(descriptor, k) for k in precise["descriptor"]} == precise["descriptor"]
    training = TrainingSettings()
    assert {k: getattr(training, k) for k in precise["training"]} == precise["training"]
    ga = GASettings()
    assert {k: getattr(ga, k) for k in precise["ga"]} == precise["ga"]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_protocol_is_valid(name):
    assert get_protocol(name)["ga"]["n_replace"] <= get_protocol(name)["ga"]["n_offspring"]


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"ga": {"n_generations": -3}}, "ga.n_generations: Input should be greater than or equal to 0 (got -3)"),
    ({"final_ga": {"n_trial": "many"}}, "final_ga.n_trial: Input should be a valid integer (got 'many')"),
    ({"max_parallel_oracle": 0}, "max_parallel_oracle: Input should be greater than or equal to 1 (got 0)"),
    ({"training": {"ensemble_size": True}}, "training.ensemble_size: Input should be a valid integer"),
    ({"guard_volume_range": [2.0, 3.0]}, "guard_volume_range: needs 0 < low < 1 < high"),
    ({"oracle": {"prerelax": "abinit"}}, "oracle.prerelax: must be a batch engine"),
    ({"oracle": {"dft_protocol": "quick"}}, "oracle.dft_protocol: Input should be 'fast', 'moderate' or 'precise'"),
    ({"ga": {"n_replace": 40}}, "n_replace (40) cannot exceed n_offspring (8)"),
    ({"ga": {"n_trail": 3}}, "unknown parameter 'ga.n_trail'"),
])
def test_bad_values_are_named_by_their_dotted_key(overrides, fragment):
    with pytest.raises(ProtocolError) as error:
        get_protocol("fast", overrides)
    assert fragment in str(error.value)


def test_free_form_engine_settings_and_numbers_given_as_ints_are_accepted():
    parameters = get_protocol("fast", {"oracle": {"fmax": 1, "abinit": {"parameters": {"ecut": 30}}},
                                       "ga": {"aenergy": {"Si": -4}}})
    assert parameters["oracle"]["fmax"] == 1.0 and parameters["oracle"]["abinit"] == {"parameters": {"ecut": 30}}
    assert parameters["ga"]["aenergy"] == {"Si": -4.0}
