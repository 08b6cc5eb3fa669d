"""What nbad's BLAS thread switching (nbad/backends/cpu/blas.py) costs a call.

    python benchmarks/blas_overhead.py [--repeats N]

Times a tiny jitted program with one matrix product just large enough for
OpenBLAS to thread (64 x 64 @ 64 x 64: nbad wraps it), called as nbad calls it
(the user's counts read, nbad's set, the user's restored) and its driver called
bare, in interleaved rounds; with the user's BLAS count equal to nbad's (no
switch: two reads) and different (a switch there and back). Prints the
per-call overhead in microseconds, median (min–max) of the paired differences.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.dirname(_HERE)]

import scipy.linalg.cython_blas  # noqa: E402,F401  (SciPy's BLAS too, as once Numba's np.dot has run)
import threadpoolctl  # noqa: E402

import nbad  # noqa: E402
from nbad.backends.cpu import blas  # noqa: E402


def _per_call(fn, args, number):
    start = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - start) / number


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    a = np.random.default_rng(0).standard_normal((64, 64))
    f = nbad.jit(lambda x, y: x @ y)
    f(a, a)
    program = f.lower(a, a).compile().program
    wrapped, bare = program.fn, getattr(program.fn, "__wrapped__", None)
    if bare is None:
        print("this program is not wrapped (no BLAS switching)")
        return 1
    print(program.source.splitlines()[0])
    wants = int(program.source.split("BLAS: ")[1].split()[0])
    for user in sorted({wants, 1 if wants > 1 else 2}):
        with threadpoolctl.threadpool_limits(user, user_api="blas"):
            diffs = []
            for _ in range(args.repeats):
                diffs.append(_per_call(wrapped, (a, a), 2000) - _per_call(bare, (a, a), 2000))
            base = _per_call(bare, (a, a), 2000)
        kind = "no switch" if user == wants else "switch and back"
        print(f"user BLAS threads {user}, nbad's {wants} ({kind}): +{np.median(diffs) * 1e6:.2f} µs "
              f"({min(diffs) * 1e6:.2f}–{max(diffs) * 1e6:.2f}) a call, on a {base * 1e6:.1f} µs call; "
              f"{len(blas.libraries())} BLAS libraries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
