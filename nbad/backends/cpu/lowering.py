"""The CPU backend's own rewrites before fusion (the pipeline runs the neutral
ones, compile/passes.py, first).

Matrix-vector products stay on BLAS when one operand is transposed (its rows
are strided; BLAS reads them better than a loop would); in a loop body a
matrix that is the same every step and has short rows is transposed once
before the loop (transpose_invariant_matrices).
"""
from __future__ import annotations

from nbad.compile.passes import fold_scalar_broadcasts, lower_dots, swap_transposed_products
from nbad.core.avals import ShapedArray
from nbad.core.ir import IR, Equation, Var
from nbad.core.typecheck import ir_pass
from nbad.rules.linalg import dot_general_p
from nbad.rules.shape import transpose_p


def lower(ir: IR, invariant_ids=None) -> IR:
    """The Backend.lower of the CPU: `invariant_ids`, for a loop body, are the
    ids of its inputs that are the same in every step (None for a program)."""
    if invariant_ids is not None:
        ir = transpose_invariant_matrices(ir, invariant_ids)
    return fold_scalar_broadcasts(lower_dots(swap_transposed_products(ir)))


SHORT_ROWS = 16  # a loop-invariant matrix with rows this short is read transposed


@ir_pass
def transpose_invariant_matrices(body: IR, invariant_ids: set) -> IR:
    """In a loop body: matrix-vector products of a matrix that is the same in every
    iteration and has short rows read a transposed copy instead, made once before
    the loop (backends/cpu/loops.py runs steps of invariants there). BLAS then streams
    long contiguous rows or columns: a 500 x 8 gemv and its transpose took 0.85 +
    0.97 us, on the transposed copy 0.62 + 0.48 us."""
    equations, copies = [], {}
    for eq in body.equations:
        found = _short_row_matrix(eq, invariant_ids)
        if found is None:
            equations.append(eq)
            continue
        side, x = found
        if x.id not in copies:
            copies[x.id] = Var(ShapedArray(x.aval.shape[::-1], x.aval.dtype))
            equations.append(Equation(transpose_p, [x], [copies[x.id]], {"permutation": (1, 0)}))
        (lc, rc), batch = eq.params["dimension_numbers"]
        contract = [lc, rc]
        contract[side] = (1 - contract[side][0],)
        ins = list(eq.inputs)
        ins[side] = copies[x.id]
        equations.append(Equation(eq.primitive, ins, eq.outputs,
                                  dict(eq.params, dimension_numbers=(tuple(contract), batch))))
    if not copies:
        return body
    return IR(body.inputs, equations, body.outputs, body.constvars, body.consts, name=body.name)


def _short_row_matrix(eq: Equation, invariant_ids: set):
    """(operand index, matrix) if eq is a matrix-vector product of an invariant
    matrix with short rows (and many of them)."""
    if eq.primitive is not dot_general_p or eq.outputs[0].aval.dtype.kind not in "fc":
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    if lb or rb or len(lc) != 1:
        return None
    for side, other in ((0, 1), (1, 0)):
        x, v = eq.inputs[side], eq.inputs[other]
        if (isinstance(x, Var) and x.id in invariant_ids and x.aval.ndim == 2 and v.aval.ndim == 1
                and x.aval.shape[1] <= SHORT_ROWS and x.aval.shape[0] >= 4 * x.aval.shape[1]):
            return side, x
    return None
