"""The CUDA backend as the pipeline sees it (nbad/compile/pipeline.py).

Its lowering is the CPU's without transpose_invariant_matrices (a BLAS layout
choice): products that are not matrix-matrix become fused loops, the rest
the tiled matmul (matmul.py).
"""
from __future__ import annotations

from nbad.backends.cuda import program
from nbad.compile.passes import fold_scalar_broadcasts, lower_dots, swap_transposed_products
from nbad.compile.pipeline import Backend


def _lower(ir, invariant_ids=None):
    return fold_scalar_broadcasts(lower_dots(swap_transposed_products(ir)))


def _build(plan, single_output: bool):
    return program.build_program(plan, single_output=single_output)


BACKEND = Backend("cuda", lower=_lower, build=_build)
