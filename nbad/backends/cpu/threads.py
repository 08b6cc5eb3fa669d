"""Running a kernel's outer loop on several threads.

Kernels are compiled serial with `nogil=True` and take the bounds (lo, hi) of
their outer loop as arguments; the driver splits large loops across this
pool. Compared with Numba's `parallel=True` (prange), a kernel compiles once
and about 3x faster (measured: 0.17-0.19 s against 0.46-0.73 s for a loop
with exp and tanh), there is no OpenMP runtime to spin on a shared machine
(numba-facts §6), and the thread count can change at run time. A split costs
some 10-50 us of queueing and wake-up on a quiet machine (0.3 ms where a
virtual machine's idle core is slow to wake), so the planner only splits loops
whose work is large (calls.PARALLEL_MIN_WORK), and the loop is cut into
chunks that whoever is running takes in turn: the caller starts at once and
never waits for a worker that has not woken (_Job). Jobs go through one queue,
so concurrent callers from different Python threads share the workers safely.
"""
from __future__ import annotations

import bisect
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


def _share(job, parts: int):
    """Queue `job` (a _Job or _Graph) for up to parts - 1 workers, and work on it here."""
    helpers = min(num_threads(), parts) - 1
    _ensure_workers(helpers)
    for _ in range(helpers):
        _tasks.put(job)
    job.work()


def run(fn, n: int, args: tuple, per_part_args=None, parts: int | None = None):
    """fn(lo, hi, *args) over [0, n) in parallel parts; returns the number of parts.

    per_part_args(p) -> extra trailing args of part p (e.g. its partial-result slot).
    `parts` (at most max_parts()) overrides the number of chunks.
    """
    chunks = split(n, parts or max_parts())
    job = _Job(fn, chunks, args, per_part_args)
    _share(job, len(chunks))
    error = None
    for _ in chunks:  # every chunk reports once, whoever ran it
        result = job.done.get()
        if result is not None and error is None:
            error = result
    if error is not None:
        raise error
    return len(chunks)


class _Graph:
    """One run of a task graph (backends/cpu/dataflow.py): every thread that joins
    takes the ready task of highest index until none is left. A task's
    successors become ready when their last predecessor is done; whoever
    finished it runs one of them next, so a chain stays on one thread and only
    extra ready tasks wake an idle one."""

    __slots__ = ("tasks", "succs", "waiting", "ready", "left", "running", "error", "cond")

    def __init__(self, tasks, npred, succs, ready):
        self.tasks, self.succs = tasks, succs
        self.waiting = list(npred)
        self.ready = list(ready)  # ascending: the highest index (rank) is taken first
        self.left = len(tasks)
        self.running = 0
        self.error = None
        self.cond = threading.Condition(threading.Lock())

    def work(self):
        cond = self.cond
        with cond:
            while True:
                while not self.ready and self.left and self.error is None:
                    cond.wait()
                if not self.left or self.error is not None:
                    return
                i = self.ready.pop()
                self.running += 1
                cond.release()
                try:
                    self.tasks[i]()
                    failed = None
                except BaseException as e:  # re-raised in the calling thread
                    failed = e
                finally:
                    cond.acquire()
                self.running -= 1
                if failed is not None and self.error is None:
                    self.error = failed
                if self.error is not None:  # start nothing more; join() waits for the rest
                    cond.notify_all()
                    return
                self.left -= 1
                for s in self.succs[i]:
                    self.waiting[s] -= 1
                    if not self.waiting[s]:
                        bisect.insort(self.ready, s)
                if not self.left:
                    cond.notify_all()
                elif len(self.ready) > 1:
                    cond.notify(len(self.ready) - 1)  # this thread takes one itself

    def join(self):
        """Wait until no task is running (after an error, none starts)."""
        with self.cond:
            while self.running or (self.left and self.error is None):
                self.cond.wait()


def run_graph(tasks, graph):
    """Run `tasks` (callables) as a dataflow graph across nbad's threads.

    graph = (npred, succs, ready): each task's number of predecessors, each
    task's successors, and the tasks with none (ascending). Task indices rank
    the tasks: of those ready, the highest runs first. Returns when all have
    run; the first error raised by a task is re-raised once no task runs."""
    npred, succs, ready = graph
    job = _Graph(tasks, npred, succs, ready)
    _share(job, len(tasks))
    job.join()
    if job.error is not None:
        raise job.error
