"""Where the models compute: the request resolved on the machine that runs them, refused where it cannot be met."""

import pytest

from aiida_cryspai.ml import device


def test_auto_takes_a_gpu_only_where_torch_sees_one(monkeypatch):
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
    monkeypatch.setattr(device, "gpu_available", lambda: True)
    assert device.resolve_device("auto") == "cuda"
    assert device.resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_and_unknown_names_are_refused(monkeypatch):
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    with pytest.raises(device.DeviceError, match="sees no CUDA GPU"):
        device.resolve_device("cuda")
    with pytest.raises(device.DeviceError, match="unknown device 'tpu'"):
        device.resolve_device("tpu")


def test_the_chosen_device_is_where_the_potentials_are_built():
    from aiida_cryspai.ml.potentials import get_calculator

    assert device.use_device("cpu") == "cpu" == device.current_device()
    assert str(get_calculator("chgnet").device) == "cpu"


def test_the_network_creates_its_tensors_on_the_chosen_device_and_nothing_else_does(monkeypatch):
    """torch's ``meta`` device stands in for a GPU: the decorated network code creates its tensors there, code
    outside it (a universal potential's) keeps torch's default."""
    import torch

    from aiida_cryspai.ml.descriptors import DescriptorSettings
    from aiida_cryspai.ml.network import AtomicEnergyModel

    monkeypatch.setattr(device, "_current", "meta")
    made_here = device.on_device(lambda: (torch.zeros(2), AtomicEnergyModel(DescriptorSettings(species=["Cu"]), 4)))
    tensor, model = made_here()
    assert tensor.device.type == "meta"
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert torch.zeros(2).device.type == "cpu"
