"""The CUDA backend (nbad/backends/cuda), checked without a GPU.

Every program of tests/cuda_programs.py runs in a subprocess under Numba's CUDA
simulator (NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda is imported;
this session's CPU tests must not see it) and must equal NumPy (the primitives'
impls) and, for one program of each kernel kind, the CPU backend; in a second
subprocess, without the simulator, every kernel those programs generate
compiles to PTX for sm_80 and sm_90, the hot ones assemble with the wheel's
ptxas (registers and spills printed), and running a program raises the clear
CudaUnavailableError.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.cuda

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cuda_programs import PROGRAMS  # noqa: E402

pytest.importorskip("numba.cuda")


def _start(mode, simulator):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE), NBAD_CACHE="0")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.Popen([sys.executable, os.path.join(HERE, "cuda_programs.py"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _records(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-4000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def _processes():
    """Both subprocesses, started together (they share nothing)."""
    return {"simulate": _start("simulate", simulator=True), "ptx": _start("ptx", simulator=False)}


@pytest.fixture(scope="module")
def simulated(_processes):
    return {r.get("program", r["check"]): r for r in _records(_processes["simulate"])}


@pytest.fixture(scope="module")
def compiled(_processes):
    return _records(_processes["ptx"])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_equals_cpu_under_simulator(simulated, name):
    record = simulated[name]
    assert record["ok"], record
    assert record["on_device"], record


def test_chained_calls_stay_on_device(simulated):
    record = simulated["residency"]
    assert record["ok"] and record["cai"]
    assert record["moved"] == {"to_device": 1, "to_host": 0}, record


def test_operations_outside_jit_run_on_device(simulated):
    record = simulated["eager_ops"]
    assert record["ok"] and record["on_device"] and record["device_jit"], record
    assert record["copied_back"] == 0, record


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_compiles_to_ptx(compiled, name):
    records = [r for r in compiled if r.get("program") == name]
    assert sorted(tuple(r["cc"]) for r in records) == [(8, 0), (9, 0)]
    for r in records:
        assert r["ok"] and r["kernels"] >= 1, r
        for kernel, stats in r.get("ptxas", {}).items():
            assert stats["rc"] == 0 and stats["registers"], (kernel, stats)
            print(f"{name} sm_{r['cc'][0]}{r['cc'][1]} {kernel}: {stats['registers']} registers, "
                  f"{stats['spill_store_bytes']} bytes spilled")


def test_hot_kernels_assemble_without_spills(compiled):
    stats = [s for r in compiled if r["check"] == "ptx" for s in r.get("ptxas", {}).values()]
    if not stats:
        pytest.skip("the nvidia-cuda-nvcc wheel's ptxas is not installed")
    assert all(s["spill_store_bytes"] == [0] for s in stats), stats


def test_unavailable_cuda_is_a_clear_error(compiled):
    record = next(r for r in compiled if r["check"] == "unavailable")
    assert record["type"] == "CudaUnavailableError"
    for needle in ('pip install "nbad[cuda]"', "driver", "NUMBA_ENABLE_CUDASIM=1"):
        assert needle in record["message"]


# -- in this process (no kernels run): options, devices, errors ------------------------------

def test_numpy_functions_outside_jit_explain_device_arrays():
    import nbad.numpy as jnp
    from nbad.errors import NbadTypeError

    class DeviceArray:  # any __cuda_array_interface__ object: CuPy, PyTorch, nbad's own
        __cuda_array_interface__ = {"shape": (2,), "typestr": "<f8", "data": (0, False), "version": 3}

    with pytest.raises(NbadTypeError, match="device_get"):
        jnp.sin(DeviceArray())


def test_devices_and_jit_options():
    import nbad
    from nbad.errors import NbadValueError

    assert nbad.devices("cpu")[0].platform == "cpu"
    assert nbad.default_backend() in ("cpu", "cuda")
    with pytest.raises(NbadValueError, match="Unknown backend"):
        nbad.jit(lambda x: x, backend="tpu")
    with pytest.raises(ValueError, match="NBAD_PLATFORM|platform"):
        nbad.config.update("platform", "tpu")


def test_platform_setting_switches_followers():
    import nbad

    f = nbad.jit(lambda x: x + 1)
    x = np.ones(3)
    assert type(f(x)).__name__ == "Array"
    nbad.config.update("platform", "cuda")
    try:
        lowered = f.lower(x)  # planned for CUDA now; building it needs no device
        assert "launch" in lowered.driver_source
    finally:
        nbad.config.update("platform", "cpu")
    assert type(f(x)).__name__ == "Array"


def test_default_device_context():
    import nbad

    f = nbad.jit(lambda x: x * 2)
    x = np.ones(2)
    f(x)
    with nbad.default_device("cuda"):
        assert nbad.config.platform == "cuda"
        assert "launch" in f.lower(x).driver_source
    assert nbad.config.platform == "cpu"
    assert type(f(x)).__name__ == "Array"


def test_unsupported_primitive_names_itself():
    import nbad
    import nbad.numpy as jnp
    from nbad.errors import NbadNotImplementedError

    f = nbad.jit(lambda x: jnp.linalg.inv(x), backend="cuda")
    with pytest.raises(NbadNotImplementedError, match="primitive inv"):
        f.lower(np.eye(3))
