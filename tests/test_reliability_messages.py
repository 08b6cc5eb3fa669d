"""Error messages that name the mistake and the fix (issue 14, "Unclear messages")."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.errors import NbadError, TracerArrayConversionError

X = np.arange(3.0)
_double = nbad.jit(lambda v: X + v)  # NumPy's operators on a tracer run as nbad.numpy


def test_numpy_ufunc_on_a_tracer_points_to_nbad_numpy():
    with pytest.raises(TracerArrayConversionError, match=r"numpy.sin .*Use nbad.numpy.sin"):
        nbad.jit(lambda v: np.sin(v))(X)
    with pytest.raises(TracerArrayConversionError, match=r"numpy.add.reduce"):
        nbad.jit(lambda v: np.add.reduce(v))(X)
    with pytest.raises(TracerArrayConversionError, match=r"numpy.exp .*Use nbad.numpy.exp"):
        nbad.grad(lambda v: np.exp(v))(1.0)


def test_numpy_operators_on_tracers_still_compute():
    np.testing.assert_array_equal(_double(X), 2 * X)
    np.testing.assert_array_equal(nbad.jit(lambda v: np.multiply(X, v) < v)(X), X * X < X)


def test_numpy_in_place_operator_with_a_tracer_says_what_to_write():
    def accumulate(v):
        a = np.ones(3)
        a += v
        return a

    with pytest.raises(TracerArrayConversionError, match="a = a \\+ v"):
        nbad.jit(accumulate)(X)


def test_where_with_one_argument_says_what_to_use():
    expected = "nonzero" if hasattr(jnp, "nonzero") else "numpy.nonzero"
    with pytest.raises(ValueError, match=f"where\\(condition, x, y\\).*{expected}"):
        nbad.jit(lambda v: jnp.where(v > 0))(X)
    with pytest.raises(ValueError, match="both x and y"):
        jnp.where(X > 0, X)


def test_python_int_beyond_int64_names_the_argument():
    with pytest.raises(OverflowError, match=r"jit\(add_big\): argument 'y'.*too large"):
        def add_big(x, y):
            return x + y

        nbad.jit(add_big)(np.ones(2), 2 ** 70)
    with pytest.raises(OverflowError, match="too large to convert to int64"):
        jnp.array(2 ** 70)
    with pytest.raises(OverflowError, match="too large"):
        jnp.add(np.ones(2), -(2 ** 64))


@pytest.mark.parametrize("call, match", [
    (lambda: jnp.zeros((-1,)), r"zeros: negative dimensions .* \(-1,\)"),
    (lambda: jnp.ones((2, -3)), r"ones: negative dimensions"),
    (lambda: jnp.tile(np.ones(2), -1), r"tile: reps must be non-negative"),
    (lambda: jnp.repeat(np.ones(2), -1), r"repeat: repeats must be non-negative"),
    (lambda: jnp.repeat(np.ones(2), [1, -1]), r"repeat: repeats must be non-negative"),
    (lambda: jnp.reshape(2.0, 3), r"reshape: cannot reshape an array of shape \(\) \(size 1\) into "
                                  r"shape \(3,\)"),
    (lambda: jnp.reshape(np.ones(6), (2.0, 3)), r"reshape: the new shape must be .* integers"),
    (lambda: jnp.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5))),
     r"matmul: the batch dimensions \(2,\) and \(3,\)"),
], ids=["zeros", "ones", "tile", "repeat", "repeat_list", "reshape_size", "reshape_float",
        "matmul_batch"])
def test_shape_arguments_get_nbad_messages(call, match):
    with pytest.raises(NbadError, match=match):
        call()


def test_traced_slice_bound_says_what_to_use():
    with pytest.raises(IndexError, match="Slice entries must be static integers"):
        nbad.jit(lambda a, i: a[i:i + 2])(X, 1)


def test_eager_and_jit_errors_agree():
    """An eager primitive that NumPy rejects re-raises what nbad says under jit (eager
    binds skip abstract evaluation, for speed)."""
    from nbad.rules.elementwise import add_p
    from nbad.rules.shape import reshape_p

    for fn in (lambda a: jnp.reshape(a, (4,)), lambda a: jnp.broadcast_to(a, (4,)),
               lambda a: add_p.bind(a, np.ones(4)), lambda a: reshape_p.bind(a, new_sizes=(4,))):
        with pytest.raises(NbadError) as eager:
            fn(X)
        with pytest.raises(NbadError) as traced:
            nbad.jit(fn)(X)
        assert type(eager.value) is type(traced.value)
        assert str(eager.value) == str(traced.value)


def test_concretization_message_suggests_only_control_flow_that_exists():
    with pytest.raises(nbad.errors.ConcretizationError) as info:
        nbad.jit(lambda v: 1.0 if v > 0 else 2.0)(1.0)
    for name in ("cond", "while_loop", "fori_loop"):
        assert (f"nbad.lax.{name}" in str(info.value)) == hasattr(nbad.lax, name)
