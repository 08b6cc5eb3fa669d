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


def _calls_per_sample(fn, args, sync, sample_seconds):
    start = time.perf_counter()
    sync(fn(*args))
    once = max(time.perf_counter() - start, 1e-8)
    return max(1, int(sample_seconds / once))


class Interleaved:
    """The peers of one table row, timed in turns so that a busy moment of the
    machine falls on all of them rather than on one.

    ``first(label, fn, args, sync)`` makes the first call now (compile plus one
    run: (seconds, result)); ``run()`` then takes ``repeats`` rounds, each one
    sample of every peer (a sample lasts about ``sample_seconds``), the peers'
    order rotating from round to round, and returns per label a ``Timing``:
    the median, min and max of its per-call times. A peer that fails while
    timed is left out of the result, its error recorded in ``errors``.
    """

    def __init__(self, repeats, sample_seconds, errors=None, where=""):
        self.repeats, self.sample_seconds = repeats, sample_seconds
        self.errors, self.where = errors, where
        self.peers = {}

    def first(self, label, fn, args, sync=None):
        sync = sync or (lambda r: r)
        seconds, result = first_call(fn, *args, sync=sync)
        self.peers[label] = (fn, args, sync)
        return seconds, result

    def run(self):
        number, failed = {}, set()
        for label, (fn, args, sync) in self.peers.items():
            try:
                sync(fn(*args))  # a second warm-up call: the first may have compiled
                number[label] = _calls_per_sample(fn, args, sync, self.sample_seconds)
            except Exception as e:
                self._failed(label, e, failed)
        samples = {label: [] for label in number}
        labels = list(number)
        for r in range(self.repeats if labels else 0):
            turn = r % len(labels)
            for label in labels[turn:] + labels[:turn]:
                if label in failed:
                    continue
                fn, args, sync = self.peers[label]
                try:
                    start = time.perf_counter()
                    for _ in range(number[label]):
                        result = fn(*args)
                    sync(result)
                    samples[label].append((time.perf_counter() - start) / number[label])
                except Exception as e:
                    self._failed(label, e, failed)
        return {label: Timing(float(np.median(s)), min(s), max(s))
                for label, s in samples.items() if s and label not in failed}

    def _failed(self, label, exc, failed):
        failed.add(label)
        if self.errors is not None:
            record_error(self.errors, f"{self.where} / {label}", exc)


class Timing:
    """Per-call seconds of one peer over interleaved rounds."""

    def __init__(self, median, low, high):
        self.median, self.low, self.high = median, low, high

    def __str__(self):
        return f"{fmt_time(self.median)} ({fmt_time(self.low)}–{fmt_time(self.high)})"


def fmt_timing(timing):
    """'median (min–max)', or '-' for a peer that did not run."""
    return "-" if timing is None else str(timing)


def blas_header(pinned):
    """A line on the BLAS libraries and their threads, for a table's header."""
    env = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (SciPy's BLAS: Numba's np.dot)
        import threadpoolctl

        libs = [f"{i['internal_api']} {i['version']} {i['num_threads']} threads "
                f"({os.path.basename(os.path.dirname(i['filepath']))})"
                for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    except Exception as e:
        libs = [f"threadpoolctl unavailable ({type(e).__name__}: {e})"]
    mode = ("pinned to one thread for every peer (--pin-blas)" if pinned
            else "as the environment sets them (what users get; --pin-blas pins them to one)")
    return (f"BLAS threads {mode}: {env}; {'; '.join(libs)}. "
            "nbad sets its own during its calls (1 inside products it splits, its thread count "
            "for products called whole), the caller's count restored after.")


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
