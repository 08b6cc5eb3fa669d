"""The CPU backend: fused kernels as Numba source, run by a generated driver.

    backend.py      the Backend the pipeline (nbad/compile/pipeline.py) uses
    lowering.py     its rewrites before fusion (Backend.lower)
    kernels.py      a fused kernel's Numba source and its compiled dispatcher
    mathlib*.py     vectorisable math the kernels call (float64, float32, random bits)
    driver.py       one plan as a generated Python function: kernel calls,
                    BLAS and library steps, buffers (build_program = Backend.build)
    threads.py      splitting a kernel's outer loop across threads
    dataflow.py     independent steps run at once on nbad's threads
    blas.py         BLAS thread counts during nbad's calls
    recycle.py, inplace.py   buffer reuse between calls and in-place updates
    loops.py        scan and while loops as native Numba loops
    branches.py     cond: one program per branch
"""
