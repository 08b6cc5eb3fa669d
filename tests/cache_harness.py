"""Shared by the disk-cache tests: a script run in a fresh process (its own
NBAD_CACHE_DIR) that jits a few functions and prints a JSON report, and
helpers to find the cache's files."""
import glob
import json
import os
import subprocess
import sys
import shutil
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One jitted function with one kernel (SELU), run in a fresh process; prints a JSON report.
SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import nbad
        import nbad.numpy as jnp
        from nbad.backends.cpu import kernels as cpu

        def selu(x):
            return 1.0507 * jnp.where(x > 0, x, 1.67326 * jnp.exp(x) - 1.67326)

        def poly(x):
            return x * x + x * 2.0 - 1.0

        def softmax(x):
            e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
            return e / jnp.sum(e, axis=-1, keepdims=True)

        def cube(x):
            return jnp.tanh(x) * x + 1.0

        funcs = {"selu": selu, "poly": poly, "softmax": softmax, "cube": cube}
        names = sys.argv[1].split(",") if len(sys.argv) > 1 else ["selu"]
        x = np.linspace(-3.0, 3.0, 101)
        ok = True
        results = {}
        for name in names:
            y = np.asarray(nbad.jit(funcs[name])(x))
            expect = {"selu": lambda: 1.0507 * np.where(x > 0, x, 1.67326 * np.expm1(x)),
                      "poly": lambda: x * x + x * 2.0 - 1.0,
                      "softmax": lambda: np.exp(x - x.max()) / np.exp(x - x.max()).sum(),
                      "cube": lambda: np.tanh(x) * x + 1.0}[name]()
            ok = ok and bool(np.allclose(y, expect, rtol=1e-12, atol=1e-12))
            results[name] = y.tobytes().hex()
    stats = [k.dispatcher().stats for k in cpu.KERNELS.values()]
    print(json.dumps({
        "ok": ok,
        "results": results,
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
        "disk": [k.disk_name for k in cpu.KERNELS.values()],
        "warnings": [str(w.message) for w in caught
                     if issubclass(w.category, nbad.cache.NbadCacheWarning)],
    }))
""")


def _env(cache_dir, **extra):
    env = dict(os.environ, NBAD_CACHE_DIR=str(cache_dir), NBAD_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("NBAD_CACHE", None)
    env.pop("NBAD_CACHE_MAX_BYTES", None)
    env.pop("NUMBA_CACHE_DIR", None)
    env.update(extra)
    return env


def run_script(cache_dir, funcs="selu", **extra):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, funcs], capture_output=True, text=True,
                          timeout=300, env=_env(cache_dir, **extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _metas(cache_dir):
    return [json.load(open(p)) for p in glob.glob(os.path.join(cache_dir, "programs", "*", "meta.json"))]


def _entry_files(d):
    module = glob.glob(os.path.join(d, "kernels", "k_*.py"))
    nbc = glob.glob(os.path.join(d, "kernels", "__pycache__", "*.nbc"))
    meta = glob.glob(os.path.join(d, "programs", "*", "meta.json"))
    assert len(module) == len(nbc) == len(meta) == 1, (module, nbc, meta)
    assert not glob.glob(os.path.join(d, "kernels", "__pycache__", "*.nbi"))  # no index file
    return {"module": module[0], "nbc": nbc[0], "meta": meta[0]}




@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A cache holding SELU, filled once by a cold process."""
    d = tmp_path_factory.mktemp("populated") / "cache"
    r = run_script(d)
    assert r["ok"] and r["misses"] == 1 and r["hits"] == 0 and r["warnings"] == [], r
    return d


@pytest.fixture
def warm(populated, tmp_path):
    d = tmp_path / "cache"
    shutil.copytree(populated, d)
    return d


@pytest.fixture(scope="module")
def two_kernels(tmp_path_factory):
    """A cache holding poly and cube: two kernels of the same signature."""
    d = tmp_path_factory.mktemp("two") / "cache"
    r = run_script(d, "poly,cube")
    assert r["ok"] and r["misses"] == 2 and r["warnings"] == [], r
    return d, r


@pytest.fixture
def warm2(two_kernels, tmp_path):
    d = tmp_path / "cache"
    shutil.copytree(two_kernels[0], d)
    return d
