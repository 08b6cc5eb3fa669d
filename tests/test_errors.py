"""Every misuse gets an nbad error naming the problem and the fix (DESIGN §1).

nbad's exceptions derive from the builtin class JAX raises for the same
mistake, so `except TypeError` code written for JAX keeps working.
"""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import errors


def test_python_if_on_traced_value_suggests_the_fixes():
    @nbad.jit
    def relu(x):
        if x > 0:
            return x
        return 0.0 * x

    with pytest.raises(errors.ConcretizationError) as info:
        relu(np.float64(1.0))
    msg = str(info.value)
    assert "bool()" in msg and "bool[]" in msg and "jit(relu)" in msg
    assert "static_argnums" in msg and "where" in msg
    assert "nbad.lax.cond" in msg and "nbad.lax.while_loop" in msg
    assert isinstance(info.value, TypeError)


def test_int_of_traced_value_under_jit():
    with pytest.raises(errors.ConcretizationError, match="int()"):
        nbad.jit(lambda n: jnp.ones(3) * int(n))(3)


def test_numpy_conversion_of_a_tracer():
    with pytest.raises(errors.TracerArrayConversionError, match="nbad.numpy") as info:
        nbad.jit(lambda x: np.sin(np.asarray(x)))(np.ones(3))
    assert isinstance(info.value, TypeError)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(errors.ShapeError, match=r"\(3,\).*\(4,\)"):
        nbad.jit(lambda a, b: a + b)(np.ones(3), np.ones(4))


def test_unhashable_static_argument():
    f = nbad.jit(lambda x, axes: jnp.sum(x, axis=axes), static_argnums=1)
    with pytest.raises(errors.NbadValueError, match="Non-hashable static.*tuple") as info:
        f(np.ones((2, 3)), [0])
    assert isinstance(info.value, ValueError)
    assert f(np.ones((2, 3)), (0,)).shape == (3,)


def test_in_place_assignment_points_to_at():
    def f(x):
        x[0] = 1.0
        return x

    with pytest.raises(errors.InPlaceUpdateError, match=r"x\.at\[idx\]\.set\(y\)"):
        nbad.jit(f)(np.zeros(3))


def test_leaked_tracer_is_reported():
    leaked = []

    @nbad.jit
    def f(x):
        leaked.append(x)
        return x * 2.0

    f(np.ones(2))
    with pytest.raises(errors.UnexpectedTracerError, match="leaked tracer"):
        jnp.sin(leaked[0])


def test_bad_argument_type_names_the_argument():
    with pytest.raises(errors.NbadTypeError, match="str") as info:
        nbad.jit(lambda x: x)("hello")
    assert isinstance(info.value, TypeError)


def test_jit_of_non_callable():
    with pytest.raises(TypeError, match="callable"):
        nbad.jit(3)


def test_returning_a_non_array():
    with pytest.raises(errors.NbadTypeError, match="must return arrays"):
        nbad.jit(lambda x: "text")(np.ones(2))


def test_float16_is_rejected_with_advice():
    with pytest.raises(errors.NbadTypeError, match="float32"):
        nbad.jit(lambda x: x + 1)(np.ones(2, dtype=np.float16))
