"""numba.cuda, imported only when the CUDA backend is used; availability,
launch configuration and the host<->device transfers (counted, for tests).

The simulator (`NUMBA_ENABLE_CUDASIM=1`) must be chosen before numba.cuda is
first imported: nbad imports it lazily, here, so the variable can be set after
`import nbad`."""
from __future__ import annotations

import os

from nbad.errors import NbadError

# host -> device and device -> host copies made by nbad (tests check residency with these)
TRANSFERS = {"to_device": 0, "to_host": 0}


class CudaUnavailableError(NbadError, RuntimeError):
    """CUDA was asked for, and neither a GPU nor Numba's CUDA simulator is available."""


def simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cuda_module():
    """numba.cuda, or CudaUnavailableError naming what to install or set."""
    try:
        from numba import cuda
    except ImportError as e:  # numba-cuda missing
        raise CudaUnavailableError(_unavailable(f"numba.cuda cannot be imported ({e})")) from None
    return cuda


def _unavailable(why: str) -> str:
    return (f"nbad's CUDA backend is not available: {why}. Install it with "
            "`pip install \"nbad[cuda]\"` (numba-cuda with the CUDA 12 wheels), and make sure an "
            "NVIDIA GPU and its driver (libcuda) are present; without a GPU, set "
            "NUMBA_ENABLE_CUDASIM=1 before the first use of CUDA to run on Numba's CUDA "
            "simulator (slow, for tests).")


_checked = False


def require_device():
    """numba.cuda with a usable device (a GPU or the simulator), else CudaUnavailableError."""
    global _checked
    cuda = cuda_module()
    if not _checked:
        try:
            ok = cuda.is_available()
        except Exception as e:  # a broken driver install
            raise CudaUnavailableError(_unavailable(f"the CUDA driver failed: {e}")) from None
        if not ok:
            raise CudaUnavailableError(_unavailable("no CUDA GPU or driver was found"))
        _checked = True
    return cuda


# -- launch configuration ----------------------------------------------------------

def threads_per_block() -> int:
    """Threads of a 1-D block: a code-generation parameter (shared arrays are sized by
    it). Each simulated thread is a Python thread, and every barrier costs ~0.2 ms per
    thread, so the simulator gets small blocks."""
    return 16 if simulated() else 128


def matmul_tile() -> int:
    return 4 if simulated() else 16


_max_blocks: int | None = None


def max_blocks() -> int:
    """Blocks of a grid-stride launch, at most: enough to fill the device
    (32 per multiprocessor), few under the simulator."""
    global _max_blocks
    if _max_blocks is None:
        if simulated():
            _max_blocks = 4
        else:
            device = require_device().get_current_device()
            _max_blocks = 32 * int(getattr(device, "MULTIPROCESSOR_COUNT", 16))
    return _max_blocks


def full_reduction_blocks() -> int:
    """Blocks (each writing one partial result) of a reduction of everything: fixed
    when the program is built, so that building needs no device (lower().ptx)."""
    return 4 if simulated() else 1024


def blocks_for(n: int, per_block: int) -> int:
    return max(1, min(max_blocks(), -(-n // per_block)))


# -- transfers -------------------------------------------------------------------------

def to_device(host):
    import numpy as np

    cuda = require_device()
    TRANSFERS["to_device"] += 1
    return cuda.to_device(np.ascontiguousarray(host))


def to_host(device_array):
    TRANSFERS["to_host"] += 1
    return device_array.copy_to_host()


def empty(shape, dtype):
    return require_device().device_array(shape, dtype)
