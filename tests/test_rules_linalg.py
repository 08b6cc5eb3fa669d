"""dot_general: every fast path and the general path against np.einsum."""
import string

import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.errors import NbadTypeError, NbadValueError, ShapeError
from nbad.rules.linalg import dot_general_p

rng = np.random.default_rng(0)

def einsum_reference(lhs, rhs, dims):
    """lax.dot_general's definition spelled as an einsum: shared labels for
    contracting and batch pairs; output = batch, lhs free, rhs free."""
    (lc, rc), (lb, rb) = dims
    letters = iter(string.ascii_letters)
    lhs_labels = [next(letters) for _ in range(lhs.ndim)]
    rhs_labels = [next(letters) for _ in range(rhs.ndim)]
    for i, j in zip(lc + lb, rc + rb):
        rhs_labels[j] = lhs_labels[i]
    out = ([lhs_labels[i] for i in lb]
           + [lab for i, lab in enumerate(lhs_labels) if i not in lc + lb]
           + [lab for j, lab in enumerate(rhs_labels) if j not in rc + rb])
    spec = f"{''.join(lhs_labels)},{''.join(rhs_labels)}->{''.join(out)}"
    return np.einsum(spec, lhs, rhs)


# (lhs shape, rhs shape, dimension_numbers): one case per impl path.
CASES = [
    ((5,), (5,), (((0,), (0,)), ((), ()))),                 # vector . vector
    ((3, 5), (5,), (((1,), (0,)), ((), ()))),               # matrix . vector
    ((5, 3), (5,), (((0,), (0,)), ((), ()))),               # matrix.T . vector
    ((5,), (5, 4), (((0,), (0,)), ((), ()))),               # vector . matrix
    ((5,), (4, 5), (((0,), (1,)), ((), ()))),               # vector . matrix.T
    ((3, 5), (5, 4), (((1,), (0,)), ((), ()))),             # matrix . matrix
    ((5, 3), (5, 4), (((0,), (0,)), ((), ()))),             # A.T B
    ((3, 5), (4, 5), (((1,), (1,)), ((), ()))),             # A B.T
    ((5, 3), (4, 5), (((0,), (1,)), ((), ()))),             # A.T B.T
    ((3,), (4, 2), ((((), ()), ((), ())))),                 # outer product
    ((2, 3, 5), (2, 5, 4), (((2,), (1,)), ((0,), (0,)))),   # batched matmul
    ((2, 5, 3), (2, 4, 5), (((1,), (2,)), ((0,), (0,)))),   # batched, both transposed
    ((2, 5), (2, 5, 4), (((1,), (1,)), ((0,), (0,)))),      # batched vector . matrix
    ((2, 3, 5), (2, 5), (((2,), (1,)), ((0,), (0,)))),      # batched matrix . vector
    ((2, 5), (2, 5), (((1,), (1,)), ((0,), (0,)))),         # batched vector . vector
    ((6, 2, 3, 5), (6, 2, 5, 4), (((3,), (2,)), ((0, 1), (0, 1)))),  # two batch dims
    ((3, 2, 5, 7), (7, 5, 2, 4), (((2, 3), (1, 0)), ((1,), (2,)))),  # general
    ((4, 3, 5), (5, 6, 4), (((2,), (0,)), ((0,), (2,)))),   # batch dims not leading
]


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_impl_matches_einsum(lhs_shape, rhs_shape, dims, dtype):
    lhs = (rng.standard_normal(lhs_shape) * 4).astype(dtype)
    rhs = (rng.standard_normal(rhs_shape) * 4).astype(dtype)
    out = dot_general_p.impl(lhs, rhs, dimension_numbers=dims)
    want = einsum_reference(lhs, rhs, dims)
    assert out.dtype == np.dtype(dtype)
    aval = dot_general_p.abstract_eval(ShapedArray(lhs_shape, dtype), ShapedArray(rhs_shape, dtype),
                                       dimension_numbers=dims)
    assert aval.shape == want.shape and aval.dtype == np.dtype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=rtol, atol=rtol)


def test_bool_operands():
    a = rng.random((3, 4)) > 0.5
    b = rng.random((4, 2)) > 0.5
    out = dot_general_p.impl(a, b, dimension_numbers=(((1,), (0,)), ((), ())))
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, np.dot(a, b))


def test_contracting_size_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"\(3, 5\).*\(4, 2\)"):
        dot_general_p.abstract_eval(ShapedArray((3, 5), np.float64), ShapedArray((4, 2), np.float64),
                                    dimension_numbers=(((1,), (0,)), ((), ())))


def test_mixed_dtypes_and_bad_axes_raise():
    f64, f32 = ShapedArray((3,), np.float64), ShapedArray((3,), np.float32)
    with pytest.raises(NbadTypeError, match="one dtype"):
        dot_general_p.abstract_eval(f64, f32, dimension_numbers=(((0,), (0,)), ((), ())))
    with pytest.raises(NbadValueError, match="invalid"):
        dot_general_p.abstract_eval(f64, f64, dimension_numbers=(((1,), (0,)), ((), ())))


def test_traced_and_evaluated():
    x = rng.standard_normal((3, 5))
    y = rng.standard_normal((5, 4))
    dims = (((1,), (0,)), ((), ()))
    ir = trace_to_ir(lambda a, b: [dot_general_p.bind(a, b, dimension_numbers=dims)],
                     [ShapedArray(x.shape, x.dtype), ShapedArray(y.shape, y.dtype)])
    assert "dot_general" in str(ir) and "f64[3,4]" in str(ir)
    (out,) = eval_ir(ir, [x, y])
    np.testing.assert_allclose(out, x @ y)
