"""BLAS threads during a program's call: nbad's decision, not the environment's.

NumPy and SciPy each bundle an OpenBLAS with a thread pool of its own (the
driver's products call NumPy's; np.dot inside a Numba kernel calls SciPy's).
Left alone, each starts as many threads as OPENBLAS_NUM_THREADS/OMP_NUM_THREADS
or the core count say, and nbad's own threads, each calling BLAS in a split
product, multiply them: 4-6 busy-waiting threads on 2 cores (issue 17). So each
program that calls BLAS is built (driver.build_program) with a BLAS thread count
and runs with it (`with_threads`): one thread when nbad splits products across its own threads or runs steps side
by side (dataflow regions), all of nbad's threads when its products are called
whole. A product called whole in a program that splits others switches to
nbad's thread count around that one call (`switch`).

The counts are switched once per call, and only where they differ: at the start
of a call the libraries' current counts (the user's) are read, and at its end
they are put back, so the user's NumPy code outside nbad's calls keeps its
settings. Programs whose products are too small for OpenBLAS to thread
(below THREADED_MIN_FLOPS) and programs without BLAS are not wrapped at all.
Measured (benchmarks/blas_overhead.py, both OpenBLAS loaded, a 2-core machine
shared with other busy processes): +2.2-2.5 us a call when the counts already
agree, +3.1-5.4 us with a switch there and back, on the 11-18 us call of a
64 x 64 product; an enter/leave pair alone ~1.7 us. (threadpoolctl's
threadpool_limits context manager costs ~1.1 ms a use: it rescans the loaded
libraries; so the controllers are found once and called directly.)

Nested calls (a loop's body, a branch) set their own count and give the outer
call's back. Calls from several Python threads at once: the first to enter saves
the user's counts and the last to leave restores them; while calls of more than
one thread run, BLAS runs on one thread (they share nbad's pool and the cores).
"""
from __future__ import annotations

import importlib
import sys
import threading
from threading import get_ident

from nbad.core.typecheck import _sub_irs

# Primitives whose implementations call BLAS/LAPACK (NumPy's or SciPy's).
BLAS_PRIMITIVES = frozenset({"dot_general", "solve", "inv", "det", "cofactor", "slogdet",
                             "cholesky", "eigh", "lu", "triangular_solve", "qr", "svd", "eig"})
# OpenBLAS runs a GEMM on one thread up to m*n*k = 65536 * GEMM_MULTITHREAD_THRESHOLD
# (4 by default) multiply-adds (interface/gemm.c), whatever its count.
THREADED_MIN_FLOPS = 2 * 4 * 65536

_SCIPY_BLAS = "scipy.linalg.cython_blas"  # loads SciPy's OpenBLAS (what Numba's np.dot calls)

_lock = threading.RLock()
_libraries: list | None = None
_scanned_scipy = False
_calls: dict[int, list[int]] = {}  # thread -> the BLAS counts its running (nested) calls want
_saved: list = []    # the user's counts, read when the first call entered
_current: list = []  # the counts nbad last set, while a call runs


class _Library:
    """One BLAS library's thread-count functions.

    threadpoolctl's own setter, for a pthreads OpenBLAS, ignores every Python
    thread but the first that called it (its guard against threads fighting
    over the one pool); nbad is called from any thread and serialises its
    switches under its own lock, so it calls OpenBLAS's functions directly.
    """

    __slots__ = ("info", "get", "set")

    def __init__(self, controller):
        self.info = controller.info()
        symbol = getattr(controller, "_get_symbol", None)
        getter = setter = None
        if (symbol is not None and controller.internal_api == "openblas"
                and controller.threading_layer == "pthreads"):
            getter = symbol("openblas_get_num_threads")
            setter = symbol("openblas_set_num_threads")
        if getter is None or setter is None:
            getter, setter = controller.get_num_threads, controller.set_num_threads
        self.get, self.set = getter, setter


def libraries() -> list:
    """The BLAS libraries loaded in this process (scanned once, and again once
    SciPy's BLAS has been loaded)."""
    global _libraries, _scanned_scipy
    if _libraries is None or (not _scanned_scipy and _SCIPY_BLAS in sys.modules):
        with _lock:  # (not while calls run: they index the libraries' counts)
            if _libraries is None or not _calls:
                from threadpoolctl import ThreadpoolController

                _scanned_scipy = _SCIPY_BLAS in sys.modules
                found = ThreadpoolController().select(user_api="blas").lib_controllers
                _libraries = [_Library(c) for c in found]
    return _libraries


def info() -> list[dict]:
    """threadpoolctl's description of each BLAS library, with its current count."""
    return [dict(lib.info, num_threads=lib.get()) for lib in libraries()]


def _apply(want: int):
    """Set the libraries to `want` threads, or to one while calls of several
    threads run (under _lock)."""
    if len(_calls) > 1:
        want = 1
    for i, lib in enumerate(_libraries):
        if _current[i] != want:
            lib.set(want)
            _current[i] = want


def enter(num_threads: int):
    """Start of a program call that wants `num_threads` BLAS threads."""
    global _saved, _current
    me = get_ident()
    with _lock:
        wants = _calls.get(me)
        if wants is None:
            if not _calls:
                _saved = [lib.get() for lib in libraries()]
                _current = list(_saved)
            _calls[me] = [num_threads]
        else:
            wants.append(num_threads)
        _apply(num_threads)


def leave():
    """End of a program call: the user's counts come back with the last one."""
    me = get_ident()
    with _lock:
        wants = _calls[me]
        wants.pop()
        if not wants:
            del _calls[me]
        if not _calls:
            for i, lib in enumerate(_libraries):
                if _current[i] != _saved[i]:
                    lib.set(_saved[i])
        elif len(_calls) == 1:
            _apply(next(iter(_calls.values()))[-1])


def switch(num_threads: int):
    """Inside a program call: the BLAS threads for its next call sites."""
    with _lock:
        _calls[get_ident()][-1] = num_threads
        _apply(num_threads)


def with_threads(fn, num_threads: int):
    """`fn` run with `num_threads` BLAS threads, the user's counts restored after."""

    def program(*args):
        enter(num_threads)
        try:
            return fn(*args)
        finally:
            leave()

    program.__wrapped__ = fn
    return program


def _equations(ir):
    for eq in ir.equations:
        yield eq
        for sub in _sub_irs(eq.params):
            yield from _equations(sub)


def uses_threaded_blas(equations) -> bool:
    """Whether any of `equations` (or those of their sub-programs) calls BLAS on
    work large enough for more than one BLAS thread; loads SciPy's BLAS if a
    sub-program's product will run inside a Numba kernel (np.dot there calls
    SciPy's, and its thread count must be set too)."""
    found = False
    for eq in equations:
        nested = [e for sub in _sub_irs(eq.params) for e in _equations(sub)]
        for e in [eq] + nested:
            if e.primitive.name in BLAS_PRIMITIVES and _large(e):
                found = True
                if e is not eq:
                    importlib.import_module(_SCIPY_BLAS)
    return found


def _large(eq) -> bool:
    if eq.primitive.name != "dot_general":
        return True
    (lc, _), _ = eq.params["dimension_numbers"]
    contraction = 1
    for d in lc:
        contraction *= eq.inputs[0].aval.shape[d]
    return 2 * eq.outputs[0].aval.size * contraction >= THREADED_MIN_FLOPS
