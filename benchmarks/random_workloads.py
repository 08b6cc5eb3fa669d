"""The `random` table of benchmarks/run.py (issue 13): nbad.random's draws vs
JAX jit and NumPy's Generator.

Each row draws from one key inside jit (nbad and JAX; JAX with x64 on, its key
created beforehand, block_until_ready) and with numpy.random.default_rng(0)
(its own stream: NumPy cannot draw JAX's numbers). The last column compares
nbad's draw with JAX's: "bits" where they are identical, "≤ N ulp" for the
largest difference otherwise.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from _common import fmt_ratio, fmt_time, markdown_table, measure_peer, record_error


@dataclass
class RandomWorkload:
    name: str
    draw: Callable          # draw(random_module, key) -> array (nbad.random or jax.random)
    numpy: Callable         # numpy(rng) -> array


def random_workloads():
    return [
        RandomWorkload("normal_1000x1000", lambda r, k: r.normal(k, (1000, 1000)),
                       lambda rng: rng.standard_normal((1000, 1000))),
        RandomWorkload("normal_1000x1000_f32", lambda r, k: r.normal(k, (1000, 1000), np.float32),
                       lambda rng: rng.standard_normal((1000, 1000), np.float32)),
        RandomWorkload("uniform_1e7", lambda r, k: r.uniform(k, (10 ** 7,)),
                       lambda rng: rng.random(10 ** 7)),
        RandomWorkload("uniform_1e7_f32", lambda r, k: r.uniform(k, (10 ** 7,), np.float32),
                       lambda rng: rng.random(10 ** 7, np.float32)),
    ]


def _agreement(ours, theirs) -> str:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return f"✗ {ours.dtype}{ours.shape} vs {theirs.dtype}{theirs.shape}"
    if np.array_equal(ours, theirs):
        return "bits"
    ulps = np.abs(ours.astype(np.float64) - theirs) / np.spacing(np.abs(theirs)).astype(np.float64)
    return f"≤ {ulps.max():.0f} ulp"


def random_table(selected, quick, repeats, errors):
    import nbad
    import nbad.random

    try:
        import jax
        jax.config.update("jax_enable_x64", True)
    except ImportError:
        jax = None
    sample = 0.05 if quick else 0.2
    rows, failed = [], False
    for w in selected:
        print(f"running {w.name} ...", file=sys.stderr, flush=True)
        r = {}
        for label in ("nbad", "jax", "numpy"):
            r[label] = r[label + "_compile"] = r[label + "_result"] = None
            try:
                if label == "nbad":
                    fn, args, sync = nbad.jit(lambda k: w.draw(nbad.random, k)), (nbad.random.PRNGKey(0),), None
                elif label == "jax":
                    if jax is None:
                        continue
                    fn = jax.jit(lambda k: w.draw(jax.random, k))
                    args, sync = (jax.random.PRNGKey(0),), lambda x: x.block_until_ready()
                else:
                    rng = np.random.default_rng(0)
                    fn, args, sync = (lambda: w.numpy(rng)), (), None
                compile_time, r[label], r[label + "_result"] = measure_peer(
                    fn, args, repeats=repeats, sample_seconds=sample, sync=sync)
                if label != "numpy":
                    r[label + "_compile"] = compile_time
            except Exception as e:  # one broken peer must not hide the other columns
                failed |= label == "nbad"
                record_error(errors, f"{w.name} / {label}", e)
        agree = "-" if r["jax_result"] is None or r["nbad_result"] is None else \
            _agreement(r["nbad_result"], r["jax_result"])
        failed |= agree.startswith("✗")
        rows.append([w.name, fmt_time(r["nbad"]), fmt_time(r["jax"]), fmt_time(r["numpy"]),
                     fmt_ratio(r["jax"], r["nbad"]), fmt_ratio(r["numpy"], r["nbad"]),
                     fmt_time(r["nbad_compile"]), fmt_time(r["jax_compile"]), agree])
    header = ["random", "nbad", "JAX", "NumPy Generator", "JAX/nbad", "NumPy/nbad", "nbad compile",
              "JAX compile", "nbad = JAX"]
    print(markdown_table(header, rows))
    print("\nnbad and JAX: jit(lambda key: draw(key)) with PRNGKey(0) (threefry2x32, partitionable, "
          "as JAX's default); float64 unless _f32. NumPy: default_rng(0).standard_normal / .random, "
          "a different stream.")
    return failed
