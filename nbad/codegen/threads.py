"""Running a kernel's outer loop on several threads.

Kernels are compiled serial with `nogil=True` and take the bounds (lo, hi) of
their outer loop as arguments; the driver splits large loops across this
pool. Compared with Numba's `parallel=True` (prange), a kernel compiles once
and about 3x faster (measured: 0.17-0.19 s against 0.46-0.73 s for a loop
with exp and tanh), there is no OpenMP runtime to spin on a shared machine
(numba-facts §6), and the thread count can change at run time. A split costs
some 10-50 us of queueing and wake-up on a quiet machine (0.3 ms where a
virtual machine's idle core is slow to wake), so the planner only splits loops
whose work is large (driver.PARALLEL_MIN_WORK), and the loop is cut into
chunks that whoever is running takes in turn: the caller starts at once and
never waits for a worker that has not woken (_Job). Jobs go through one queue,
so concurrent callers from different Python threads share the workers safely.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

_CPUS = os.cpu_count() or 1
_tasks: queue.SimpleQueue = queue.SimpleQueue()
_workers: list[threading.Thread] = []
_lock = threading.Lock()


def num_threads() -> int:
    from nbad.config import config

    return config.num_threads or _CPUS


def _ensure_workers(n: int):
    if len(_workers) >= n:
        return
    with _lock:
        while len(_workers) < n:
            t = threading.Thread(target=_worker, name=f"nbad-worker-{len(_workers)}", daemon=True)
            t.start()
            _workers.append(t)


def split(n: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n))
    step, extra = divmod(n, parts)
    bounds, lo = [], 0
    for p in range(parts):
        hi = lo + step + (1 if p < extra else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


CHUNKS_PER_THREAD = 4


def max_parts() -> int:
    """The most parts `run` splits a loop into (per-part partial results need one slot each)."""
    return num_threads() * CHUNKS_PER_THREAD


class _Job:
    """One parallel loop: chunks handed out by a shared counter.

    Whoever is running takes the next chunk, so the caller never waits for a
    worker that has not started: on a virtual machine an idle core can take
    0.3 ms to wake (measured by a queue ping-pong), longer than many loops.
    A late worker finds the chunks gone and goes back to sleep."""

    __slots__ = ("fn", "chunks", "args", "per_part_args", "next", "done")

    def __init__(self, fn, chunks, args, per_part_args):
        self.fn, self.chunks, self.args, self.per_part_args = fn, chunks, args, per_part_args
        self.next = itertools.count()  # next() is atomic under the GIL
        self.done: queue.SimpleQueue = queue.SimpleQueue()

    def work(self):
        """Run chunks until none is left; each one reports to `done` (None or its error)."""
        while True:
            p = next(self.next)
            if p >= len(self.chunks):
                return
            lo, hi = self.chunks[p]
            try:
                extra = self.per_part_args(p) if self.per_part_args else ()
                self.fn(lo, hi, *(self.args + extra))
                self.done.put(None)
            except BaseException as e:  # re-raised in the calling thread
                self.done.put(e)


def _worker():
    while True:
        _tasks.get().work()


def run(fn, n: int, args: tuple, per_part_args=None, parts: int | None = None):
    """fn(lo, hi, *args) over [0, n) in parallel parts; returns the number of parts.

    per_part_args(p) -> extra trailing args of part p (e.g. its partial-result slot).
    `parts` (at most max_parts()) overrides the number of chunks.
    """
    chunks = split(n, parts or max_parts())
    job = _Job(fn, chunks, args, per_part_args)
    helpers = min(num_threads(), len(chunks)) - 1
    _ensure_workers(helpers)
    for _ in range(helpers):
        _tasks.put(job)
    job.work()
    error = None
    for _ in chunks:  # every chunk reports once, whoever ran it
        result = job.done.get()
        if result is not None and error is None:
            error = result
    if error is not None:
        raise error
    return len(chunks)


def blas_single_threaded() -> bool:
    """Whether the environment pins BLAS to one thread (then nbad may split a
    matrix product across its own threads without oversubscribing the cores)."""
    return any(os.environ.get(v) == "1" for v in
               ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
