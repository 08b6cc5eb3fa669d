"""The one device nbad's CPU backend computes on, as JAX describes devices:
nbad.devices(), Array.devices() and Array.sharding."""
from __future__ import annotations


class CpuDevice:
    platform = "cpu"
    device_kind = "cpu"
    id = 0
    process_index = 0

    def __repr__(self):
        return "CpuDevice(id=0)"


class SingleDeviceSharding:
    """An array held whole by one device."""

    def __init__(self, device):
        self._device = device

    @property
    def device_set(self):
        return {self._device}

    is_fully_replicated = True
    is_fully_addressable = True

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device is self._device

    def __hash__(self):
        return hash(self._device)

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind=device)"


CPU = CpuDevice()
SHARDING = SingleDeviceSharding(CPU)


def devices(backend=None):
    return [CPU]


def local_devices(process_index=None, backend=None):
    return [CPU]


def device_count(backend=None):
    return 1


def local_device_count(backend=None):
    return 1


def default_backend():
    return "cpu"
