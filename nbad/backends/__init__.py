"""Backends and devices, as in JAX: `nbad.devices()`, `nbad.device_put`,
`nbad.device_get`, and the default platform (`NBAD_PLATFORM=cpu|cuda`,
`nbad.config.update("platform", ...)`).

A backend is one folder here: nbad/backends/cpu/ (Numba kernels and a
generated driver) and nbad/backends/cuda/ (numba-cuda kernels and a host
launcher), each giving the compile pipeline (nbad/compile/pipeline.py) a
`Backend` in its backend.py; `compile_backend(platform)` finds it. numba.cuda
is imported only when CUDA is used.
"""
from __future__ import annotations

import contextlib
import importlib

import numpy as np

from nbad.backends.device import Device
from nbad.errors import NbadValueError

PLATFORMS = ("cpu", "cuda")
_ALIASES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}


def canonical_platform(name) -> str:
    key = _ALIASES.get(str(name).lower())
    if key is None:
        raise NbadValueError(f"Unknown backend {name!r}: nbad has the platforms {list(PLATFORMS)}")
    return key


def compile_backend(platform: str):
    """The compile pipeline's Backend for `platform` ("cpu", "cuda", or an alias)."""
    return importlib.import_module(f"nbad.backends.{canonical_platform(platform)}.backend").BACKEND


def default_platform() -> str:
    from nbad.config import config

    return config.platform


def devices(backend=None) -> list:
    """The devices of `backend` (default: the default platform)."""
    platform = canonical_platform(backend or default_platform())
    if platform == "cpu":
        return [Device("cpu", 0)]
    from nbad.backends.cuda import runtime

    cuda = runtime.require_device()
    return [Device("cuda", d.id) for d in cuda.gpus] if not runtime.simulated() else [Device("cuda", 0)]


def local_devices(backend=None) -> list:
    return devices(backend)


def device_count(backend=None) -> int:
    return len(devices(backend))


def local_device_count(backend=None) -> int:
    return device_count(backend)


def default_backend() -> str:
    return default_platform()


@contextlib.contextmanager
def default_device(device):
    """`with nbad.default_device(d):` jitted functions without backend=/device= and
    devices() use d's platform inside the block (jax.default_device; nbad has one
    device per platform). `device` may be a Device or a platform name."""
    from nbad.config import config

    platform = device.platform if isinstance(device, Device) else canonical_platform(device)
    before = config.platform
    config.update("platform", platform)
    try:
        yield
    finally:
        config.update("platform", before)


def _map_arrays(fn, x):
    from nbad import tree_util

    return tree_util.tree_map(fn, x)


def device_put(x, device=None):
    """`x` (a pytree of arrays) on `device` (default: the default platform's first):
    on CUDA as CudaArrays (one host-to-device copy each), on the CPU as host arrays."""
    if device is None:
        device = devices()[0]
    if isinstance(device, str):
        device = devices(device)[0]
    if device.platform == "cpu":
        return device_get(x)
    from nbad.backends.cuda.array import CudaArray, host_to_cuda

    return _map_arrays(lambda a: a if isinstance(a, CudaArray) else host_to_cuda(a), x)


def device_get(x):
    """`x` (a pytree) with every device array copied to host memory (NumPy arrays)."""
    from nbad.backends.cuda.array import CudaArray

    def get(a):
        return np.asarray(a) if isinstance(a, CudaArray) else a

    return _map_arrays(get, x)


def block_until_ready(x):
    from nbad.backends.cuda.array import CudaArray

    def wait(a):
        return a.block_until_ready() if isinstance(a, CudaArray) else a

    return _map_arrays(wait, x)
