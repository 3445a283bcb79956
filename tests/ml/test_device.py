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


def test_the_chosen_device_is_where_new_tensors_and_potentials_live():
    import torch

    from aiida_cryspai.ml.potentials import get_calculator

    assert device.use_device("cpu") == "cpu" == device.current_device()
    assert torch.zeros(2).device.type == "cpu"
    assert str(get_calculator("chgnet").device) == "cpu"
