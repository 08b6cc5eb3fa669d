"""nbad.nn (jax.nn): activations, softmax, one_hot, standardize.

Names, arguments and formulas follow jax.nn, so results agree with JAX to
rounding; dtypes follow nbad's NumPy rules (integers compute in float64,
Python-scalar parameters such as `alpha` do not upcast float32). Every
formulation is the numerically stable one: softplus never overflows,
softmax/log_softmax shift by the maximum, and the branch not taken by
`where` is kept finite so derivatives are finite too.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.core.trace import bind, bind_nullary
from nbad.custom_derivatives import custom_jvp
from nbad.errors import NbadValueError
from nbad.numpy import _elementwise as _ew
from nbad.numpy import _reductions as _red
from nbad.numpy._core import as_operand, convert, dtype_of, elementwise_call, promote_dtypes, shape_of
from nbad.numpy._shape import split
from nbad.rules import elementwise as ew_rules
from nbad.rules.shape import iota_p, reshape_p
from nbad.scipy.special import logsumexp

__all__ = [
    "relu", "relu6", "sigmoid", "softplus", "soft_sign", "silu", "swish", "gelu", "elu", "celu",
    "selu", "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_silu", "hard_swish", "log_sigmoid",
    "mish", "glu", "softmax", "log_softmax", "logsumexp", "one_hot", "standardize",
]


def _inexact(x):
    x = as_operand(x)
    dtype, _ = promote_dtypes(x, to_inexact=True)
    return convert(x, dtype)


# -- activations --------------------------------------------------------------
# relu, relu6 and softplus carry JAX's derivative rules: at a kink the derivative
# is that of the flat side (grad(relu)(0) = 0, not maximum's tie-splitting 0.5),
# and softplus's is the logistic function, which its stable formula's pieces
# (maximum and |x|) would give as 0 at x = 0.
@custom_jvp
def relu(x):
    return _ew.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return relu(x), _ew.where(_ew.greater(x, 0), t, 0)


@custom_jvp
def relu6(x):
    return _ew.minimum(_ew.maximum(x, 0), 6)


@relu6.defjvp
def _relu6_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    inside = _ew.logical_and(_ew.greater(x, 0), _ew.less(x, 6))
    return relu6(x), _ew.where(inside, t, 0)


def sigmoid(x):
    return elementwise_call(ew_rules.logistic_p, "sigmoid", x, to_inexact=True)


def softplus(x):
    """log(1 + exp(x)) = logaddexp(x, 0), finite for every finite x."""
    return _softplus(_inexact(x))


@custom_jvp
def _softplus(x):
    return _ew.add(_ew.maximum(x, 0), _ew.log1p(_ew.exp(_ew.negative(_ew.absolute(x)))))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), _ew.multiply(t, sigmoid(x))


def log_sigmoid(x):
    return _ew.negative(softplus(_ew.negative(_inexact(x))))


def soft_sign(x):
    x = _inexact(x)
    return _ew.divide(x, _ew.add(_ew.absolute(x), 1))


def silu(x):
    x = _inexact(x)
    return _ew.multiply(x, sigmoid(x))


swish = silu


def gelu(x, approximate=True):
    """approximate=True: the tanh approximation (jax.nn's default); False: exact erf."""
    x = _inexact(x)
    if approximate:
        inner = _ew.multiply(math.sqrt(2 / math.pi),
                             _ew.add(x, _ew.multiply(0.044715, _ew.multiply(x, _ew.multiply(x, x)))))
        return _ew.multiply(x, _ew.multiply(0.5, _ew.add(1, _ew.tanh(inner))))
    erf = elementwise_call(ew_rules.erf_p, "gelu", _ew.divide(x, math.sqrt(2)))
    return _ew.divide(_ew.multiply(x, _ew.add(erf, 1)), 2)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise (exp of the kept branch only)."""
    x = _inexact(x)
    positive = _ew.greater(x, 0)
    negative_part = _ew.multiply(alpha, _ew.expm1(_ew.where(positive, 0, x)))
    return _ew.where(positive, x, negative_part)


def celu(x, alpha=1.0):
    x = _inexact(x)
    return _ew.add(_ew.maximum(x, 0),
                   _ew.multiply(alpha, _ew.expm1(_ew.divide(_ew.minimum(x, 0), alpha))))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    return _ew.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def leaky_relu(x, negative_slope=0.01):
    x = _inexact(x)
    return _ew.where(_ew.greater_equal(x, 0), x, _ew.multiply(negative_slope, x))


def hard_tanh(x):
    x = _inexact(x)
    return _ew.where(_ew.greater(x, 1), 1, _ew.where(_ew.less(x, -1), -1, x))


def hard_sigmoid(x):
    return _ew.divide(relu6(_ew.add(_inexact(x), 3)), 6)


def hard_silu(x):
    x = _inexact(x)
    return _ew.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def mish(x):
    x = _inexact(x)
    return _ew.multiply(x, _ew.tanh(softplus(x)))


def glu(x, axis=-1):
    """a * sigmoid(b) for the two halves a, b of x along `axis`."""
    x = as_operand(x)
    size = shape_of(x)[axis]
    if size % 2:
        raise NbadValueError(f"glu: axis {axis} of shape {shape_of(x)} must have even size, "
                             f"got {size}")
    a, b = split(x, 2, axis=axis)
    return _ew.multiply(a, sigmoid(b))


# -- normalisation ------------------------------------------------------------
def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)): exact for large inputs; an all -inf
    slice gives NaN, as in JAX."""
    x = _inexact(x)
    unnormalized = _ew.exp(_ew.subtract(x, _red.max(x, axis=axis, keepdims=True)))
    return _ew.divide(unnormalized, _red.sum(unnormalized, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    x = _inexact(x)
    shifted = _ew.subtract(x, _red.max(x, axis=axis, keepdims=True))
    return _ew.subtract(shifted, _ew.log(_red.sum(_ew.exp(shifted), axis=axis, keepdims=True)))


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5):
    """(x - mean) / sqrt(variance + epsilon), statistics over `axis` by default."""
    x = _inexact(x)
    if mean is None:
        mean = _red.mean(x, axis=axis, keepdims=True)
    if variance is None:
        variance = _ew.subtract(_red.mean(_ew.multiply(x, x), axis=axis, keepdims=True),
                                _ew.multiply(mean, mean))
    return _ew.divide(_ew.subtract(x, mean), _ew.sqrt(_ew.add(variance, epsilon)))


def one_hot(x, num_classes, *, dtype=np.float64, axis=-1):
    """x[..., None] == arange(num_classes), with the class axis at `axis`.
    Values outside [0, num_classes) give all-zero rows, as in JAX."""
    x = as_operand(x)
    num_classes = int(num_classes)
    shape = shape_of(x)
    out_ndim = len(shape) + 1
    if not -out_ndim <= axis < out_ndim:
        raise NbadValueError(f"one_hot: axis {axis} is out of range for a result of rank "
                             f"{out_ndim} (input shape {shape})")
    axis %= out_ndim
    expanded = bind(reshape_p, x, new_sizes=shape[:axis] + (1,) + shape[axis:])
    classes_shape = tuple(num_classes if i == axis else 1 for i in range(out_ndim))
    classes = bind_nullary(iota_p, dtype=dtype_of(x), shape=classes_shape, dimension=axis)
    return convert(_ew.equal(expanded, classes), np.dtype(dtype))
