"""Exception classes (issue 14): nbad's errors derive from the builtin class JAX raises
for the same mistake, eagerly and under jit alike."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.errors import NbadError

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

A3, A4 = np.ones(3), np.ones(4)

# (id, call(lib, np_)): each raises in JAX and in nbad, eagerly and under jit.
CASES = [
    ("broadcast", lambda lib, np_: np_.add(A3, A4)),
    ("where", lambda lib, np_: np_.where(A3 > 0, A3, A4)),
    ("matmul_0d", lambda lib, np_: np_.matmul(np.ones(()), A3)),
    ("matmul_batch", lambda lib, np_: np_.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))),
    ("dot", lambda lib, np_: np_.dot(A3, A4)),
    ("stack", lambda lib, np_: np_.stack([A3, A4])),
    ("concatenate", lambda lib, np_: np_.concatenate([np.ones((2, 2)), np.ones((3, 3))])),
    ("einsum_sizes", lambda lib, np_: np_.einsum("i,i->", A3, A4)),
    ("solve", lambda lib, np_: np_.linalg.solve(np.eye(3), A4)),
    ("det_non_square", lambda lib, np_: np_.linalg.det(np.ones((2, 3)))),
    ("broadcast_to", lambda lib, np_: np_.broadcast_to(A3, (4,))),
    ("at_set", lambda lib, np_: np_.asarray(A3).at[0:2].set(np_.ones(3))),
    ("reshape", lambda lib, np_: np_.reshape(A3, (4,))),
    ("float_index", lambda lib, np_: np_.asarray(A3)[1.0]),
    ("vmap_sizes", lambda lib, np_: lib.vmap(lambda x, y: x + y)(np.ones((2, 3)), np.ones((3, 3)))),
]


def _builtin_classes(error):
    return {c for c in type(error).__mro__ if c.__module__ == "builtins" and c not in
            (Exception, BaseException, object)}


def _jax_class(call):
    """The builtin class of the error JAX raises (JAX's own classes derive from one)."""
    with pytest.raises(Exception) as info:
        call(jax, jjnp)
    return next(c for c in type(info.value).__mro__ if c.__module__ == "builtins")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_classes_match_jax_eagerly_and_under_jit(case):
    _, call = case
    want = _jax_class(call)
    with pytest.raises(want) as eager:
        call(nbad, jnp)
    assert isinstance(eager.value, NbadError)
    with pytest.raises(want) as traced:
        nbad.jit(lambda: call(nbad, jnp))()
    assert _builtin_classes(eager.value) == _builtin_classes(traced.value)


@pytest.mark.parametrize("call", [
    lambda lib, np_: np_.array(None),
    lambda lib, np_: np_.arange(0, 5, 0),
    lambda lib, np_: np_.array(2 ** 70),
    lambda lib, np_: lib.grad(lambda x: x, argnums=2)(1.0),
    lambda lib, np_: lib.grad(lambda x: x, argnums=-2)(1.0),
    lambda lib, np_: lib.jit(lambda a, i: a[i:i + 2])(np.arange(5.0), 1),
    lambda lib, np_: lib.jit(lambda x: np.sin(x))(1.0),
    lambda lib, np_: np_.zeros((-1,)),
], ids=["array_none", "arange_step_0", "int_beyond_int64", "argnums_beyond", "argnums_negative",
        "traced_slice_start", "numpy_ufunc_on_tracer", "negative_shape"])
def test_other_error_classes_match_jax(call):
    with pytest.raises(_jax_class(call)) as info:
        call(nbad, jnp)
    assert isinstance(info.value, NbadError)


def test_shape_errors_are_both_value_and_type_errors():
    """jax.numpy raises ValueError for shape mistakes, jax.lax TypeError: either except works."""
    for cls in (ValueError, TypeError):
        with pytest.raises(cls):
            nbad.jit(lambda x, y: x + y)(A3, A4)
