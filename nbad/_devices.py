"""The one device nbad's CPU backend computes on, as JAX describes devices:
nbad.devices() and Array.devices()."""
from __future__ import annotations


class CpuDevice:
    platform = "cpu"
    device_kind = "cpu"
    id = 0
    process_index = 0

    def __repr__(self):
        return "CpuDevice(id=0)"


CPU = CpuDevice()


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
