"""Timing and table helpers for benchmarks/run.py."""
from __future__ import annotations

import os
import time
import traceback

import numpy as np

# The flags nbad compiles with; the hand-written Numba peers use them too.
NUMBA_FLAGS = dict(fastmath={"reassoc", "contract", "arcp", "nsz"}, error_model="numpy")


def time_call(fn, *args, repeats=7, sample_seconds=0.02, sync=None):
    """Median seconds per call of ``fn(*args)`` after a warm-up call.

    Each of the ``repeats`` samples runs the call enough times to last about
    ``sample_seconds`` (so nanosecond-scale dispatch is measurable);
    ``sync(result)`` waits for asynchronous results (JAX's block_until_ready).
    """
    sync = sync or (lambda r: r)
    sync(fn(*args))
    start = time.perf_counter()
    sync(fn(*args))
    once = max(time.perf_counter() - start, 1e-8)
    number = max(1, int(sample_seconds / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            result = fn(*args)
        sync(result)
        samples.append((time.perf_counter() - start) / number)
    return float(np.median(samples))


def measure_peer(fn, args, *, repeats, sample_seconds, sync=None):
    """(compile: first call minus steady state, steady seconds per call, first result)."""
    first, result = first_call(fn, *args, sync=sync)
    steady = time_call(fn, *args, repeats=repeats, sample_seconds=sample_seconds, sync=sync)
    return max(first - steady, 0.0), steady, result


def record_error(errors, where, exc):
    """One peer failed: note it (the table goes on; NBAD_BENCH_TRACEBACK=1 prints the traceback)."""
    errors.append(f"{where}: {type(exc).__name__}: {exc}")
    if os.environ.get("NBAD_BENCH_TRACEBACK"):
        traceback.print_exc()


def first_call(fn, *args, sync=None):
    """(seconds taken by the first call, its result): compile plus one run."""
    sync = sync or (lambda r: r)
    start = time.perf_counter()
    result = sync(fn(*args))
    return time.perf_counter() - start, result


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def fmt_ratio(peer, ours):
    if peer is None or ours is None or ours <= 0:
        return "-"
    return f"{peer / ours:.2f}"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


RTOL = 1e-8
ATOL = 1e-12


def tree_allclose(a, b, rtol=RTOL, atol=ATOL):
    """Same structure (lists and tuples alike) and every leaf allclose."""
    if isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and len(a) == len(b)
                and all(tree_allclose(x, y, rtol, atol) for x, y in zip(a, b)))
    a = np.asarray(a)
    return a.shape == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol)


def correctness_mark(row) -> str:
    """The last column of a table: ✓, the peers that differ, or error."""
    if row["ok"]:
        return "✗ " + "; ".join(row["ok"])
    if "nbad" in row["missing"] or "numpy" in row["missing"]:
        return "error"
    return "✓"
